"""Playground: type a sentence and watch a trained model read it, token by token.

The page only arranges what sentiment_core.analysis.inference computes (through the cached functions
in dashboard.resources): the tokens the model sees, its answer, the prediction after each
prefix, which words mattered (gradient x input, integrated gradients), the hidden state and
gates over time, two runs side by side, and a table of predictions for many sentences.
With no trained run of the visitor's own, the shipped default model (sentiment_core.pretrained,
read-only) answers, and one button trains a quick model in the background.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from dashboard import resources
from dashboard.charts import playground as charts
from dashboard.components.model_tree import treebank_sentence_tree
from dashboard.components.run_watcher import watch_runs
from dashboard.escape import escape_markdown
from dashboard.messages import as_sentence, shown_path, user_message
from sentiment_core.analysis import run_progress
from sentiment_core.training import jobs
from sentiment_core.analysis.inference import (EXAMPLE_SENTENCES, QUICK_PRESET, EmptyInput, InferenceError, InputTooLong,
                                               biggest_turn, max_batch_rows, max_input_tokens, quick_run_config,
                                               playground_runs)
from sentiment_core.pretrained import is_shipped, shipped_label
from sentiment_core.analysis.tables import rows_to_csv, texts_from_csv, texts_from_lines
from sentiment_core.training.limits import LimitExceeded, LimitsError, limits_from_env
from sentiment_core.training.store import RunError

K = "pg_"                      # prefix of this page's widget keys
TEXT, EXAMPLE, QUERY_SEEN = K + "text", K + "example", K + "query_seen"
BATCH_RESULT = K + "batch_result"  # session_state: the last table of predictions
PICK = "(pick an example)"
MODES = ("One sentence", "Compare two runs", "Many sentences")


# ---------------------------------------------------------------------------------------------
# No model yet: a quick one


def quick_model_section(root: Path, has_default: bool) -> None:
    default = ", so the answers below come from the shipped default model (read-only)" if has_default else ""
    st.info(f"You have no trained model yet{default}. Train a small one of your own here (a GRU over the training "
            "sentences, 2 epochs, about a minute on this machine), or a bigger one on the **Training runner** page.")
    try:
        limits = limits_from_env()
        views = jobs.list_jobs(root)
    except (LimitsError, RunError, OSError) as err:
        st.error(f"Training cannot start here: {user_message(err)}")
        return
    active = [v for v in views if v.active]
    if active:
        training_progress(root, active[0].name, limits)
        return
    failed = next((v for v in views if v.status.get("preset") == QUICK_PRESET and v.state == "failed"), None)
    if failed is not None:
        st.error(f"The last quick model ({escape_markdown(failed.name)}) failed: {user_message(failed.message)}")
    treebank = resources.treebank_state()
    if treebank.folder is None:
        st.warning("Training needs the Stanford Sentiment Treebank. Open **Home** (first in the menu) to install it.")
        return
    if st.button("Train a quick model", type="primary", key=K + "quick"):
        try:
            jobs.start_run(quick_run_config(), root=root, limits=limits, data_dir=treebank.folder)
        except (LimitExceeded, RunError, ValueError, OSError) as err:
            st.error(f"The quick model could not be started: {user_message(err)}")
            return
        st.rerun()


def training_progress(root: Path, name: str, limits) -> None:
    """A progress bar that follows the run's metrics; the page reloads when the run ends."""

    def draw(views: list[jobs.JobView]) -> None:
        view = next((v for v in views if v.name == name), None)
        if view is None or not view.active:
            st.rerun(scope="app")  # it ended before the watcher started
        progress = run_progress.progress(resources.run_metrics(view.path))
        if progress is None:
            st.progress(0.0, text=f"Run **{escape_markdown(name)}**: {user_message(view.message or view.state)}")
        else:
            st.progress(progress.fraction, text=f"Run **{escape_markdown(name)}**: epoch {progress.epoch} of "
                                                f"{progress.epochs}, "
                                                f"batch {progress.batch} of {progress.batches}")
        st.caption("The playground opens when the run has finished; you may leave this page meanwhile.")

    watch_runs(root, limits, draw, follows=lambda views: any(v.name == name and v.active for v in views))


# ---------------------------------------------------------------------------------------------
# Choosing a run


def shown_name(run) -> str:
    return shipped_label(run) if is_shipped(run) else run.name


def run_label(run) -> str:
    config, status = run.config, run.status
    accuracy = status.get("best_dev_accuracy")
    shown = f"dev {accuracy:.1%}" if isinstance(accuracy, float) else "not evaluated"
    direction = " bidirectional" if config.model.bidirectional else ""
    return (f"{shown_name(run)} · {config.model.cell}{direction} · {config.data.labels} classes · {shown}"
            f"{' · stopped' if run.state == 'stopped' else ''}")


