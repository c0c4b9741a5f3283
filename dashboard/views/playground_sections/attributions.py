"""Which words mattered: integrated gradients and gradient x input, in the attribution palette.

Purple pushes toward the explained class, orange away from it (dashboard.theme); the legend under
each sentence names that class, since it can be negative.
"""
from __future__ import annotations

import streamlit as st

from dashboard import resources
from dashboard.charts import playground as charts
from dashboard.messages import user_message
from dashboard.views.playground_sections.common import K, Sentence, chosen_class
from sentiment_core.analysis.inference import InferenceError


def which_words_mattered(sentence: Sentence) -> None:
    prediction = sentence.prediction
    options, steps_col = st.columns(2)
    with options:
        target = chosen_class(prediction, "Explain the class", K + "target", "Explaining")
    with steps_col:
        steps = integration_steps(sentence.max_ig_steps)
    gxi = sentence.answer["gradient_x_input"]
    if target != prediction.index:
        gxi = sentence.predictor.gradient_times_input(prediction.encoded, target)
    try:
        ig = resources.integrated_gradients(sentence.run.path, sentence.max_tokens, sentence.text, steps, target)
    except InferenceError as err:  # e.g. more steps than this server allows (a client past the slider)
        st.error(user_message(err))
        return
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


def integration_steps(cap: int) -> int:
    """The integration steps the visitor picks, at most `cap` (a cap of 1 leaves nothing to pick)."""
    if cap < 2:
        st.caption("Integration steps: 1 (this server's limit, SENTIMENT_MAX_IG_STEPS).")
        return 1
    return st.slider("Integration steps", min(4, cap - 1), cap, min(50, cap), step=1, key=K + "ig_steps",
                     help=f"Points on the path from the baseline to the sentence: more steps, a smaller "
                          f"completeness gap, and a longer wait. At most {cap:,} on this server "
                          "(SENTIMENT_MAX_IG_STEPS).")
