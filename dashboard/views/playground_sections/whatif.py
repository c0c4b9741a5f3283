"""What if: each word removed (or read as <unk>, or replaced by a chosen word) in turn, and two
versions of a sentence side by side.

The numbers come from sentiment_core.analysis.inference.occlusion (the variants scored together, in batches); this
module only lays them out: a table sorted by effect, the effect coloured on the tokens
(attribution palette, the legend naming the class), and the two versions' answers with their
per-class difference.
"""
from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.charts import playground as charts
from dashboard.escape import escape_markdown
from dashboard.messages import user_message
from dashboard.views.playground_sections.common import K, Sentence, chosen_class, explain_failure
from sentiment_core.analysis.inference import occlusion
from sentiment_core.analysis.inference.predictor import InferenceError
from sentiment_core.data.text import EOS, SOS, UNK

EDITS = {"remove it": occlusion.REMOVE, f"read it as {UNK}": UNK, "replace it with a word": "word"}
VERSION_A, VERSION_B, VERSIONS_OF = K + "version_a", K + "version_b", K + "versions_of"


def what_if(sentence: Sentence) -> None:
    result = word_by_word(sentence)
    st.markdown("**Two versions side by side**")
    two_versions(sentence, result)


def chosen_replacement() -> str | None:
    """None (remove), "<unk>", or the word typed; a missing word reads as <unk>."""
    edit = st.radio("Take each word in turn and", list(EDITS), horizontal=True, key=K + "occlude_edit")
    if EDITS[edit] != "word":
        return EDITS[edit]
    word = st.text_input("Replacement word", key=K + "occlude_word", max_chars=occlusion.MAX_REPLACEMENT_CHARS,
                               placeholder="e.g. bad", help="One word; each word of the sentence is replaced by it.")
    return word.strip() or UNK


def word_by_word(sentence: Sentence):
    """The occlusion table and the coloured tokens; the occlusion.Occlusion (None after saying why there is none)."""
    edit_col, class_col = st.columns(2)
    with edit_col:
        replacement = chosen_replacement()
    try:
        result = occlusion.occlude(sentence.predictor, sentence.prediction.encoded, replacement)
    except InferenceError as err:
        st.error(user_message(err))
        return None
    with class_col:
        target = chosen_class(sentence.prediction, "Effect on the class", K + "occlude_class", "Colouring by")
    names = result.class_names
    top = result.by_effect(target)[0]
    st.markdown(f"{edit_phrase(top.word, None if replacement is None else result.replacement)} moves "
                f"p({escape_markdown(names[target])}) most: "
                f"{result.probabilities[target]:.1%} to {top.probabilities[target]:.1%} "
                f"({100 * top.changes[target]:+.1f} pts); the model then says **{names[top.index]}**.")
    effects = [100 * e for e in result.token_effects(target)]
    st.markdown(charts.attribution_html(result.tokens, effects, names[target], hover="{score:+.1f} pts"),
                unsafe_allow_html=True)
    st.caption(f"A word's colour: how much p({escape_markdown(names[target])}) falls when the word is "
               f"{'removed' if replacement is None else 'replaced'} (purple: the word held it up).")
    columns = {f"change in {name}": st.column_config.NumberColumn(format="%+.1f pts") for name in names}
    with st.container(key=K + "occlusion"):  # a keyed frame the browser tests find the table in
        st.dataframe(pd.DataFrame(result.rows(target)), hide_index=True, column_config=columns,
                     key=K + "occlusion_table")
    return result


def edit_phrase(word: str, replacement: str | None) -> str:
    """'Removing **not**' or 'Replacing **not** with **great**': the word first, then what it became."""
    if replacement is None:
        return f"Removing **{escape_markdown(word)}**"
    return f"Replacing **{escape_markdown(word)}** with **{escape_markdown(replacement)}**"


def default_second_version(result) -> str:
    """The sentence without the word whose removal moves the prediction most (a first edit to try)."""
    if result is None or not result.variants:
        return ""
    drop = result.by_effect()[0].position
    return " ".join(t for i, t in enumerate(result.tokens) if i != drop and t not in (SOS, EOS))


def two_versions(sentence: Sentence, result) -> None:
    shown = (sentence.run.name, sentence.text)
    if st.session_state.get(VERSIONS_OF) != shown:  # a new sentence or model: start from it again
        st.session_state[VERSIONS_OF] = shown
        st.session_state[VERSION_A] = sentence.text
        st.session_state[VERSION_B] = default_second_version(result)
    predictor, limit = sentence.predictor, sentence.predictor.max_chars
    predictions = []
    for column, key, name in zip(st.columns(2), (VERSION_A, VERSION_B), ("First", "Second")):
        with column:
            text = st.text_area(f"{name} version", key=key, height=80, max_chars=limit,
                                help="Edit a word or two (e.g. 'good' and 'not good') and compare the answers.")
            try:
                prediction = predictor.predict(text)
            except InferenceError as err:
                explain_failure(sentence.run, err)
                predictions.append(None)
                continue
            predictions.append(prediction)
            st.metric(f"{name} version says", prediction.label,
                      f"{prediction.probabilities[prediction.index]:.1%} sure", delta_color="off", delta_arrow="off")
            st.plotly_chart(charts.probability_bars(prediction.class_names, prediction.probabilities),
                            key=f"{key}_bars")
    if None not in predictions:
        difference(*predictions)


def difference(first, second) -> None:
    changes = occlusion.compare_versions(first, second)
    biggest = max(range(len(changes)), key=lambda c: abs(changes[c]))
    st.plotly_chart(charts.change_bars(first.class_names, changes, "Second version minus first, per class"),
                    key=K + "version_changes")
    st.caption(f"The biggest change: p({first.class_names[biggest]}) {100 * changes[biggest]:+.1f} pts "
               f"({first.probabilities[biggest]:.1%} to {second.probabilities[biggest]:.1%}).")
