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
from dashboard.escape import escape_markdown
from sentiment_core.analysis.inference import attributions
from sentiment_core.analysis.inference.predictor import InferenceError
from sentiment_core.glossary import GRADIENT_X_INPUT as GXI, INTEGRATED_GRADIENTS as IG

MAX_LISTED = 4  # words named in the disagreement note


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
        st.markdown(f"**{IG.capitalize()}** (baseline: every word replaced by `<pad>`)")
        st.markdown(charts.attribution_html(ig.tokens, ig.scores, ig.target_name), unsafe_allow_html=True)
        st.caption(completeness_line(ig))
    with gxi_col:
        st.markdown(f"**{GXI.capitalize()}** (one backward pass)")
        st.markdown(charts.attribution_html(gxi.tokens, gxi.scores, gxi.target_name), unsafe_allow_html=True)
        st.caption("The first-order change of the probability if each word vector shrank to zero: a local "
                   "slope at the sentence; it does not sum to anything in particular.")
    disagreement_note(ig, gxi)


def completeness_line(ig) -> str:
    """Completeness, with the gap as sum of the scores minus the output difference (its sign kept)."""
    gap = ig.signed_gap
    share = f" ({abs(gap) / abs(ig.expected_total):.1%} of it)" if ig.expected_total else ""
    return (f"Completeness: the scores sum to {ig.total:+.4f}; p({escape_markdown(ig.target_name)}) moved "
            f"{ig.expected_total:+.4f} from the baseline ({ig.baseline_probability:.1%}) to the sentence "
            f"({ig.probability:.1%}). Gap (sum minus that move): {gap:+.4f}{share} with {ig.steps} steps.")


def disagreement_note(ig, gxi) -> None:
    """Where the two methods push a word opposite ways: say so, and which to trust for what."""
    found = attributions.sign_disagreements(ig, gxi)
    if not found:
        st.caption(f"The two methods agree on the direction of every word that matters (each at least "
                   f"{attributions.MIN_SHARE:.0%} of its method's largest score).")
        return
    target = escape_markdown(ig.target_name)
    words = "; ".join(f"**{escape_markdown(d.token)}** ({IG} {d.integrated:+.4f}, {GXI} {d.gradient:+.4f})"
                      for d in found[:MAX_LISTED])
    more = f" and {len(found) - MAX_LISTED} more" if len(found) > MAX_LISTED else ""
    st.warning(
        f"The two methods disagree in sign on {len(found)} word{'s' if len(found) != 1 else ''}: {words}{more}. "
        f"For how much a word contributed to this answer, trust **{IG}**: its scores add up to the change in "
        f"p({target}) from the all-`<pad>` baseline to the sentence (completeness; gap "
        f"{ig.signed_gap:+.4f} here). **{GXI.capitalize()}** is a local slope at the sentence itself: it says which "
        f"way a small change to that word's vector would move p({target}), which can point the other way once "
        "the model is saturated or the word's effect depends on the words around it.",
        icon=":material/compare_arrows:")


def integration_steps(cap: int) -> int:
    """The integration steps the visitor picks, at most `cap` (a cap of 1 leaves nothing to pick)."""
    if cap < 2:
        st.caption("Integration steps: 1 (this server's limit, SENTIMENT_MAX_IG_STEPS).")
        return 1
    return st.slider("Integration steps", min(4, cap - 1), cap, min(50, cap), step=1, key=K + "ig_steps",
                     help=f"Points on the path from the baseline to the sentence: more steps, a smaller "
                          f"completeness gap, and a longer wait. At most {cap:,} on this server "
                          "(SENTIMENT_MAX_IG_STEPS).")
