"""Walkthrough sections 2 and 3: the recurrent cell stepped by hand over a sentence's words, and the
same cell unrolled through time (drawn as a chain, and as the graph autograd recorded)."""
from __future__ import annotations

import streamlit as st
import torch

from dashboard.charts import walkthrough as charts
from dashboard.charts.unrolled import unrolled_svg
from dashboard.escape import escape_markdown
from dashboard.views.walkthrough_sections.code import follow_step_script, show_cell_code, show_unrolled_code
from dashboard.views.walkthrough_sections.frame import sentence_frame
from sentiment_core import glossary
from sentiment_core.analysis.lessons import basics as lessons

WALK = "wt_cell_walk"   # session_state: the lessons.CellWalk being stepped by hand
SHOWN_STEPS = 4


def cell_sizes(in_dim: int) -> lessons.CellSizes:
    """The cell's sizes from the controls (hidden size, seed), one sentence at a time."""
    return lessons.CellSizes(batch=1, in_dim=in_dim, h_dim=int(st.session_state.get("wt_h_dim", 10)), out_dim=1,
                             seed=int(st.session_state.get("wt_seed", 0)))


def size_controls(where) -> None:
    st.session_state.setdefault("wt_h_dim", 10)
    st.session_state.setdefault("wt_seed", 0)
    where.slider("hidden size", 1, 32, key="wt_h_dim")
    where.number_input("seed of the weights", 0, 10_000, key="wt_seed")


def current_walk(sizes: lessons.CellSizes, sentence) -> lessons.CellWalk:
    walk = st.session_state.get(WALK)
    if walk is None or walk.sizes != sizes or walk.inputs is None or not walk.inputs.equal(sentence.x):
        if walk is not None and walk.steps:
            st.info("The sentence, the hidden size or the seed changed, so the cell starts again.")
        walk = st.session_state[WALK] = lessons.start_cell_walk(sizes, sentence.x)
    return walk


def show_steps(walk: lessons.CellWalk, tokens: list[str]) -> None:
    if not walk.steps:
        st.info(f"Press **Next word** to feed x_1, the vector of “{escape_markdown(tokens[0])}”, through the cell.")
    note = lessons.hidden_steps_note(len(walk.steps), min(SHOWN_STEPS, len(walk.steps)))
    if note:
        st.caption(note)
    for step in walk.steps[-SHOWN_STEPS:]:
        st.code(f"# t = {step.t}: read “{tokens[step.t - 1]}”\n" + lessons.describe_tensor(f"h_{step.t}", step.h)
                + "\n" + lessons.describe_tensor(f"y_{step.t}", step.y), language="text", wrap_lines=True)


def show_cell() -> None:
    st.markdown("At every step *t* the cell combines the new input, here the vector of the sentence's *t*-th "
                "word, with the state it carried over:")
    equation = st.empty()  # written once the layer exists: its own activations, so the equation cannot drift
    frame = sentence_frame()
    if frame is None:
        return
    controls, figure, sentence = frame
    size_controls(controls)
    walk = current_walk(cell_sizes(sentence.x.shape[1]), sentence)
    equation.latex(cell_equation(walk.layer))
    nxt = len(walk.steps)
    label = "Every word is read" if walk.done else f"Next word: feed x_{nxt + 1} (“{escape_markdown(sentence.tokens[nxt])}”)"
    with figure:
        st.html(unrolled_svg(sentence.tokens, len(walk.steps), "Blue: the steps computed so far."))
        st.html(follow_step_script(len(walk.steps)), unsafe_allow_javascript=True)
        # The control that advances the figure sits right under it (on a phone too: no scrolling up).
        step, again = st.columns([3, 2])
        step.button(label, key="wt_next_step", type="primary", disabled=walk.done, on_click=lessons.next_cell_step,
                    args=(walk,), width="stretch")
        again.button("Start the sentence again", key="wt_reset", disabled=not walk.steps, width="stretch",
                     on_click=lambda: st.session_state.pop(WALK, None))
        show_cell_code(st, walk)
        show_steps(walk, sentence.tokens)
    layer = walk.layer
    with st.expander("Every symbol, its shape and its name in the code"):
        st.markdown(symbol_table(walk))
        st.code(repr(layer), language="text", wrap_lines=True)
    st.caption(f"The weights are the same at every step: one function applied again and again. This layer has "
               f"{sum(p.numel() for p in layer.parameters()):,} parameters.")


ACTIVATION_SYMBOLS = {torch.tanh: r"\tanh", torch.sigmoid: r"\sigma", torch.relu: r"\operatorname{relu}"}


