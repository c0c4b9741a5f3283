"""Two runs on one sentence, and a table of predictions for many sentences."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import resources
from dashboard.charts import playground as charts
from dashboard.escape import escape_markdown
from dashboard.messages import as_sentence
from dashboard.components.run_labels import shown_name
from dashboard.views.playground_sections.common import K, answer_or_explain
from dashboard.views.playground_sections.runs import pick_run
from sentiment_core.analysis.inference.predictor import InferenceError
from sentiment_core.analysis.inference.tables import rows_to_csv, texts_from_csv, texts_from_lines

BATCH_RESULT = K + "batch_result"  # session_state: the last table of predictions


def compare(runs: list, first, max_tokens: int, text: str) -> None:
    if len(runs) < 2:
        st.info("Comparing needs a second run with a saved model; train another one on the **Training runner** page.")
        return
    others = [r for r in runs if r.name != first.name]
    second = pick_run(others, "Compare with", K + "run_b")
    columns = st.columns(2)
    for column, run, tag in ((columns[0], first, "a"), (columns[1], second, "b")):
        with column:
            st.markdown(f"**{escape_markdown(shown_name(run))}**")
            answer = answer_or_explain(run, max_tokens, text)
            if answer is None:
                continue
            prediction = answer["prediction"]
            st.metric("Predicted label", prediction.label, f"{prediction.probabilities[prediction.index]:.1%} sure",
                      delta_color="off", delta_arrow="off")
            st.plotly_chart(charts.probability_bars(prediction.class_names, prediction.probabilities),
                            key=K + "compare_bars_" + tag)
            st.plotly_chart(charts.trajectory_chart(prediction.encoded.tokens, answer["trajectory"],
                                                    prediction.class_names), key=K + "compare_trajectory_" + tag)


def many_sentences(run, max_tokens: int, max_rows: int) -> None:
    source = st.radio("Sentences from", ("Paste lines", "Upload a CSV file"), horizontal=True, key=K + "batch_source")
    if source == "Paste lines":
        pasted = st.text_area("One sentence per line", key=K + "lines", height=150)
        uploaded = None
    else:
        pasted = None
        uploaded = st.file_uploader("CSV file with a 'text' column (and a header row)", type=["csv", "txt"],
                                    key=K + "csv")
    st.caption(f"At most {max_rows:,} rows (SENTIMENT_MAX_BATCH_ROWS); each at most {max_tokens:,} tokens.")
    # Never disabled: a text area commits its text when it loses focus, which a click on the
    # button causes, so a disabled button would swallow the first click after typing.
    if st.button("Predict all", key=K + "batch_go"):
        try:
            if source == "Paste lines":
                texts = texts_from_lines(pasted, max_rows)
            elif uploaded is None:
                raise InferenceError("there is no file yet: upload a CSV file with a 'text' column first")
            else:
                texts = texts_from_csv(uploaded.getvalue(), max_rows)
        except InferenceError as err:
            st.session_state.pop(BATCH_RESULT, None)
            st.error(as_sentence(err))
            return
        model = resources.predictor(run.path, max_tokens)
        bar = st.progress(0.0, text=f"Predicting {len(texts):,} sentences...")
        rows = model.predict_many(texts, progress=lambda done, total: bar.progress(
            done / max(total, 1), text=f"{done:,} of {total:,} sentences"))
        bar.empty()
        st.session_state[BATCH_RESULT] = {"run": shown_name(run), "rows": rows}
    result = st.session_state.get(BATCH_RESULT)
    if result:
        rows = result["rows"]
        skipped = sum(1 for r in rows if r["label"] is None)
        st.success(f"{len(rows) - skipped:,} sentences classified by run {escape_markdown(result['run'])}"
                   f"{f'; {skipped:,} could not be (see the note column)' if skipped else ''}.")
        st.dataframe(pd.DataFrame(rows), hide_index=True, key=K + "batch_table")
        st.download_button("Download as CSV", rows_to_csv(rows), file_name="predictions.csv", mime="text/csv",
                           key=K + "download", on_click="ignore")
