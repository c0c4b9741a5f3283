"""What the playground's sections share: widget keys, a run's name, a sentence's answer."""
from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from dashboard import resources
from dashboard.escape import escape_markdown
from dashboard.components.run_labels import shown_name
from dashboard.messages import as_sentence, user_message
from sentiment_core.analysis.inference.predictor import EmptyInput, InferenceError, InputTooLong
from sentiment_core.runs.store import RunError

K = "pg_"  # prefix of the playground's widget keys




def explain_failure(run, err: Exception) -> None:
    """Say on the page why a text got no answer (never a traceback or a server path)."""
    if isinstance(err, EmptyInput):
        st.info(as_sentence(err))
    elif isinstance(err, InputTooLong):
        st.error(f"This text is too long: {user_message(err)}.")
    elif isinstance(err, InferenceError):
        st.error(user_message(err))
    else:
        st.error(f"The model of run {escape_markdown(shown_name(run))} could not be loaded: {user_message(err)}")


def answer_or_explain(run, max_tokens: int, text: str) -> dict | None:
    """The run's answer for `text` (resources.sentence_answer), or None after the page has said why there is none."""
    try:
        return resources.sentence_answer(run.path, max_tokens, text)
    except (InferenceError, RunError, OSError) as err:
        explain_failure(run, err)
    return None


@dataclass(frozen=True)
class Sentence:
    """What a one-sentence section is given: the run, the caps, the text and its answer."""

    run: object
    max_tokens: int
    text: str
    answer: dict  # resources.sentence_answer: prediction, trajectory, gradient_x_input
    max_ig_steps: int  # integration steps allowed (SENTIMENT_MAX_IG_STEPS)

    @property
    def prediction(self):
        return self.answer["prediction"]

    @property
    def predictor(self):
        """The run's inference.Predictor (cached, shared, read-only)."""
        return resources.predictor(self.run.path, self.max_tokens)


def chosen_class(prediction, label: str, key: str, verb: str) -> int:
    """A class picked in a selectbox, the predicted one unless the visitor chose another; a caption
    "<verb> **negative** (the prediction)." names it from this rerun's prediction."""
    names = prediction.class_names
    # The option never names the predicted class: a widget's option labels can lag a rerun behind
    # the sentence, and a stale "(negative)" beside a positive answer misleads. The caption
    # names the class, from this rerun's prediction.
    choice = st.selectbox(label, range(-1, len(names)), key=key,
                          format_func=lambda i: "the predicted class" if i < 0 else names[i])
    target = prediction.index if choice < 0 else choice
    st.caption(f"{verb} **{escape_markdown(names[target])}**"
               f"{' (the prediction)' if target == prediction.index else ''}.")
    return target
