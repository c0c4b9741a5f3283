"""Walkthrough: recurrent networks for sentiment analysis, told as a course would, with live code.

Every number and chart here is computed on the spot by sentiment_core.analysis.lessons (or torch);
this file only lays the lesson out.
"""
from __future__ import annotations

import time

import pandas as pd
import streamlit as st
from streamlit.errors import StreamlitPageNotFoundError

from dashboard import resources
from dashboard.charts import walkthrough as charts
from sentiment_core.training import jobs
from sentiment_core.analysis import lessons
from sentiment_core.training.limits import LimitExceeded, LimitsError, limits_from_env
from sentiment_core.training.store import RunError, list_runs
from sentiment_core.data.treebank import TreebankError
from sentiment_core.data.text import EOS, EOS_INDEX, PAD, PAD_INDEX, SOS, SOS_INDEX, UNK, UNK_INDEX, Tokenizer

NEGATION = "This movie was actually neither that funny, nor super witty."
ORDER_PAIR = ("the plot is not bad , the acting is good", "the plot is not good , the acting is bad")
WALK = "wt_cell_walk"          # session_state: the lessons.CellWalk being stepped by hand
COMPARISON_ERROR = "wt_comparison_error"  # session_state: why the comparison could not start, shown once
BPTT_HIDDEN = 64               # hidden size of the random recurrence in the BPTT lesson
EXPLORER, VOCABULARY = "views/explorer.py", "views/vocabulary.py"
TRAINING, PLAYGROUND = "views/training.py", "views/playground.py"
# Query parameters the other pages read (agreed with their authors): training `preset` and `cell`,
# playground `text`.


def page_link(page: str, label: str, query_params: dict | None = None, icon: str | None = None) -> bool:
    """A link to another page of the app; plain text when that page is not part of the app (yet)."""
    try:
        st.page_link(page, label=label, icon=icon, query_params=query_params)
        return True
    except StreamlitPageNotFoundError:
        st.caption(f"{label}: that page is not part of this app yet.")
        return False


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
    st.error(f"{err}. Type a sentence in each box.")
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
            st.graphviz_chart(lessons.graph_to_dot(graphs[t], highlight="fc_hh.weight"))
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
activation = c2.radio("activation φ_h", list(lessons.ACTIVATIONS), horizontal=True, key="wt_activation")
length = c3.slider("sequence length T", 2, 100, 50, key="wt_length")
c4, c5, c6 = st.columns(3)
kind = c4.radio("W_hh", lessons.MATRIX_KINDS, horizontal=True, key="wt_matrix_kind",
                format_func={"orthogonal": "r × orthogonal", "gaussian": "Gaussian, scaled to r"}.get,
                help="r × an orthogonal matrix is normal: with the identity activation the norm is exactly r^k. "
                     "A Gaussian matrix is not normal: its powers can grow for a while before r takes over.")
input_scale = c5.slider("input size (std of W_xh x_t + b_h)", 0.0, 3.0, 1.0, 0.1, key="wt_input_scale",
                        help="Larger inputs push tanh into saturation, where its derivative is near 0.")
bptt_seed = int(c6.number_input("seed", 0, 10_000, 0, key="wt_bptt_seed"))
w_rec = lessons.recurrent_matrix(BPTT_HIDDEN, radius, kind, seed=bptt_seed)
norms = lessons.gradient_norms_through_time(
    w_rec, activation, lessons.random_sequence(length, BPTT_HIDDEN, seed=bptt_seed, input_scale=input_scale))
regime = lessons.gradient_regime(norms)
plot_slot = st.empty()  # drawn after the truncation slider below, which marks the same plot
m1, m2, m3 = st.columns(3)
m1.metric("spectral radius of this W_hh", f"{lessons.spectral_radius(w_rec):.3f}")
m2.metric("average factor per step back", f"{regime.rate_per_step:.3f}")
if regime.first_exploded is not None:
    m3.metric(f"explodes (> {lessons.EXPLODING_ABOVE:g}) from", f"{regime.first_exploded} steps back")
elif regime.first_vanished is not None:
    m3.metric(f"vanishes (< {lessons.VANISHING_BELOW:g}) from", f"{regime.first_vanished} steps back")
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
cut = lessons.truncate_norms(norms, truncate_at)
plot_slot.plotly_chart(charts.gradient_flow_figure(norms, radius, activation, lessons.VANISHING_BELOW,
                                                   lessons.EXPLODING_ABOVE, truncate_at), key="wt_bptt_chart")
