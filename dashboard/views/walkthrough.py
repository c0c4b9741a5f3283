"""Walkthrough: recurrent networks for sentiment analysis, told as a course would, with live code.

Every number and chart here is computed on the spot by sentiment_core.analysis.lessons and
gradient_flow (or torch); this file only lays the lesson out, with its longer sections in
dashboard/views/walkthrough_sections.
"""
from __future__ import annotations

import streamlit as st

from dashboard import resources
from dashboard.charts import walkthrough as charts
from dashboard.messages import as_sentence
from dashboard.views.walkthrough_sections import EXPLORER, PLAYGROUND, TRAINING, VOCABULARY, page_link
from dashboard.views.walkthrough_sections.measured import read_runs, watch_probe_comparison
from dashboard.views.walkthrough_sections.tensors import NEGATION, show_text_to_tensors
from sentiment_core.analysis import gradient_flow, lessons
from sentiment_core.data.text import Tokenizer

ORDER_PAIR = ("the plot is not bad , the acting is good", "the plot is not good , the acting is bad")
WALK = "wt_cell_walk"          # session_state: the lessons.CellWalk being stepped by hand
BPTT_HIDDEN = 64               # hidden size of the random recurrence in the BPTT lesson


st.title("Walkthrough: how a recurrent network reads a review")
st.markdown(
    "This page is a short course in recurrent neural networks (RNNs) for sentiment analysis. Each "
    "step comes with the code running behind it: the cells, graphs and curves below are computed "
    "from the project's own library (`sentiment_core`) and PyTorch while you watch, so you can change "
    "a setting and see what follows.")

# ---------------------------------------------------------------------------------------------
st.header("1. Why a sentence needs memory")
st.markdown(
    "A review is a sequence: its words come in an order, and sentences differ in length. A plain "
    "feed-forward layer takes a fixed number of inputs and forgets each input as soon as it has "
    "answered. The usual trick to give it a sentence, averaging the word vectors, fixes the size but "
    "throws the order away, and order carries meaning: *not bad, good* is not *not good, bad*. "
    "A recurrent layer reads one word at a time and carries a **hidden state** from word to word, "
    "so what it has read so far colours how it reads the next word.")
first_col, second_col = st.columns(2)
first = first_col.text_input("First sentence", ORDER_PAIR[0], key="wt_order_a")
second = second_col.text_input("Second sentence", ORDER_PAIR[1], key="wt_order_b")
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

# ---------------------------------------------------------------------------------------------
st.header("2. The recurrent cell")
st.markdown("At every step *t* the cell combines the new input with the state it carried over:")
st.latex(r"h_t = \varphi_h\left(W_{xh}\,x_t + W_{hh}\,h_{t-1} + b_h\right)")
st.latex(r"y_t = \varphi_y\left(W_{hy}\,h_t + b_y\right)")

size_cols = st.columns(5)
sizes = lessons.CellSizes(
    batch=size_cols[0].slider("batch N", 1, 8, 3, key="wt_batch"),
    in_dim=size_cols[1].select_slider("input size", [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024], 1024,
                                      key="wt_in_dim"),
    h_dim=size_cols[2].slider("hidden size", 1, 32, 10, key="wt_h_dim"),
    out_dim=size_cols[3].slider("output size", 1, 4, 1, key="wt_out_dim"),
    seed=int(size_cols[4].number_input("seed", 0, 10_000, 0, key="wt_seed")),
)
walk = st.session_state.get(WALK)
if walk is None or walk.sizes != sizes:
    if walk is not None:
        st.info("The sizes or the seed changed, so the cell starts again from a fresh layer.")
    walk = st.session_state[WALK] = lessons.start_cell_walk(sizes)
