"""How the model reads the sentence: the tokens it sees, its answer, and the prediction token by token."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.charts import playground as charts
from dashboard.escape import escape_markdown
from dashboard.messages import as_sentence
from dashboard.views.playground_sections.common import K, Sentence
from sentiment_core.analysis.inference.predictor import biggest_turn


def show_tokens(encoded) -> None:
    st.markdown(charts.tokens_html(encoded.tokens, encoded.unknown), unsafe_allow_html=True)
    unknown = encoded.unknown_words
    words = encoded.word_count
    if unknown:
        st.caption(f"{len(unknown)} of {words} tokens are not in the training vocabulary (highlighted): the model "
                   f"reads each as `<unk>`: {', '.join(escape_markdown(w) for w in unknown[:20])}"
                   f"{' ...' if len(unknown) > 20 else ''}.")
    else:
        st.caption(f"All {words} tokens are in the training vocabulary. `<sos>` and `<eos>` mark the start and end, "
                   "as in training.")
    with st.expander("Tokens, vocabulary indices and training counts"):
        st.dataframe(pd.DataFrame(encoded.rows()), hide_index=True, key=K + "tokens_table")


def show_answer(prediction) -> None:
    label_col, chart_col = st.columns([1, 2])
    label_col.metric("Predicted label", prediction.label, f"{prediction.probabilities[prediction.index]:.1%} sure",
                     delta_color="off", delta_arrow="off")
    if prediction.note:
        label_col.warning(as_sentence(prediction.note))
    chart_col.plotly_chart(charts.probability_bars(prediction.class_names, prediction.probabilities),
                           key=K + "probabilities")


def token_by_token(sentence: Sentence) -> None:
    prediction, trajectory = sentence.prediction, sentence.answer["trajectory"]
    tokens = prediction.encoded.tokens
    st.caption(sentence.predictor.trajectory_note() + " The last point is the answer above.")
    st.plotly_chart(charts.trajectory_chart(tokens, trajectory, prediction.class_names), key=K + "trajectory")
    turn = biggest_turn(trajectory, prediction.index)
    if turn is not None:
        position, before, after = turn
        st.markdown(f"The biggest move of **{prediction.label}**: after token {position} "
                    f"({escape_markdown(tokens[position])}) its probability went from {before:.1%} "
                    f"to {after:.1%}.")