dropped = lessons.truncated_share(norms, truncate_at)
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


def read_runs(root) -> list:
    try:
        return list_runs(root)
    except OSError as err:
        st.error(f"The runs folder {root} could not be read: {err}. Check that it exists and is readable.")
        return []


def comparison_in_progress(root) -> list:
    """The comparison's runs that are waiting, starting or training (as the jobs module sees them)."""
    try:
        views = jobs.list_jobs(root)
    except OSError:
        return []
    return [v for v in views if v.name.startswith(lessons.COMPARISON_PREFIX) and v.active]


def start_comparison(root) -> None:
    """Queue the vanilla RNN and the LSTM through the jobs module (it starts them within the limits)."""
    try:
        limits = limits_from_env()
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for cell in lessons.COMPARISON_CELLS:
            jobs.start_run(lessons.comparison_config(cell), root=root, limits=limits,
                           name=lessons.comparison_run_name(stamp, cell), data_dir=resources.treebank_state().folder)
    except (LimitsError, LimitExceeded, RunError, OSError) as err:  # JobError / QueueFull are RunErrors
        st.session_state[COMPARISON_ERROR] = (f"The comparison could not be started: {err} "
                                              "(runs already queued keep going; see the Training page).")


def show_probe_comparison(root, polling: bool) -> None:
    if polling:
        try:  # start the second run when the first frees its slot (the jobs queue advances on calls)
            jobs.advance_queue(root, limits_from_env())
        except (LimitsError, OSError) as err:
            st.error(f"The training queue could not be advanced: {err}")
    runs = read_runs(root)
    running = comparison_in_progress(root)
    if polling and not running:
        st.rerun()  # the comparison has finished: redraw the whole page once and stop refreshing
    if COMPARISON_ERROR in st.session_state:
        st.error(st.session_state.pop(COMPARISON_ERROR))
    with_probes = []
    for run in runs:
        if run.config is not None:
            events = resources.probe_events(run.path)
            if any(e.get("norms") for e in events):
                with_probes.append((run, events))
    if with_probes:
        labels = {run.name: f"{run.name} ({run.config.model.cell}, {run.state})" for run, _ in with_probes}
        default = lessons.newest_vanilla_and_gated([(run.name, run.config.model.cell) for run, _ in with_probes])
        # No key: when new runs appear, the options change and the newest pair is chosen again.
        chosen = st.multiselect("Runs to compare", list(labels), default, format_func=labels.get)
        show_before = st.checkbox("also show each run before training (epoch 0)", value=True, key="wt_probe_before")
        picked = [(run.name, run.config.model.cell, events) for run, events in with_probes if run.name in chosen]
        curves = lessons.probe_curves(picked)
        trained = {c.run for c in curves if c.epoch > 0}  # a run probed only before training has nothing to compare
        before = [c for c in lessons.probe_curves(picked, first=True) if c.epoch == 0 and c.run in trained] \
            if show_before else []
        if curves:
            st.plotly_chart(charts.probe_figure(curves, lessons.VANISHING_BELOW, lessons.EXPLODING_ABOVE, before),
                            key="wt_probe_chart")
            st.dataframe(pd.DataFrame([{"run": c.run, "cell": c.cell, "after epoch": c.epoch,
                                        "steps measured": len(c.norms),
                                        "relative norm at the first step": c.norms[-1]} for c in curves]),
                         hide_index=True)
        else:
            st.info("Choose at least one run.")
    if running:
        progress = ", ".join(f"{v.name}: {v.state}, epoch {v.status.get('epoch') or 0} of "
                             f"{v.status.get('epochs') or '?'}" for v in running)
        st.info(f"Training in the background: {progress}. This section refreshes by itself every few seconds.")
        return
    if lessons.has_vanilla_and_gated(lessons.probe_curves(
            [(run.name, run.config.model.cell, events) for run, events in with_probes])):
        return
    st.info("No vanilla RNN and LSTM with probes yet. Train both here, quickly (two epochs of the `seed` preset "
            "each, in the background, a few minutes), or on the Training page with your own settings.")
    has_treebank = resources.treebank_state().folder is not None
    if st.button("Train a vanilla RNN and an LSTM now", key="wt_train_comparison", disabled=not has_treebank,
                 help=None if has_treebank else "Training needs the treebank: get it on the Home page first."):
        start_comparison(root)
        st.rerun()  # the whole page, so this section starts refreshing itself
    page_link(TRAINING, "Train the seed preset (vanilla RNN)", {"preset": "seed"}, icon=":material/model_training:")
    page_link(TRAINING, "Train the seed preset with an LSTM", {"preset": "seed", "cell": "lstm"},
              icon=":material/model_training:")