def pick_run(runs: list, label: str, key: str, default: int = 0):
    names = [r.name for r in runs]
    by_name = {r.name: r for r in runs}
    if st.session_state.get(key) not in names:
        st.session_state[key] = names[min(default, len(names) - 1)]
    chosen = st.selectbox(label, names, key=key, format_func=lambda n: run_label(by_name[n]))
    return by_name[chosen]


def shipped_caption(run) -> None:
    results = run.status.get("results") or {}
    figures = " and ".join(f"{results[s]['accuracy']:.1%} on {s}" for s in ("dev", "test") if s in results)
    st.caption(f"The default model shipped with the app{f' ({figures} sentences)' if figures else ''}, rebuilt "
               "with `python -m sentiment_core pretrained --build`. It is read-only: train your own on the "
               "**Training runner** page.")


def load_predictor(run, max_tokens: int):
    try:
        return resources.predictor(run.path, max_tokens)
    except (RunError, OSError) as err:
        st.error(f"The model of run {escape_markdown(shown_name(run))} could not be loaded: {user_message(err)}")
        return None


# ---------------------------------------------------------------------------------------------
# The sentence


def take_query_text() -> None:
    """The `text` query parameter (the walkthrough links here with it) fills the box once per value."""
    query = st.query_params.get("text")
    if query is not None and st.session_state.get(QUERY_SEEN) != query:
        st.session_state[TEXT] = query
        st.session_state[QUERY_SEEN] = query
    st.session_state.setdefault(TEXT, EXAMPLE_SENTENCES[0])


def use_example() -> None:
    choice = st.session_state.get(EXAMPLE)
    if choice and choice != PICK:
        st.session_state[TEXT] = choice
        st.session_state[EXAMPLE] = PICK  # so the same example can be picked again after an edit


def sentence_input(max_tokens: int) -> str:
    take_query_text()
    st.selectbox("Examples", (PICK, *EXAMPLE_SENTENCES), key=EXAMPLE, on_change=use_example,
                 help="Negations, contrasts and plain cases; picking one puts it in the box below.")
    text = st.text_area("Sentence", key=TEXT, height=80,
                        help=f"Any text; at most {max_tokens:,} tokens (SENTIMENT_MAX_INPUT_TOKENS).")
    return text


# ---------------------------------------------------------------------------------------------
# One sentence


def answer_or_explain(run, max_tokens: int, text: str) -> dict | None:
    """The run's answer for `text`, or None after the page has said why there is none."""
    try:
        return resources.sentence_answer(run.path, max_tokens, text)
    except EmptyInput as err:
        st.info(as_sentence(err))
    except InputTooLong as err:
        st.error(f"This text is too long: {user_message(err)}.")
    except InferenceError as err:
        st.error(user_message(err))
    except (RunError, OSError) as err:
        st.error(f"The model of run {escape_markdown(shown_name(run))} could not be loaded: {user_message(err)}")
    return None


def one_sentence(run, max_tokens: int, text: str) -> None:
    answer = answer_or_explain(run, max_tokens, text)
    if answer is None:
        return
    prediction, trajectory = answer["prediction"], answer["trajectory"]
    encoded = prediction.encoded

    st.subheader("What the model sees")
    show_tokens(encoded)

    st.subheader("The answer")
    label_col, chart_col = st.columns([1, 2])
    label_col.metric("Predicted label", prediction.label, f"{prediction.probabilities[prediction.index]:.1%} sure",
                     delta_color="off", delta_arrow="off")
    if prediction.note:
        label_col.warning(as_sentence(prediction.note))
    chart_col.plotly_chart(charts.probability_bars(prediction.class_names, prediction.probabilities),
                           key=K + "probabilities")

    st.subheader("Token by token")
    model = resources.predictor(run.path, max_tokens)
    st.caption(model.trajectory_note() + " The last point is the answer above.")
    st.plotly_chart(charts.trajectory_chart(encoded.tokens, trajectory, prediction.class_names), key=K + "trajectory")
    turn = biggest_turn(trajectory, prediction.index)
    if turn is not None:
        position, before, after = turn
        st.markdown(f"The biggest move of **{prediction.label}**: after token {position} "
                    f"({escape_markdown(encoded.tokens[position])}) its probability went from {before:.1%} "
                    f"to {after:.1%}.")

    st.subheader("Which words mattered")
    attributions(run, max_tokens, text, prediction, answer["gradient_x_input"])

    st.subheader("Inside the network")
    inside_view(run, max_tokens, text, model.cell)


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