layer = walk.layer
w_xh, w_hh, b_h = layer.fc_xh.weight, layer.fc_hh.weight, layer.fc_hh.bias
w_hy, b_y = layer.fc_hy.weight, layer.fc_hy.bias
st.markdown(
    f"""
| symbol | what it is | in the code | shape here |
|---|---|---|---|
| $x_t$ | the input at step *t* (later: a word vector) | `x_t` | {(sizes.batch, sizes.in_dim)} |
| $h_{{t-1}}$, $h_t$ | the hidden state before and after step *t*; $h_0 = 0$ | `h_prev`, `h_t` | {(sizes.batch, sizes.h_dim)} |
| $W_{{xh}}$ | reads the input into the state (no bias of its own) | `fc_xh.weight` | {tuple(w_xh.shape)} |
| $W_{{hh}}$ | mixes the previous state into the new one: the memory | `fc_hh.weight` | {tuple(w_hh.shape)} |
| $b_h$ | the state's bias | `fc_hh.bias` | {tuple(b_h.shape)} |
| $W_{{hy}}$, $b_y$ | reads the output off the state | `fc_hy.weight`, `fc_hy.bias` | {tuple(w_hy.shape)}, {tuple(b_y.shape)} |
| $\\varphi_h$ | squashes the state | `phi_h` | `{getattr(layer.phi_h, "__name__", layer.phi_h)}` |
| $\\varphi_y$ | shapes the output | `phi_y` | `{getattr(layer.phi_y, "__name__", layer.phi_y)}` |
""")
st.markdown("The weights are the same at every step: the cell is one function applied again and again. "
            f"This layer has {sum(p.numel() for p in layer.parameters()):,} parameters:")
st.code(repr(layer), language="text")

def restart_walk() -> None:
    st.session_state[WALK] = lessons.start_cell_walk(sizes)


# Callbacks run before the page is drawn again, so the button already names the next input.
step_col, reset_col, _ = st.columns([2, 1, 3])
step_col.button(f"Next step: feed x_{len(walk.steps) + 1}", key="wt_next_step", type="primary",
                on_click=lessons.next_cell_step, args=(walk,))
reset_col.button("Reset", key="wt_reset", disabled=not walk.steps, on_click=restart_walk)
if not walk.steps:
    st.info("Press **Next step** to feed the first input x_1 (random, seeded) through the cell.")
SHOWN_STEPS = 4
if len(walk.steps) > SHOWN_STEPS:
    st.caption(f"Steps 1 to {len(walk.steps) - SHOWN_STEPS} are hidden; the latest {SHOWN_STEPS} are shown.")
for step in walk.steps[-SHOWN_STEPS:]:
    y_col, h_col = st.columns([1, 2])
    y_col.code(lessons.describe_tensor(f"y_{step.t}", step.y), language="text")
    h_col.code(lessons.describe_tensor(f"h_{step.t}", step.h), language="text")

# ---------------------------------------------------------------------------------------------
st.header("3. Unrolling through time")
st.markdown(
    "Feeding a sequence through the cell and passing the state along is the same as copying the cell "
    "once per step and wiring each copy's state into the next: the network **unrolled** in time. PyTorch "
    "records exactly this while it computes. Below is the graph autograd built for the outputs of the "
    "steps above (read from `grad_fn` / `next_functions`). Parameters are blue; "
    "`fc_hh.weight`, the recurrent weights, is red with its uses.")
if len(walk.steps) < 2:
    st.info(f"Take {2 - len(walk.steps)} more step{'s' if len(walk.steps) == 0 else ''} above to unroll "
            "the cell twice and compare the graphs of y_1 and y_2.")
else:
    names = lessons.walk_tensor_names(walk)
    later = 2
    if len(walk.steps) > 2:
        later = st.select_slider("Compare y_1 with the graph of", list(range(2, len(walk.steps) + 1)), 2,
                                 format_func=lambda t: f"y_{t}", key="wt_graph_step")
    graphs = {t: lessons.autograd_graph(walk.steps[t - 1].y, names, f"y_{t}") for t in (1, later)}
    uses = {t: lessons.parameter_uses(g, "fc_hh.weight") for t, g in graphs.items()}
    for column, t in zip(st.columns(2), (1, later)):
        with column:
            st.subheader(f"y_{t}")
            st.graphviz_chart(charts.autograd_graph_dot(graphs[t], highlight="fc_hh.weight"))
            st.metric(f"uses of fc_hh.weight in y_{t}'s graph", uses[t])
    st.markdown(
        f"In y_{later}'s graph `fc_hh.weight` enters {uses[later]} times and `fc_xh.weight` "
        f"{lessons.parameter_uses(graphs[later], 'fc_xh.weight')} times, once per step, while y_1 uses each "
        "once. One set of weights, used at every step: when the loss is differentiated, the gradient of "
        "`fc_hh.weight` is the sum of what each use contributes.")

