"""Walkthrough sections 4 and 5: backpropagation through time over a sentence's words, and its
truncation. The gradient is carried back from the loss (after the last word) through a random
recurrence whose inputs are the sentence's word vectors; the chart reads left to right."""
from __future__ import annotations

import streamlit as st

from dashboard.charts.gradient_flow import flow_chart
from dashboard.theme import PUBLISHED_COLOUR
from dashboard.views.walkthrough_sections.sentence import pick_sentence
from sentiment_core.analysis import gradient_flow, lessons
from sentiment_core.analysis.walk_sentence import token_labels

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


def chart(sentence, norms: list[float], truncate_at: int | None = None):
    s = settings()
    radius, activation = s["wt_radius"], s["wt_activation"]
    reference = {"name": f"r^k = {radius:g}^k (k steps back)", "colour": PUBLISHED_COLOUR, "dash": "dot",
                 "width": 1, "norms": gradient_flow.by_position([radius ** k for k in range(len(norms))])}
    whole = {"name": activation, "norms": gradient_flow.by_position(norms), "colour": PUBLISHED_COLOUR, "width": 3}
    lines = [reference, whole]
    cut_before = None
    if truncate_at is not None and truncate_at < len(norms) - 1:
        whole.update(name=f"{activation}: without truncation", opacity=0.35, width=2)
        kept = gradient_flow.by_position(gradient_flow.truncate_norms(norms, truncate_at))
        lines.append({"name": f"{activation}: truncated at k = {truncate_at}", "norms": kept, "colour": PUBLISHED_COLOUR,
                      "width": 3})
        cut_before = len(norms) - truncate_at
    return flow_chart(lines, "How much of the loss's gradient reaches each word", token_labels(sentence.tokens),
                      gradient_flow.VANISHING_BELOW, gradient_flow.EXPLODING_ABOVE, cut_before,
                      y_title="||dL/dh_t||  (1 at the last word)", height=440)


def show_bptt() -> None:
    st.markdown(
        "Training differentiates the loss through the unrolled chain: **backpropagation through time** (BPTT). "
        "The loss, read after the last word, reaches word *t* only through every state after it, so its "
        "gradient there is a product of one Jacobian per step:")
    st.latex(r"\frac{\partial L}{\partial h_t} = \Big(\prod_{s=t+1}^{T} \operatorname{diag}\big(\varphi_h'(a_s)\big)"
             r"\,W_{hh}\Big)^{\!\top} \frac{\partial L}{\partial h_T}")
    controls, figure = st.columns([1, 2], gap="large")
    sentence = pick_sentence(controls)
    if sentence is None:
        return
    flow_controls(controls)
    norms, w_rec = norms_back(sentence)
    figure.plotly_chart(chart(sentence, norms), key="wt_bptt_chart")
    regime = gradient_flow.gradient_regime(norms)
    m1, m2, m3 = figure.columns(3)
    m1.metric("spectral radius of this W_hh", f"{gradient_flow.spectral_radius(w_rec):.3f}")
    m2.metric("average factor per word back", f"{regime.rate_per_step:.3f}")
    if regime.first_exploded is not None:
        m3.metric(f"explodes (> {gradient_flow.EXPLODING_ABOVE:g}) from", f"{regime.first_exploded} words back")
    elif regime.first_vanished is not None:
        m3.metric(f"vanishes (< {gradient_flow.VANISHING_BELOW:g}) from", f"{regime.first_vanished} words back")
    figure.caption(f"At the first word (“{sentence.tokens[0]}”) the gradient is {lessons.readable_norm(norms[-1])}. "
                   f"Below r < 1 it fades geometrically (**vanishing**: early words stop teaching the model); above, "
                   "it can grow (**exploding**: hence gradient clipping). A longer sentence shows it better.")


def show_truncation() -> None:
    st.markdown(
        "A cheap fix for long sequences is to stop the backward pass after *k* steps: the state is still carried "
        "forward, but gradients older than *k* steps are dropped (in code, the state is detached every *k* steps).")
    controls, figure = st.columns([1, 2], gap="large")
    sentence = pick_sentence(controls)
    if sentence is None:
        return
    norms, _ = norms_back(sentence)
    if len(norms) < 3:
        figure.info("Truncation needs a sentence of at least three tokens: pick a longer one.")
        return
    st.session_state.setdefault("wt_truncate", max(1, (len(norms) - 1) // 2))
    st.session_state["wt_truncate"] = min(st.session_state["wt_truncate"], len(norms) - 1)
    truncate_at = controls.slider("keep k steps back (k = T − 1: no truncation)", 1, len(norms) - 1, key="wt_truncate")
    s = settings()
    controls.caption(f"The recurrence of section 4: r = {s['wt_radius']:g}, {s['wt_activation']}, "
                     f"{s['wt_matrix_kind']} W_hh. Change it there.")
    figure.plotly_chart(chart(sentence, norms, truncate_at), key="wt_truncation_chart")
    dropped = gradient_flow.truncated_share(norms, truncate_at)
    cut = len(norms) - 1 - truncate_at
    words = "no word loses" if cut == 0 else ("1 word receives" if cut == 1 else f"{cut} words receive")
    figure.markdown(
        f"With k = {truncate_at} of {len(norms) - 1} possible steps, truncation drops **{lessons.readable_share(dropped)}** "
        f"of the summed gradient norm here ({words} {'its gradient' if cut == 0 else 'none'}). Each update then "
        "costs *k* steps of memory and time instead of *T*; a vanishing gradient loses little, but the model can "
        "no longer learn dependencies longer than *k* words.")
