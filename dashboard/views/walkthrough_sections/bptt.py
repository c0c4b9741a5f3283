"""Walkthrough sections 4 and 5: backpropagation through time over a sentence's words, and its
truncation. The gradient is carried back from the loss (after the last word) through a random
recurrence whose inputs are the sentence's word vectors; the chart reads left to right."""
from __future__ import annotations

import streamlit as st

from dashboard.theme import presented
from dashboard.charts.gradient_flow import flow_chart
from dashboard.escape import escape_markdown
from dashboard.theme import PUBLISHED_COLOUR
from dashboard.views.walkthrough_sections.frame import sentence_frame
from sentiment_core.analysis.lessons import gradient_flow, basics as lessons
from sentiment_core.analysis.lessons.walk_sentence import token_labels

BPTT_HIDDEN = 64   # hidden size of the random recurrence
DEFAULTS = {"wt_radius": 1.0, "wt_activation": "tanh", "wt_matrix_kind": "orthogonal", "wt_input_scale": 1.0,
            "wt_bptt_seed": 0}


def settings() -> dict:
    for key, value in DEFAULTS.items():
        st.session_state.setdefault(key, value)
    return {key: st.session_state[key] for key in DEFAULTS}


def flow_controls(where) -> None:
    settings()
    where.slider("spectral radius r of W_hh", 0.5, 1.5, step=0.05, key="wt_radius")
    where.radio("activation φ_h", list(gradient_flow.ACTIVATIONS), horizontal=True, key="wt_activation")
    where.radio("W_hh", gradient_flow.MATRIX_KINDS, horizontal=True, key="wt_matrix_kind",
                format_func={"orthogonal": "r × orthogonal", "gaussian": "Gaussian, scaled to r"}.get,
                help="r × an orthogonal matrix is normal: with the identity activation the norm is exactly r^k. "
                     "A Gaussian matrix is not normal: its powers can grow for a while before r takes over.")
    where.slider("input size (std of W_xh x_t)", 0.0, 3.0, step=0.1, key="wt_input_scale",
                 help="Larger inputs push tanh into saturation, where its derivative is near 0.")
    where.number_input("seed", 0, 10_000, key="wt_bptt_seed")


def norms_back(sentence) -> tuple[list[float], object]:
    """Gradient norms k = 0 .. T-1 steps back from the last word, and the W_hh they came from."""
    s = settings()
    w_rec = gradient_flow.recurrent_matrix(BPTT_HIDDEN, s["wt_radius"], s["wt_matrix_kind"], seed=s["wt_bptt_seed"])
    sequence = gradient_flow.sentence_sequence(sentence.x, BPTT_HIDDEN, seed=s["wt_bptt_seed"],
                                               input_scale=s["wt_input_scale"])
    return gradient_flow.gradient_norms_through_time(w_rec, s["wt_activation"], sequence), w_rec


def chart(sentence, norms: list[float], every: int | None = None):
    """The gradient at each word; with `every`, truncated BPTT that detaches the state every `every` words."""
    s = settings()
    radius, activation = s["wt_radius"], s["wt_activation"]
    reference = {"name": f"r^k = {radius:g}^k (k steps back)", "colour": PUBLISHED_COLOUR, "dash": "dot",
                 "width": 1, "norms": gradient_flow.by_position([radius ** k for k in range(len(norms))])}
    whole = {"name": activation, "norms": gradient_flow.by_position(norms), "colour": PUBLISHED_COLOUR, "width": 3}
    lines = [reference, whole]
    cut_before, detached = None, []
    if every is not None and every < len(norms):
        kept_back = gradient_flow.kept_steps_back(len(norms), every)
        detached = gradient_flow.detach_points(len(norms), every)
        whole.update(name=f"{activation}: without truncation", opacity=0.35, width=2)
        kept = gradient_flow.by_position(gradient_flow.detached_norms(norms, every))
        lines.append({"name": f"{activation}: detached every {every} words", "norms": kept,
                      "colour": PUBLISHED_COLOUR, "width": 3})
        cut_before = len(norms) - kept_back
    return flow_chart(lines, "How much of the loss's gradient reaches each word", token_labels(sentence.tokens),
                      gradient_flow.VANISHING_BELOW, gradient_flow.EXPLODING_ABOVE, cut_before,
                      y_title="||dL/dh_t||  (1 at the last word)", height=440, detached_after=detached)