def attributions(run, max_tokens: int, text: str, prediction, gxi) -> None:
    names = prediction.class_names
    options, steps_col = st.columns(2)
    # The option never names the predicted class: a widget's option labels can lag a rerun behind
    # the sentence, and a stale "(negative)" beside a positive answer misleads. The line below
    # names the class being explained, from this rerun's prediction.
    choice = options.selectbox("Explain the class", range(-1, len(names)), key=K + "target",
                               format_func=lambda i: "the predicted class" if i < 0 else names[i])
    target = prediction.index if choice < 0 else choice
    options.caption(f"Explaining **{escape_markdown(names[target])}**"
                    f"{' (the prediction)' if target == prediction.index else ''}.")
    steps = steps_col.slider("Integration steps", 4, 300, 50, step=1, key=K + "ig_steps",
                             help="Points on the path from the baseline to the sentence, all in one batch; "
                                  "more steps, a smaller completeness gap.")
    if target != prediction.index:
        gxi = resources.predictor(run.path, max_tokens).gradient_times_input(prediction.encoded, target)
    ig = resources.integrated_gradients(run.path, max_tokens, text, steps, target)
    ig_col, gxi_col = st.columns(2)
    with ig_col:
        st.markdown("**Integrated gradients** (baseline: every word replaced by `<pad>`)")
        st.markdown(charts.attribution_html(ig.tokens, ig.scores, ig.target_name), unsafe_allow_html=True)
        gap_share = ig.completeness_gap / abs(ig.expected_total) if ig.expected_total else float("nan")
        st.caption(f"Completeness: the scores sum to {ig.total:+.4f}; p({ig.target_name}) moved "
                   f"{ig.expected_total:+.4f} from the baseline ({ig.baseline_probability:.1%}) to the sentence "
                   f"({ig.probability:.1%}). Gap {ig.completeness_gap:.4f}"
                   f"{f' ({gap_share:.1%})' if gap_share == gap_share else ''} with {ig.steps} steps.")
    with gxi_col:
        st.markdown("**Gradient x input** (one backward pass)")
        st.markdown(charts.attribution_html(gxi.tokens, gxi.scores, gxi.target_name), unsafe_allow_html=True)
        st.caption("The first-order change of the probability if each word vector shrank to zero; "
                   "it does not sum to anything in particular.")


def inside_view(run, max_tokens: int, text: str, cell: str) -> None:
    inside = resources.inside(run.path, max_tokens, text)
    if inside.note:
        st.caption(inside.note)
    ordered = st.checkbox("Order the units by their value at the end of the sentence", value=True,
                          key=K + "order_units", help="Otherwise by unit number; the gates below follow the same order.")
    order = charts.order_by_last_value(inside.states) if ordered else None
    st.plotly_chart(charts.units_by_tokens_heatmap(inside.tokens, inside.states, "Hidden state h_t (units by tokens)",
                                                   zmin=-1, zmax=1, order=order),
                    key=K + "states")
    if inside.gates:
        gate = st.radio("Gate", list(inside.gates), horizontal=True, key=K + "gate")
        squashed = {"cell", "new"}  # tanh: -1..1; the other gates are sigmoids: 0..1
        low = -1.0 if gate in squashed else 0.0
        st.plotly_chart(charts.units_by_tokens_heatmap(inside.tokens, inside.gates[gate],
                                                       f"{cell.upper()} {gate} gate (units by tokens)", zmin=low,
                                                       zmax=1.0, colorscale="Viridis", reverse=False, order=order),
                        key=K + "gates")
    else:
        st.caption(f"A {cell} cell has no gates: its state is tanh(W_xh x_t + W_hh h_(t-1) + b).")


# ---------------------------------------------------------------------------------------------
# Two runs


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


# ---------------------------------------------------------------------------------------------
# Many sentences


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


# ---------------------------------------------------------------------------------------------
# The page

st.title("Playground")
st.markdown("Type a sentence and see how a trained network reads it: the tokens it sees, its answer, how the "
            "answer changes word by word, which words pushed it, and what happens inside the cell.")
try:
    max_tokens, max_rows = max_input_tokens(), max_batch_rows()
except InferenceError as err:
    st.error(f"This server's playground limits are misconfigured: {user_message(err)}")
    st.stop()
root = resources.runs_root()
try:
    runs = playground_runs(root)
except (RunError, OSError) as err:
    st.error(f"The runs folder {shown_path(root)} could not be read: {user_message(err)}")
    st.stop()
if all(is_shipped(r) for r in runs):
    quick_model_section(root, has_default=bool(runs))
    if not runs:
        st.stop()

run = pick_run(runs, "Model (your trained runs, newest first, then the shipped default)", K + "run")
if is_shipped(run):
    shipped_caption(run)
if load_predictor(run, max_tokens) is None:
    st.stop()
mode = st.radio("View", MODES, horizontal=True, key=K + "mode", label_visibility="collapsed")
if mode == MODES[2]:
    many_sentences(run, max_tokens, max_rows)
else:
    text = sentence_input(max_tokens)
    if mode == MODES[0]:
        one_sentence(run, max_tokens, text)
        tree_section = st.expander("On the parse tree: a treebank sentence, phrase by phrase", key=K + "tree_open",
                                   on_change="rerun")  # lazy: the body runs only while it is open
        if tree_section.open:
            with tree_section:
                treebank_sentence_tree(run, text, key=K + "tree")
    else:
        compare(runs, run, max_tokens, text)