# ---------------------------------------------------------------------------------------------
st.header("4. Backpropagation through time")
st.markdown(
    "Training differentiates the loss through the unrolled graph: **backpropagation through time** "
    "(BPTT). The loss at the last step *T* reaches an earlier state only through every state in "
    "between, so its gradient there is a product of one Jacobian per step:")
st.latex(r"\frac{\partial L}{\partial h_t} = \Big(\prod_{s=t+1}^{T} \frac{\partial h_s}{\partial h_{s-1}}\Big)^{\!\top}"
         r"\frac{\partial L}{\partial h_T}, \qquad \frac{\partial h_s}{\partial h_{s-1}} = "
         r"\operatorname{diag}\big(\varphi_h'(a_s)\big)\,W_{hh}, \quad a_s = W_{xh}x_s + W_{hh}h_{s-1} + b_h")
st.markdown(
    "The same $W_{hh}$ appears in every factor, so the product behaves like a power of it. Its size is set by "
    "the **spectral radius** $r$ of $W_{hh}$ (its largest eigenvalue in absolute value) and by how much "
    "$\\varphi_h'$ lets through: $\\tanh' \\le 1$ and shrinks to 0 where tanh saturates, ReLU' is 0 or 1. "
    "Below $r<1$ the gradient fades geometrically (**vanishing**: early words stop teaching the model); "
    "above, it can grow geometrically (**exploding**: one update wrecks the weights, hence gradient clipping). "
    f"Try it on a random recurrence with {BPTT_HIDDEN} hidden units: the curve is computed now, by carrying a "
    "unit gradient back from h_T through these Jacobians.")
c1, c2, c3 = st.columns(3)
radius = c1.slider("spectral radius r of W_hh", 0.5, 1.5, 1.0, 0.05, key="wt_radius")
activation = c2.radio("activation φ_h", list(gradient_flow.ACTIVATIONS), horizontal=True, key="wt_activation")
length = c3.slider("sequence length T", 2, 100, 50, key="wt_length")
c4, c5, c6 = st.columns(3)
kind = c4.radio("W_hh", gradient_flow.MATRIX_KINDS, horizontal=True, key="wt_matrix_kind",
                format_func={"orthogonal": "r × orthogonal", "gaussian": "Gaussian, scaled to r"}.get,
                help="r × an orthogonal matrix is normal: with the identity activation the norm is exactly r^k. "
                     "A Gaussian matrix is not normal: its powers can grow for a while before r takes over.")
input_scale = c5.slider("input size (std of W_xh x_t + b_h)", 0.0, 3.0, 1.0, 0.1, key="wt_input_scale",
                        help="Larger inputs push tanh into saturation, where its derivative is near 0.")
bptt_seed = int(c6.number_input("seed", 0, 10_000, 0, key="wt_bptt_seed"))
w_rec = gradient_flow.recurrent_matrix(BPTT_HIDDEN, radius, kind, seed=bptt_seed)
norms = gradient_flow.gradient_norms_through_time(
    w_rec, activation, gradient_flow.random_sequence(length, BPTT_HIDDEN, seed=bptt_seed, input_scale=input_scale))
regime = gradient_flow.gradient_regime(norms)
plot_slot = st.empty()  # drawn after the truncation slider below, which marks the same plot
m1, m2, m3 = st.columns(3)
m1.metric("spectral radius of this W_hh", f"{gradient_flow.spectral_radius(w_rec):.3f}")
m2.metric("average factor per step back", f"{regime.rate_per_step:.3f}")
if regime.first_exploded is not None:
    m3.metric(f"explodes (> {gradient_flow.EXPLODING_ABOVE:g}) from", f"{regime.first_exploded} steps back")
elif regime.first_vanished is not None:
    m3.metric(f"vanishes (< {gradient_flow.VANISHING_BELOW:g}) from", f"{regime.first_vanished} steps back")
else:
    m3.metric(f"gradient {length - 1} steps back", f"{norms[-1]:.3g}", help="Neither vanished nor exploded.")

