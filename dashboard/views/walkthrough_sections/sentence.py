"""The sentence sections 2 to 5 (and the gates and deep sections) read: a treebank sentence or the
visitor's own, its words looked up in the shipped default model's embedding table as x_1 .. x_T."""
from __future__ import annotations

import streamlit as st

from dashboard import resources
from dashboard.escape import escape_markdown
from dashboard.messages import as_sentence, user_message
from sentiment_core.analysis.lessons.walk_sentence import MAX_WALK_TOKENS, TREEBANK_SENTENCES, SentenceInputs, sentence_inputs
from sentiment_core.data.text import UNK, Tokenizer
from sentiment_core.pretrained import PLAYGROUND_MODEL, PRETRAINED_DIR
from sentiment_core.runs.store import RunError

PICK, TYPED, OWN = "wt_pick", "wt_typed", "type your own..."
MAX_TYPED_CHARS = 400  # a sentence for a slide, well inside settings.MAX_INPUT_CHARS


# Widgets whose values outlive their section (each takes its default from session_state.setdefault,
# never from a `value=` argument, so writing them back raises no warning).
KEPT = ("wt_pick", "wt_typed", "wt_h_dim", "wt_seed", "wt_radius", "wt_activation", "wt_matrix_kind",
        "wt_input_scale", "wt_bptt_seed", "wt_truncate", "wt_gate_cell", "wt_gate_units", "wt_deep_cell",
        "wt_deep_layers", "wt_deep_hidden", "wt_deep_bi", "wt_gate_weights", "wt_gate_unit", "wt_gate_part",
        "wt_gate_source")


def keep_widget_values() -> None:
    """Streamlit forgets a widget's value on a run that does not draw it, and a section per screen
    draws few of them: writing the shared ones back keeps them for when their section shows again."""
    for key in KEPT:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


def picker_label(choice: str) -> str:
    """A treebank sentence with its length in tokens (the long ones are what sections 4 and 5 need)."""
    return choice if choice == OWN else f"{choice} ({len(Tokenizer()(choice))} tokens)"


def pick_sentence(where) -> SentenceInputs | None:
    """The picker, drawn in `where` (a column beside the figures it drives); None after saying why not."""
    st.session_state.setdefault(PICK, TREEBANK_SENTENCES[0])
    choice = where.selectbox("Sentence (from the treebank, or your own)", [*TREEBANK_SENTENCES, OWN], key=PICK,
                             format_func=picker_label)
    text = choice
    if choice == OWN:
        st.session_state.setdefault(TYPED, "the plot is not bad , the acting is good")
        text = where.text_input("Your sentence", key=TYPED, max_chars=MAX_TYPED_CHARS)
    try:
        vocab, weight = resources.run_embedding(PRETRAINED_DIR / PLAYGROUND_MODEL)
    except (RunError, OSError) as err:
        where.error(f"The word vectors could not be read: {user_message(err)}")
        return None
    try:
        sentence = sentence_inputs(text, Tokenizer(), vocab, weight)
    except ValueError as err:
        where.error(as_sentence(err))
        return None
    notes = [f"x_t: the {weight.shape[1]} numbers the shipped default model learned for each word."]
    if sentence.unknown:
        notes.append(f"Read as `{UNK}`: {', '.join(escape_markdown(w) for w in sentence.unknown)}.")
    if sentence.cut:
        notes.append(f"Only the first {MAX_WALK_TOKENS} tokens are read ({sentence.cut} more were left out).")
    where.caption(" ".join(notes))
    return sentence