runs_root = resources.runs_root()
polling = bool(comparison_in_progress(runs_root))
st.fragment(run_every=5 if polling else None)(show_probe_comparison)(runs_root, polling)
runs = read_runs(runs_root)

# ---------------------------------------------------------------------------------------------
st.header("7. From text to tensors")
st.markdown(
    "A network multiplies numbers, not words. A review becomes a tensor in four moves: the tokenizer "
    "splits the text into tokens, the vocabulary maps each token to an index, the embedding table maps "
    "each index to a vector, and sentences of different lengths are padded into one rectangular batch.")


def show_tokens_and_indices(followed: lessons.FollowedSentence, vocab) -> None:
    st.subheader("Tokens")
    st.code(repr(followed.tokens), language="python")
    st.caption(f"{len(followed.tokens)} tokens from spaCy's English rules, lowercased, as the vocabulary was built.")
    st.subheader("Indices")
    tokens = vocab.decode(followed.ids)
    table = pd.DataFrame({"token": tokens, "index": followed.ids,
                          "count in training sentences": [vocab.freqs.get(t, 0) for t in tokens]}).T
    table.columns = [f"t={t}" for t in range(len(tokens))]  # positions: a repeated token keeps its own column
    st.dataframe(table.astype(str), width="stretch")
    unknown_note = (f" Not in the vocabulary, so read as `{UNK}` (index {UNK_INDEX}): {', '.join(followed.unknown)}."
                    if followed.unknown else " Every token is in the vocabulary.")
    st.caption(f"{SOS} ({SOS_INDEX}) and {EOS} ({EOS_INDEX}) mark the start and end, as in training. The vocabulary holds "
               f"{len(vocab):,} entries, built from the training sentences only.{unknown_note}")


EMBED_DIM, SHOWN_DIMS = 100, 6


def show_embedding(followed: lessons.FollowedSentence, vocab, runs) -> None:
    st.subheader("Embedding lookup")
    sources = {"untrained": f"a fresh nn.Embedding({len(vocab):,}, {EMBED_DIM}), seeded (what training starts from)"}
    for run in runs:
        if run.has_checkpoint and run.config is not None:
            sources[str(run.path)] = f"the embedding in run {run.name}'s checkpoint ({run.config.model.cell}, {run.state})"
    source = st.selectbox("Embedding table", list(sources), format_func=sources.get, key="wt_embedding_source")
    embed_vocab = vocab
    try:
        if source == "untrained":
            weight = lessons.seeded_embedding_weight(len(vocab), EMBED_DIM)
        else:
            embed_vocab, weight = resources.run_embedding(source)
    except (RunError, OSError) as err:
        st.error(f"That run's word vectors could not be read: {err}. Choose another table.")
        return
    embed_ids = embed_vocab.encode(followed.tokens, add_sos_eos=True)
    rows = lessons.embedding_rows(embed_ids, weight)
    labels = [f"{t} ({i})" for t, i in zip(embed_vocab.decode(embed_ids), embed_ids)]
    st.dataframe(pd.DataFrame(rows[:, :SHOWN_DIMS].numpy(), index=labels,
                              columns=[f"dim {d}" for d in range(SHOWN_DIMS)]).round(4), width="stretch")
    st.caption(f"Row i of the table is the vector of token i: the sentence becomes a {tuple(rows.shape)} tensor "
               f"(the first {SHOWN_DIMS} of {rows.shape[1]} dimensions shown). A token that occurs twice gets the "
               "same row; training moves the rows of the words it sees.")


