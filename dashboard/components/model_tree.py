"""A trained model on a treebank sentence's parse tree: the explorer's sentence tree and the playground.

`show_model_tree(run, split, index, key)` draws the tree with the treebank's label (fill) and the
model's (ring) on every phrase, the phrase-level agreement and the flips at negation and
contrast words. `pick_model_run` offers the playground's runs (the visitor's, then the shipped
default); `linked_sentence` reads `?split=test&index=123` (and `&run=NAME`) from the URL;
`treebank_sentence_tree` is the playground's "On the parse tree" section.
The work is in sentiment_core.analysis.exploration.tree_view and dashboard.charts.tree; this only arranges it.
"""
from __future__ import annotations

import streamlit as st

from dashboard import resources
from dashboard.charts.tree import model_tree_chart
from dashboard.escape import escape_markdown
from dashboard.messages import user_message
from dashboard.query_params import shown_value, whole_number
from dashboard.components.run_labels import run_label
from dashboard.views.playground_sections.runs import offered_runs
from sentiment_core.analysis.exploration import explore
from sentiment_core.analysis.inference import model_choice
from sentiment_core.analysis.inference.predictor import InferenceError, max_input_tokens
from sentiment_core.analysis.exploration.tree_view import flip_sentence, sentence_key
from sentiment_core.data.treebank import SPLITS, TreebankError
from sentiment_core.runs.store import RunError

QUERY_SPLIT, QUERY_INDEX, QUERY_RUN = "split", "index", "run"  # the explorer's URL: ?split=test&index=123&run=NAME
MAX_MATCHES = 500  # sentences offered in the picker; a search narrows them
# The chart is as wide as the sentence is long: its element keeps that width (Streamlit would
# shrink it to the column) and the frame around it scrolls sideways.
FRAME_CSS = ("<style>.st-key-{key} {{overflow-x: auto; overflow-y: hidden;}} "
             ".st-key-{key} .stElementContainer {{min-width: {width}px;}}</style>")




def pick_model_run(key: str, wanted: str | None = None):
    """A selectbox of the playground's runs (the visitor's newest first, then the shipped default), on the best one;
    `wanted` (a run name, e.g. from the URL) is chosen once per value. None, said why, when there is none."""
    try:
        runs = offered_runs(resources.runs_root())  # public mode: the visitor's own runs, then the shipped
    except (RunError, OSError) as err:
        st.error(f"The runs could not be listed: {user_message(err)}")
        return None
    if not runs:
        st.info("There is no trained model yet: train one on the **Training runner** page.")
        return None
    by_name = {run.name: run for run in runs}
    default = model_choice.default_run(runs).run.name  # the best by whole-split dev accuracy, as on the playground
    seen = key + "_seen"
    if wanted and st.session_state.get(seen) != wanted:
        st.session_state[seen] = wanted
        if wanted in by_name:
            st.session_state[key] = wanted
        else:
            st.warning(f"There is no run named {escape_markdown(shown_value(wanted))}; showing "
                       f"{escape_markdown(default)}.")
    if st.session_state.get(key) not in by_name:
        st.session_state[key] = default
    name = st.selectbox("Model", list(by_name), key=key, format_func=lambda n: run_label(by_name[n]),
                        help="Your trained runs (newest first), then the shipped default model; it opens on the "
                             "best by dev accuracy on the whole dev split.")
    return by_name[name]


def has_link() -> bool:
    """The URL names a sentence (?split=...&index=...): the explorer opens on its tree."""
    return QUERY_SPLIT in st.query_params or QUERY_INDEX in st.query_params


def forget_link() -> None:
    """Back from a linked sentence to the explorer's own picker (a button's callback)."""
    for name in (QUERY_SPLIT, QUERY_INDEX, QUERY_RUN):
        st.query_params.pop(name, None)


def linked_sentence(corpus) -> tuple[str, int] | None:
    """(split, index) from the URL's ?split=...&index=..., or None; a bad value is said, then ignored."""
    split, index = st.query_params.get(QUERY_SPLIT), st.query_params.get(QUERY_INDEX)
    if not has_link():
        return None
    count = len(corpus.sentences.get(split, ())) if split in SPLITS else 0
    number = whole_number(index, 0, count - 1)
    if split not in SPLITS or number is None:
        st.warning(f"The link names no treebank sentence (split {escape_markdown(shown_value(split))}, index "
                   f"{escape_markdown(shown_value(index))}): the split must be one of {', '.join(SPLITS)} and the "
                   f"index a sentence number{f' from 0 to {count - 1:,}' if count else ''}.")
        return None
    return split, number