def show_bptt() -> None:
    st.markdown(
        "Training differentiates the loss through the unrolled chain: **backpropagation through time** (BPTT). "
        "The loss, read after the last word, reaches word *t* only through every state after it, so its "
        "gradient there is a product of one Jacobian per step:")
    st.latex(r"\frac{\partial L}{\partial h_t} = \Big(\prod_{s=t+1}^{T} \operatorname{diag}\big(\varphi_h'(a_s)\big)"
             r"\,W_{hh}\Big)^{\!\top} \frac{\partial L}{\partial h_T}")
    frame = sentence_frame()
    if frame is None:
        return
    controls, figure, sentence = frame
    flow_controls(controls)
    norms, w_rec = norms_back(sentence)
    figure.plotly_chart(presented(chart(sentence, norms)), key="wt_bptt_chart")
    regime = gradient_flow.gradient_regime(norms)
    m1, m2, m3 = figure.columns(3)
    m1.metric("spectral radius of this W_hh", f"{gradient_flow.spectral_radius(w_rec):.3f}")
    m2.metric("average factor per word back", f"{regime.rate_per_step:.3f}")
    if regime.first_exploded is not None:
        m3.metric(f"explodes (> {gradient_flow.EXPLODING_ABOVE:g}) from", f"{regime.first_exploded} back",
                  help="words back from the last word, where the loss is read")
    elif regime.first_vanished is not None:
        m3.metric(f"vanishes (< {gradient_flow.VANISHING_BELOW:g}) from", f"{regime.first_vanished} back",
                  help="words back from the last word, where the loss is read")
    figure.caption(f"At the first word (“{escape_markdown(sentence.tokens[0])}”) the gradient is {lessons.readable_norm(norms[-1])}. "
                   f"Below r < 1 it fades geometrically (**vanishing**: early words stop teaching the model); above, "
                   "it can grow (**exploding**: hence gradient clipping). A longer sentence shows it better.")


def show_truncation() -> None:
    st.markdown(
        "A cheap fix for long sequences is to stop the backward pass early: **truncated BPTT**. The state is still "
        "carried forward, but every *k* words it is *detached* (in code `h = h.detach()`, the project's `bptt=k`), "
        "so no gradient crosses that point. The loss, read after the last word, then reaches back only to the "
        "last detach point: between 1 and *k* words, depending on where the cuts fall.")
    frame = sentence_frame()
    if frame is None:
        return
    controls, figure, sentence = frame
    norms, _ = norms_back(sentence)
    length = len(norms)
    if length < 3:
        figure.info("Truncation needs a sentence of at least three tokens: pick a longer one.")
        return
    st.session_state.setdefault("wt_truncate", length // 2 + 1)
    st.session_state["wt_truncate"] = min(st.session_state["wt_truncate"], length)
    every = controls.slider(f"detach the state every k words (k = {length}: never)", 1, length, key="wt_truncate")
    s = settings()
    controls.caption(f"The recurrence of section 4: r = {s['wt_radius']:g}, {s['wt_activation']}, "
                     f"{s['wt_matrix_kind']} W_hh. Change it there.")
    figure.plotly_chart(presented(chart(sentence, norms, every)), key="wt_truncation_chart")
    figure.markdown(truncation_text(sentence.tokens, norms, every))


def truncation_text(tokens: list[str], norms: list[float], every: int) -> str:
    """What the truncation chart shows, in words: where the state is detached and which words the loss reaches."""
    length = len(norms)
    points = gradient_flow.detach_points(length, every)
    if not points:
        return (f"With k = {every}, a sentence of {length} words is never cut: the loss reaches every word, "
                "as in section 4.")
    kept_back = gradient_flow.kept_steps_back(length, every)
    first = length - kept_back
    shown = ", ".join(str(p) for p in points[:6]) + (", ..." if len(points) > 6 else "")
    reached = f"word {length} only" if kept_back == 0 else f"words {first} to {length}"
    dropped = gradient_flow.truncated_share(norms, kept_back)
    return (f"With k = {every}, the state is detached after word{'s' if len(points) > 1 else ''} {shown} (dashed "
            f"lines). The loss after the last word reaches **{reached}** (“{escape_markdown(tokens[first - 1])}” onwards) and drops "
            f"**{lessons.readable_share(dropped)}** of the summed gradient norm. Each update costs at most *k* steps "
            "of memory and time instead of *T*; a vanishing gradient loses little, but the model cannot learn "
            "dependencies across a cut. With a loss only at the end, a cut just before the last word leaves almost "
            "nothing: choose *k* with the sentence lengths in mind.")