def show_padded_batches(followed: lessons.FollowedSentence, vocab, corpus) -> None:
    st.subheader("Into a padded batch")
    b1, b2 = st.columns(2)
    batch_size = b1.slider("batch size", 2, 16, 4, key="wt_batch_size")
    batch_seed = int(b2.number_input("shuffle seed", 0, 10_000, 0, key="wt_batch_seed"))
    train_ids = resources.train_sentence_ids(corpus)
    epoch = resources.padding_by_batch_size(corpus, (batch_size,))
    for column, bucketing in zip(st.columns(2), (True, False)):
        batch = lessons.batch_for_sentence(followed.ids, train_ids, batch_size, bucketing, seed=batch_seed)
        with column:
            st.markdown(f"**{'With' if bucketing else 'Without'} bucketing**")
            # Shown time-major (one column per sentence), as the tutorial printed its batches, so the
            # padding at each sentence's end lines up at the bottom.
            grid = pd.DataFrame({("your sentence" if m < 0 else f"train #{m}"): [vocab.itos[i] for i in row]
                                 for m, row in zip(batch.members, batch.tokens.tolist())})
            grid.index.name = "t"
            styled = grid.style.map(lambda token: "color: #bbb; background-color: #f3f3f3" if token == PAD else "")
            st.dataframe(styled, width="stretch", height=min(len(grid), 40) * 35 + 38)
            share = epoch["bucketed" if bucketing else "unbucketed"][0]
            st.caption(f"tokens {tuple(batch.tokens.shape)} (B, T), padded with {PAD} (index {PAD_INDEX}); "
                       f"{batch.padding:.0%} of this batch is padding, {share:.1%} over one epoch of training "
                       f"sentences at batch size {batch_size}.")
    st.markdown(
        "Bucketing draws the batch from sentences of similar length, so the model spends less time reading "
        "padding. The tutorial's loop reads padding as if it were words; this project's models can also stop "
        "each sentence's state at its true length.")


def show_text_to_tensors(runs) -> None:
    state = resources.treebank_state()
    if state.folder is None:
        st.warning("This section needs the Stanford Sentiment Treebank (the vocabulary and the training "
                   "sentences). Open **Home** (first in the menu) to download it or point the app at it.")
        return
    try:
        corpus = resources.corpus_for(state)
    except (TreebankError, OSError) as err:
        st.error(f"The treebank in {state.folder} could not be read: {err}")
        return
    vocab = resources.vocabulary(corpus, 1)
    text = st.text_input("Sentence to follow", NEGATION, key="wt_sentence")
    try:
        followed = lessons.follow_sentence(text, Tokenizer(), vocab)
    except ValueError as err:
        st.error(f"{err}.")
        return
    show_tokens_and_indices(followed, vocab)
    show_embedding(followed, vocab, runs)
    show_padded_batches(followed, vocab, corpus)


show_text_to_tensors(runs)
page_link(EXPLORER, "Browse the treebank's sentences and parse trees in the Dataset explorer",
          icon=":material/table_view:")
page_link(VOCABULARY, "See the whole vocabulary, its coverage and padding by batch size", icon=":material/abc:")

# ---------------------------------------------------------------------------------------------
st.header("8. Try it yourself")
st.markdown(
    "1. **Train the tutorial's model.** The `seed` preset is the tutorial's vanilla RNN and settings. "
    "Watch the loss and the gradient-through-time probe as it trains.")
page_link(TRAINING, "Training: the seed preset", {"preset": "seed"}, icon=":material/model_training:")
st.markdown("2. **Swap the cell.** Train the same preset with an LSTM, then compare the two runs in the runs "
            "table and in section 6 above: which one keeps a gradient for the early words?")
page_link(TRAINING, "Training: the seed preset with an LSTM", {"preset": "seed", "cell": "lstm"},
          icon=":material/model_training:")
st.markdown(f"3. **Test the negation.** Ask a trained model about *{NEGATION}* Every adjective in it is "
            "positive; the sentence is not. Watch how the prediction moves word by word.")
page_link(PLAYGROUND, "Playground: the negation sentence", {"text": NEGATION}, icon=":material/chat:")
st.markdown("4. **Break it on purpose.** In section 4, set r to 1.2 with the identity activation and find the "
            "step where the gradient explodes; then switch to tanh and see saturation tame it. Which "
            "truncation k keeps 99% of the gradient with r = 0.9?")