def _applied(phi, inside: str) -> str:
    return inside if phi is None else ACTIVATION_SYMBOLS.get(phi, r"\varphi") + r"\left(" + inside + r"\right)"


def cell_equation(layer) -> str:
    """The layer's two equations in LaTeX, with the activations it really applies (phi_h, phi_y)."""
    state = _applied(layer.phi_h, r"W_{xh}\,x_t + W_{hh}\,h_{t-1} + b_h")
    output = _applied(layer.phi_y, r"W_{hy}\,h_t + b_y")
    return rf"h_t = {state}, \qquad y_t = {output}"


def symbol_table(walk: lessons.CellWalk) -> str:
    sizes, layer = walk.sizes, walk.layer
    rows = [("$x_t$", "the vector of word *t*", "`x_t`", (1, sizes.in_dim)),
            ("$h_{t-1}$, $h_t$", f"the {glossary.TERMS['hidden state'].name} before and after step *t*; $h_0 = 0$", "`h_prev`, `h_t`",
             (1, sizes.h_dim)),
            ("$W_{xh}$", "reads the input into the state", "`fc_xh.weight`", tuple(layer.fc_xh.weight.shape)),
            ("$W_{hh}$", "mixes the previous state into the new one: the memory", "`fc_hh.weight`",
             tuple(layer.fc_hh.weight.shape)),
            ("$b_h$", "the state's bias", "`fc_hh.bias`", tuple(layer.fc_hh.bias.shape)),
            ("$W_{hy}$", "reads the output off the state", "`fc_hy.weight`", tuple(layer.fc_hy.weight.shape)),
            ("$b_y$", "the output's bias", "`fc_hy.bias`", tuple(layer.fc_hy.bias.shape))]
    if layer.phi_y is not None:  # the activation the printed y_t carry (their grad_fn names it)
        symbol = ACTIVATION_SYMBOLS.get(layer.phi_y, r"\varphi")
        rows.append((f"${symbol}$", "the output's activation"
                     + (": squashes y_t into (0, 1)" if layer.phi_y is torch.sigmoid else ""),
                     f"`phi_y` (`torch.{layer.phi_y.__name__}`)", "elementwise"))
    return "| symbol | what it is | in the code | shape here |\n|---|---|---|---|\n" + "\n".join(
        f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows)


def show_unrolling() -> None:
    st.markdown(
        "Feeding a sentence through the cell and passing the state along is the same as copying the cell once "
        "per word and wiring each copy's state into the next: the network **unrolled** in time. Every copy "
        "shares one set of weights.")
    frame = sentence_frame()
    if frame is None:
        return
    controls, figure, sentence = frame
    length = len(sentence.tokens)
    figure.html(unrolled_svg(sentence.tokens, caption=f"{length} steps, one per token; scroll sideways "
                             "when the sentence is longer than the screen."))
    if length < 2:
        figure.info("This sentence has a single token: type a longer one to compare two graphs.")
        return
    st.session_state.setdefault("wt_graph_step", min(3, length))
    later = controls.slider("Compare y_1 with the graph of y_t for t =", 2, length, key="wt_graph_step")
    walk = lessons.unroll(cell_sizes(sentence.x.shape[1]), sentence.x, later)
    names = lessons.walk_tensor_names(walk)
    graphs = {t: lessons.autograd_graph(walk.steps[t - 1].y, names, f"y_{t}") for t in (1, later)}
    uses = {t: lessons.parameter_uses(g, "fc_hh.weight") for t, g in graphs.items()}
    with figure:
        st.markdown(f"PyTorch records the unrolled chain while it computes. In the graph of y_{later}, "
                    f"`fc_hh.weight` enters **{uses[later]}** times and `fc_xh.weight` "
                    f"**{lessons.parameter_uses(graphs[later], 'fc_xh.weight')}** times, once per step; y_1 uses each "
                    "once. The gradient of a shared weight is the sum of what each use contributes.")
        for column, t in zip(st.columns(2), (1, later)):
            column.metric(f"uses of fc_hh.weight in y_{t}'s graph", uses[t])
        with st.expander("The graphs autograd recorded (red: fc_hh.weight and its uses)"):
            for t in (1, later):
                st.markdown(f"**y_{t}**")
                st.graphviz_chart(charts.autograd_graph_dot(graphs[t], highlight="fc_hh.weight"),
                                  width="content")
    sizes = cell_sizes(sentence.x.shape[1])
    show_unrolled_code(st, sentence, sizes.h_dim, sizes.seed)
