"""Walkthrough sections 1 and 10: why a sentence needs memory, and what to try next."""
from __future__ import annotations

import streamlit as st

from dashboard.messages import as_sentence
from dashboard.views.walkthrough_sections import PLAYGROUND, TRAINING, page_link
from dashboard.views.walkthrough_sections.tensors import NEGATION
from sentiment_core.analysis.lessons import basics as lessons
from sentiment_core.analysis.lessons.walk_sentence import LONGEST_SENTENCE
from sentiment_core.data.text import Tokenizer

ORDER_PAIR = ("the plot is not bad , the acting is good", "the plot is not good , the acting is bad")


def show_memory() -> None:
    st.markdown(
        "A review is a sequence: its words come in an order, and sentences differ in length. A plain "
        "feed-forward layer takes a fixed number of inputs and forgets each input as soon as it has "
        "answered. The usual trick to give it a sentence, averaging the word vectors, fixes the size but "
        "throws the order away, and order carries meaning: *not bad, good* is not *not good, bad*. "
        "A recurrent layer reads one word at a time and carries a **hidden state** from word to word, "
        "so what it has read so far colours how it reads the next word.")
    first_col, second_col = st.columns(2)
    st.session_state.setdefault("wt_order_a", ORDER_PAIR[0])
    st.session_state.setdefault("wt_order_b", ORDER_PAIR[1])
    first = first_col.text_input("First sentence", key="wt_order_a")
    second = second_col.text_input("Second sentence", key="wt_order_b")
    try:
        demo = lessons.order_demo(first, second, Tokenizer())
    except ValueError as err:
        st.error(f"{as_sentence(err)} Type a sentence in each box.")
    else:
        same, bag, state = st.columns(3)
        same.metric("same words, same counts?", "yes" if demo.same_bag else "no")
        bag.metric("distance between averaged word vectors", f"{demo.bag_distance:.4f}",
                   help="A model without memory sees this. With the same words it is exactly 0.")
        state.metric("distance between the RNN's final states", f"{demo.state_distance:.4f}",
                     help="A seeded, untrained RNNLayer read each sentence word by word.")
        st.caption("Both readers use the same seeded word vectors; neither is trained. The averaged vectors "
                   "cannot tell reordered sentences apart, the recurrent state can; training then decides "
                   "what the state should remember.")


def show_try_it() -> None:
    st.markdown(
        "1. **Watch a network learn.** The `quick` preset trains a small GRU on every labelled phrase for one "
        "epoch (the training page estimates how long from this server's own runs), and the dev accuracy climbs "
        "well above the majority-class line.")
    page_link(TRAINING, "Training: watch it learn (the quick preset)", {"preset": "quick"},
              icon=":material/model_training:")
    st.markdown(
        "2. **Then the tutorial's model, as the contrast.** The `seed` preset is the tutorial's vanilla RNN and "
        "settings: it reads padding as words and sees 800 sentences an epoch, so it stays near the majority "
        "line. Watch its loss and gradient-through-time probe, then swap the cell for an LSTM and compare the "
        "two runs in section 6: which one keeps a gradient for the early words?")
    page_link(TRAINING, "Training: the seed preset (the contrast)", {"preset": "seed"}, icon=":material/model_training:")
    page_link(TRAINING, "Training: the seed preset with an LSTM", {"preset": "seed", "cell": "lstm"},
              icon=":material/model_training:")
    st.markdown(f"3. **Test the negation.** Ask a trained model about *{NEGATION}* Every adjective in it is "
                "positive; the sentence is not. Watch how the prediction moves word by word.")
    page_link(PLAYGROUND, "Playground: the negation sentence", {"text": NEGATION}, icon=":material/chat:")
    st.markdown("4. **Break it on purpose.** In section 4, pick the longest sentence "
                f"(“{LONGEST_SENTENCE[:40]}…”, "
                f"{len(Tokenizer()(LONGEST_SENTENCE))} tokens), set r to 1.2 with the identity activation and find "
                "how many words back the gradient explodes; then switch to tanh and see saturation tame it. In section "
                "5, with r = 0.9: which k, the state detached every k words, keeps 99% of the gradient?")