def _agreement_line(tree) -> str:
    root, names = tree.nodes[0], tree.class_names
    if tree.agreement is None:
        return "No phrase of this sentence has a label under this run's classes."
    root_line = ""
    if root.gold is not None and root.predicted is not None:
        root_line = (f" The whole sentence: treebank **{names[root.gold]}**, model **{names[root.predicted]}** "
                     f"({root.probabilities[root.predicted]:.1%}).")
    return (f"**Phrase-level agreement: {tree.agreement:.1%}**: the model gives the treebank's label to "
            f"{tree.agreed} of {tree.labelled} labelled phrases.{root_line}")


def show_model_tree(run, split: str, index: int, key: str) -> None:
    """The model of `run` on every phrase of treebank sentence (split, index), with agreement and flips."""
    try:
        corpus = resources.corpus_for(resources.treebank_state())
        tree = resources.model_tree(run.path, max_input_tokens(), corpus, split, index)
        layout = resources.tree_layout(corpus, split, index)
    except (TreebankError, RunError, InferenceError, OSError, IndexError) as err:
        st.error(f"The model could not be run on this sentence: {user_message(err)}")
        return
    st.markdown(_agreement_line(tree))
    figure = model_tree_chart(layout, tree)
    st.html(FRAME_CSS.format(key=key + "_frame", width=int(figure.layout.width)))
    with st.container(key=key + "_frame"):
        st.plotly_chart(figure, width=figure.layout.width, key=key + "_chart", config={"displayModeBar": False})
    st.caption("Each node is a phrase of the parse tree, read by the model on its own. Fill: the treebank's "
               "label; ring: the model's answer; a larger ring: they disagree; a diamond: the label turns at "
               "a negation or contrast word. Hover a node for its phrase and probabilities; long sentences "
               "scroll sideways.")
    if not tree.flips:
        st.markdown("No label turns at a negation or contrast word in this sentence.")
        return
    caught = sum(flip.caught for flip in tree.flips)
    st.markdown(f"**Flips at negation and contrast words**: the model follows {caught} of {len(tree.flips)}.")
    st.markdown("\n".join(f"- {escape_markdown(flip_sentence(tree, flip))}" for flip in tree.flips))


def _matching_sentences(corpus, split: str, query: str, keep: int | None) -> list[int]:
    """Indices of the split's sentences holding every word of `query` (explore's word search): at most
    MAX_MATCHES, and `keep` (the sentence shown now) whenever it matches."""
    matches = explore.compile_search(query, "words")
    rows = resources.example_rows(corpus, 3, (split,))  # the 3-class scheme keeps every sentence
    found = [row.index for row in rows if matches is None or matches(row)]
    shown = found[:MAX_MATCHES]
    return shown + [keep] if keep in found[MAX_MATCHES:] else shown


def treebank_sentence_tree(run, text: str, key: str) -> None:
    """The playground's section: a treebank sentence (the typed one when it is in the treebank) on its tree."""
    try:
        corpus = resources.corpus_for(resources.treebank_state())
    except (TreebankError, OSError) as err:
        st.info(f"The parse trees need the treebank: {user_message(err)}")
        return
    split_key, index_key, typed = key + "_split", key + "_index", key + "_typed"
    found = resources.sentence_index(corpus).get(sentence_key(text))
    if st.session_state.get(typed) != text:  # a new typed text: the picker starts from it again
        st.session_state[typed] = text
        st.session_state[index_key] = found[1] if found is not None else None
        if found is not None:
            st.session_state[split_key] = found[0]
    if found is None:
        st.info("The sentence you typed is not a treebank sentence, so it has no treebank parse tree (the trees "
                "come with the treebank's own sentences, parsed and labelled by people). Pick a treebank sentence "
                "below to see this model on its tree.")
    split_col, search_col = st.columns([1, 2])
    split = split_col.radio("Split", SPLITS, horizontal=True, key=split_key)
    query = search_col.text_input("Find a sentence with these words", key=key + "_search", max_chars=200,
                                  placeholder="e.g. not funny")
    choices = _matching_sentences(corpus, split, query, st.session_state.get(index_key))
    if not choices:
        st.info("No sentence of this split holds all these words.")
        return
    if st.session_state.get(index_key) not in choices:
        st.session_state[index_key] = None  # nothing shown until a sentence is picked: never a silent stand-in
    sentences = corpus.sentences[split]
    position = st.selectbox(f"Sentence ({len(choices):,}{'+' if len(choices) >= MAX_MATCHES else ''} of "
                            f"{len(sentences):,})", choices, key=index_key, index=None,
                            placeholder="pick a treebank sentence",
                            format_func=lambda i: f"{i}: {sentences[i][2][:120]}")
    if position is None:
        return
    if found == (split, position):
        st.caption(f"The sentence you typed is {split} sentence {position:,} of the treebank.")
    else:
        st.caption(f"Showing {split} sentence {position:,} of the treebank, not the sentence you typed.")
    show_model_tree(run, split, position, key)
