"""Playground: type a sentence and watch a trained model read it, token by token.

The page only arranges what sentiment_core.analysis computes (through the cached functions in
dashboard.resources); its sections live in dashboard/views/playground_sections: the tokens the
model sees and its answer, then one tab each for the prediction after each prefix, which words
mattered (integrated gradients, gradient x input), what if a word were removed or replaced
(occlusion, two versions side by side), and the hidden units and gates over time; two runs side
by side, and a table of predictions for many sentences.
With no trained run of the visitor's own, the shipped default model (sentiment_core.pretrained,
read-only) answers, and one button trains a quick model in the background.
"""
from __future__ import annotations

import streamlit as st

from dashboard import resources
from dashboard.components.model_tree import treebank_sentence_tree
from dashboard.messages import shown_path, user_message
from dashboard.views.playground_sections import attributions, inside, reading, whatif
from dashboard.views.playground_sections.common import K, Sentence, answer_or_explain
from dashboard.views.playground_sections.many import compare, many_sentences
from dashboard.views.playground_sections.runs import (load_predictor, offered_runs, pick_answering_run,
                                                     quick_model_section, shipped_caption)
from sentiment_core.analysis.inference.predictor import (EXAMPLE_SENTENCES, InferenceError, max_batch_rows, max_ig_steps,
                                               max_input_tokens)
from sentiment_core.pretrained import is_shipped
from sentiment_core.runs.store import RunError

TEXT, EXAMPLE, QUERY_SEEN = K + "text", K + "example", K + "query_seen"
PICK = "(pick an example)"
MODES = ("One sentence", "Compare two runs", "Many sentences")

# The one-sentence view's tabs, in order: (title, section drawing it from a common.Sentence).
# One more section (e.g. the parse tree of a treebank sentence) is one more line here. Only the
# open tab's section runs: the others (integrated gradients, what-if variants, the gates) cost
# seconds and hundreds of MB each on a long sentence (issue 19, M3).
SECTIONS = (
    ("Token by token", reading.token_by_token),
    ("Which words mattered", attributions.which_words_mattered),
    ("What if", whatif.what_if),
    ("Inside the network", inside.inside_the_network),
)


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
    return st.text_area("Sentence", key=TEXT, height=80,
                        help=f"Any text; at most {max_tokens:,} tokens (SENTIMENT_MAX_INPUT_TOKENS).")


def one_sentence(run, max_tokens: int, max_steps: int, text: str) -> None:
    answer = answer_or_explain(run, max_tokens, text)
    if answer is None:
        return
    sentence = Sentence(run, max_tokens, text, answer, max_steps)
    st.subheader("What the model sees")
    reading.show_tokens(sentence.prediction.encoded)
    st.subheader("The answer")
    reading.show_answer(sentence.prediction)
    tabs = st.tabs([title for title, _ in SECTIONS], key=K + "section", on_change="rerun")  # lazy: see SECTIONS
    for tab, (_, section) in zip(tabs, SECTIONS):
        if tab.open:
            with tab:
                section(sentence)


# ---------------------------------------------------------------------------------------------
# The page

st.title("Playground")
st.markdown("Type a sentence and see how a trained network reads it: the tokens it sees, its answer, how the "
            "answer changes word by word, which words pushed it, what happens when you take a word out, and "
            "what happens inside the cell.")
try:
    max_tokens, max_rows, max_steps = max_input_tokens(), max_batch_rows(), max_ig_steps()
except InferenceError as err:
    st.error(f"This server's playground limits are misconfigured: {user_message(err)}")
    st.stop()
root = resources.runs_root()
try:
    runs = offered_runs(root)  # public mode: the visitor's own runs (everyone's in class mode), then the shipped
except (RunError, OSError) as err:
    st.error(f"The runs folder {shown_path(root)} could not be read: {user_message(err)}")
    st.stop()
if all(is_shipped(r) for r in runs):
    quick_model_section(root, has_default=bool(runs))
    if not runs:
        st.stop()

run = pick_answering_run(runs, "Model", K + "run")
if is_shipped(run):
    shipped_caption(run)
st.page_link("views/analysis.py", label="Where this model goes wrong: Model analysis", icon=":material/troubleshoot:",
             query_params={"run": run.name})  # every link to another page carries the run it is about
if load_predictor(run, max_tokens) is None:
    st.stop()
mode = st.radio("View", MODES, horizontal=True, key=K + "mode", label_visibility="collapsed")
if mode == MODES[2]:
    many_sentences(run, max_tokens, max_rows)
else:
    text = sentence_input(max_tokens)
    if mode == MODES[0]:
        one_sentence(run, max_tokens, max_steps, text)
        tree_section = st.expander("On the parse tree: a treebank sentence, phrase by phrase", key=K + "tree_open",
                                   on_change="rerun")  # lazy: the body runs only while it is open
        if tree_section.open:
            with tree_section:
                treebank_sentence_tree(run, text, key=K + "tree")
    else:
        compare(runs, run, max_tokens, text)