# ---------------------------------------------------------------------------------------------
st.header("5. Truncated backpropagation through time")
st.markdown(
    "A cheap fix for long sequences is to stop the backward pass after *k* steps: the state is still "
    "carried forward, but gradients older than *k* steps are dropped (in code, the state is detached "
    "every *k* steps). The plot above shows the cut.")
truncate_at = st.slider("truncate after k steps back (k = T − 1: no truncation)", 1, length - 1,
                        min(length - 1, 20), key="wt_truncate")
cut = gradient_flow.truncate_norms(norms, truncate_at)
plot_slot.plotly_chart(charts.gradient_flow_figure(norms, radius, activation, gradient_flow.VANISHING_BELOW,
                                                   gradient_flow.EXPLODING_ABOVE, truncate_at), key="wt_bptt_chart")
dropped = gradient_flow.truncated_share(norms, truncate_at)
st.markdown(
    f"With k = {truncate_at} of {length - 1} possible steps, truncation drops **{100 * dropped:.3g}%** of the summed "
    f"gradient norm in this instance ({sum(1 for n in cut if n == 0)} steps receive none). "
    "The trade-off: each update costs memory and time for *k* steps instead of *T*, and a vanishing "
    "gradient loses little, but the model can no longer learn dependencies longer than *k* words.")

# ---------------------------------------------------------------------------------------------
st.header("6. The same, measured on trained networks")
st.markdown(
    "During training the project measures the real thing: after each epoch it takes a fixed dev batch, "
    "computes the loss and records ‖∂L/∂h_t‖ for every step (the *gradient-through-time probe* in a "
    "run's `metrics.jsonl`). A vanilla RNN multiplies the same Jacobians as above; an LSTM carries its "
    "cell state through a sum gated by the forget gate, so its gradient fades far more slowly.")
runs_root = resources.runs_root()
watch_probe_comparison(runs_root)
runs = read_runs(runs_root)

# ---------------------------------------------------------------------------------------------
st.header("7. From text to tensors")
st.markdown(
    "A network multiplies numbers, not words. A review becomes a tensor in four moves: the tokenizer "
    "splits the text into tokens, the vocabulary maps each token to an index, the embedding table maps "
    "each index to a vector, and sentences of different lengths are padded into one rectangular batch.")
show_text_to_tensors(runs)
page_link(EXPLORER, "Browse the treebank's sentences and parse trees in the Dataset explorer",
          icon=":material/table_view:")
page_link(VOCABULARY, "See the whole vocabulary, its coverage and padding by batch size", icon=":material/abc:")

# ---------------------------------------------------------------------------------------------
st.header("8. Try it yourself")
st.markdown(
    "1. **Watch a network learn.** The `quick` preset trains a small GRU on every labelled phrase for one "
    "epoch: about 20 seconds, and the dev accuracy climbs well above the majority-class line.")
page_link(TRAINING, "Training: watch it learn (the quick preset)", {"preset": "quick"},
          icon=":material/model_training:")
st.markdown(
    "2. **Then the tutorial's model, as the contrast.** The `seed` preset is the tutorial's vanilla RNN and "
    "settings: it reads padding as words and sees 800 sentences an epoch, so it stays near the majority "
    "line. Watch its loss and gradient-through-time probe, then swap the cell for an LSTM and compare the "
    "two runs in section 6 above: which one keeps a gradient for the early words?")
page_link(TRAINING, "Training: the seed preset (the contrast)", {"preset": "seed"}, icon=":material/model_training:")
page_link(TRAINING, "Training: the seed preset with an LSTM", {"preset": "seed", "cell": "lstm"},
          icon=":material/model_training:")
st.markdown(f"3. **Test the negation.** Ask a trained model about *{NEGATION}* Every adjective in it is "
            "positive; the sentence is not. Watch how the prediction moves word by word.")
page_link(PLAYGROUND, "Playground: the negation sentence", {"text": NEGATION}, icon=":material/chat:")
st.markdown("4. **Break it on purpose.** In section 4, set r to 1.2 with the identity activation and find the "
            "step where the gradient explodes; then switch to tanh and see saturation tame it. Which "
            "truncation k keeps 99% of the gradient with r = 0.9?")
