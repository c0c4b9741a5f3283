"""The tutorial's code, live, beside the numbers it computed (sections 2, 3 and 9).

Every listing is read from the module that ran (sentiment_core.analysis.lessons.tutorial_code.source_of),
so the page cannot show code that differs from what computed its numbers. The lines a step ran
are highlighted (tutorial_code.executed_lines), the one a learner is on more strongly.
"""
from __future__ import annotations

import html
import math
from typing import Collection

import pandas as pd
import streamlit as st
import torch

from dashboard.charts.unrolled import BOX_W, STEP_WIDTH
from dashboard.views.walkthrough_sections.frame import control_columns
from sentiment_core.analysis.lessons import tutorial_code
from sentiment_core.analysis.lessons.tutorial_code import SourceLines
from sentiment_core.models.tutorial import RNNLayer, SentimentRNN

CODE_CSS = """<style>
.wt-code { font-family: "Source Code Pro", monospace; font-size: 0.85rem; line-height: 1.45; background: #f6f8fa;
  border-radius: 0.5rem; padding: 0.6rem 0; margin: 0; overflow-x: auto; white-space: pre-wrap; }
/* A long line wraps (a projector, a phone) with its continuation indented past the line numbers. */
.wt-code .wt-line { display: block; padding: 0 0.8rem 0 calc(2.2em + 0.5rem); text-indent: -2.2em;
  border-left: 4px solid transparent; color: #8a8f98; }
.wt-code .wt-ran { color: #1f2328; }
.wt-code .wt-now { color: #1f2328; background: #fff1b8; border-left-color: #d6a100; font-weight: 600; }
.wt-code .wt-no { display: inline-block; width: 2.2em; text-indent: 0; color: #b0b4ba; user-select: none; }
</style>"""


def code_html(source: SourceLines, ran: Collection[int] | None = None, now: Collection[int] = ()) -> str:
    """`source` as a listing: lines that `ran` (file line numbers) in black, the lines `now` marked,
    the rest grey; ran=None: a listing that was not run, all black. Escaped line by line: the
    source is the project's, but markup is never trusted."""
    rows = []
    for index, line in enumerate(source.lines):
        number = source.first_line + index
        kind = "wt-now" if number in now else "wt-ran" if ran is None or number in ran else ""
        rows.append(f'<span class="wt-line {kind}"><span class="wt-no">{number}</span>{html.escape(line) or " "}</span>')
    return f'{CODE_CSS}<pre class="wt-code">{"".join(rows)}</pre>'


def show_listing(where, title: str, source: SourceLines, ran: Collection[int] | None = None,
                 now: Collection[int] = ()) -> None:
    where.markdown(title)
    where.html(code_html(source, ran, now))


def follow_step_script(step: int) -> str:
    """Scroll the unrolled chain's frame (the first on the page) so step `step` is in view: a sentence
    is often wider than its column, and the step just taken must not be off to the right. A script
    of constants and one int; its element takes no room."""
    return (f'<style>[data-testid="stElementContainer"]:has(.wt-follow) {{ display: none; }}</style>'
            f'<span class="wt-follow" hidden></span><script>setTimeout(() => {{'
            f"const frame = document.querySelector('.wt-unrolled'); const image = frame && frame.querySelector('img');"
            f"if (!image || !image.width) return;"
            f"const scale = image.getBoundingClientRect().width / image.width;"
            f"const centre = (20 + {int(step)} * {STEP_WIDTH} + {BOX_W} / 2) * scale;"
            f"frame.scrollLeft = Math.max(0, centre - frame.clientWidth / 2);"
            f"}}, 150);</script>")


def show_cell_code(where, walk) -> None:
    """Section 2: RNNLayer.forward, with the lines that the last "Next word" ran."""
    source = tutorial_code.source_of(RNNLayer.forward)
    ran: list[int] = []
    if walk.steps:
        last = walk.steps[-1]
        h_prev = walk.steps[-2].h if len(walk.steps) > 1 else None
        with torch.no_grad():
            _, ran = tutorial_code.executed_lines(walk.layer, last.x, h_prev)
    now = [n for n in ran if source.lines[source.index_of(n)].lstrip().startswith(("h_t =", "y_t ="))]
    show_listing(where, "**The code that ran**: `RNNLayer.forward` (`sentiment_core/models/tutorial.py`)",
                 source, ran, now)
    if not walk.steps:
        where.caption("Press **Next word**: the lines `layer(x_t, h_prev)` runs light up.")
    elif len(walk.steps) == 1:
        where.caption("Step 1: `h_prev` is None, so `forward` makes the zero state h_0 first. Marked: the lines "
                      "that computed h_1 and y_1 (the equation above, line for line).")
    else:
        where.caption(f"Step {len(walk.steps)}: `h_prev` is h_{len(walk.steps) - 1}, carried over; the zero-state "
                      "line is skipped. Marked: the lines that computed the new state and output.")
    with where.expander("The whole class: `RNNLayer`, its three weight matrices and `forward`"):
        st.html(code_html(tutorial_code.source_of(RNNLayer)))


def show_unrolled_code(where, sentence, h_dim: int, seed: int) -> None:
    """Section 3: SentimentRNN's loop over time is the unrolling; its lines, as the tutorial's model ran them."""
    source = tutorial_code.source_of(SentimentRNN.forward_embedded)
    model = tutorial_code.seeded_tutorial_model(1, sentence.x.shape[1], h_dim, 3, seed)
    with torch.no_grad():
        _, ran = tutorial_code.executed_lines(model.forward_embedded, sentence.x.unsqueeze(1))
    now = [source.first_line + source.find("self.rnn(x_t, h_t)")]
    show_listing(where, "**The unrolled loop in the tutorial's model** (`SentimentRNN`)", source, ran, now)
    where.caption(f"The `for` loop runs once per word, {len(sentence.tokens)} times here, calling the same "
                  "`self.rnn` (marked) each time. Grey: lines this call skipped: the tutorial's own model has no "
                  "`lengths` (padding fix) and no `bptt` (truncation, section 5).")


def parameter_table(model) -> pd.DataFrame:
    rows = tutorial_code.parameter_rows(model)
    table = pd.DataFrame({"tensor": [r.name for r in rows], "shape": [r.product for r in rows],
                          "weights": [f"{r.count:,}" for r in rows]})
    total = sum(r.count for r in rows)
    return pd.concat([table, pd.DataFrame({"tensor": ["total"], "shape": [""], "weights": [f"{total:,}"]})],
                     ignore_index=True)


def show_model_code(vocab_size: int) -> None:
    """Section 9: the tutorial's SentimentRNN and where its 1.5M weights are."""
    st.subheader("The tutorial's model, in code")
    code, counts = st.columns([3, 2], gap="large")
    show_listing(code, "`SentimentRNN.__init__`: an embedding, one `RNNLayer`, a log-softmax",
                 tutorial_code.source_of(SentimentRNN.__init__))
    tutorial = tutorial_code.tutorial_model(**tutorial_code.TUTORIAL_SIZES)
    counts.markdown("**Its parameters, tensor by tensor** (the tutorial's sizes: vocabulary 15,482, "
                    "embedding 100, hidden 128, 3 classes)")
    counts.table(parameter_table(tutorial).set_index("tensor"))
    with_this_vocabulary = tutorial_code.tutorial_model(**{**tutorial_code.TUTORIAL_SIZES, "vocab_dim": vocab_size})
    here = sum(r.count for r in tutorial_code.parameter_rows(with_this_vocabulary))
    share = tutorial.embedding.weight.numel() / tutorial_code.TUTORIAL_PARAMETERS
    counts.caption(f"{share:.0%} of the weights are the embedding table: one row of 100 per word. With this "
                   f"treebank's vocabulary ({vocab_size:,} words) the same model has {here:,}.")


LOOP_LINE = "wt_loop_line"   # session_state: how many lines of train_step the learner has stepped past
LOOP_STEPS = ("forward", "loss", "zero_grad", "backward", "clip", "step")


def loop_step_note(phase: str, report: tutorial_code.StepReport, batch: tutorial_code.LabelledBatch) -> str:
    """What the line `phase` of train_step produced on this batch, in one or two sentences."""
    size, classes = batch.X.shape[1], len(batch.class_names)
    if phase == "forward":
        return (f"`model(X)` read X, a ({batch.X.shape[0]}, {size}) tensor (time first, as the tutorial's model "
                f"reads it), and gave `y_pred_log_proba`, ({size}, {classes}): one log-probability per class.")
    if phase == "loss":
        return (f"`NLLLoss` averaged −log p(true class) over the {size} sentences: **{report.loss_before:.4f}** "
                f"(guessing evenly among {classes} classes gives ln {classes} = {math.log(classes):.4f}).")
    if phase == "zero_grad":
        return "Every parameter's `.grad` is cleared: `backward` adds to it, so the last batch's would count again."
    if phase == "backward":
        return ("Backpropagation through time filled every tensor's `.grad` (norms in the table). Only the "
                "embedding rows of words in this batch get a gradient.")
    if phase == "clip":
        clipped = "scaled down to" if report.grad_norm > report.clip else "left as it was, under"
        return (f"The gradient's global norm was **{report.grad_norm:.3f}**: {clipped} the clip of {report.clip:g} "
                f"({report.clipped_norm:.3f}). Exploding gradients (section 4) cannot throw the weights far.")
    return (f"Adam moved every weight against its gradient (lr = {tutorial_code.TUTORIAL_LR:g}). The same batch "
            f"through the updated model: loss **{report.loss_before:.4f} → {report.loss_after:.4f}**.")


def loop_table(report: tutorial_code.StepReport, model_rows, shown: int) -> pd.DataFrame:
    """Per tensor: its shape, then its gradient norm once backward has run, its change once step has."""
    table = pd.DataFrame({"tensor": [r.name for r in model_rows], "shape": [r.product for r in model_rows]})
    if shown > LOOP_STEPS.index("backward"):
        table["‖grad‖ after backward"] = [f"{report.grad_norms[r.name]:.4f}" for r in model_rows]
    if shown > LOOP_STEPS.index("step"):
        table["‖change‖ after step"] = [f"{report.update_norms[r.name]:.5f}" for r in model_rows]
    return table.set_index("tensor")


LOOP_REPORT = "wt_loop_report"   # session_state: (settings, batch, report) of the last step computed


def step_report(train_ids, fine_labels, vocab_size: int, batch_size: int, clip: float, seed: int):
    """The batch and the step's report for these settings: computed once (a second on a small
    server), then kept, so stepping through the loop's lines shows the same step without redoing it."""
    settings = (vocab_size, batch_size, clip, seed)
    kept = st.session_state.get(LOOP_REPORT)
    if kept is None or kept[0] != settings:
        batch = tutorial_code.labelled_batch(train_ids, fine_labels, batch_size, seed=seed)
        report = tutorial_code.step_on_batch(tutorial_code.seeded_tutorial_model(vocab_size), batch, clip=clip)
        kept = st.session_state[LOOP_REPORT] = (settings, batch, report)
    return kept[1], kept[2]


def show_training_step(train_ids, fine_labels, vocab_size: int) -> None:
    """Section 9: the training loop, stepped line by line on one real batch of training sentences."""
    st.subheader("One step of the training loop, on a real batch")
    source = tutorial_code.source_of(tutorial_code.train_step)
    controls, figure = control_columns()
    st.session_state.setdefault("wt_loop_batch", 16)
    st.session_state.setdefault("wt_loop_clip", 5.0)
    batch_size = controls.slider("batch size", 2, tutorial_code.MAX_STEP_BATCH, key="wt_loop_batch")
    clip = controls.select_slider("clip the gradient's norm at", [0.1, 0.5, 1.0, 5.0, 25.0], key="wt_loop_clip")
    batch, report = step_report(train_ids, fine_labels, vocab_size, batch_size, float(clip),
                                int(st.session_state.get("wt_batch_seed", 0)))
    shown = min(int(st.session_state.get(LOOP_LINE, 0)), len(LOOP_STEPS))
    now = ([source.first_line + source.find(tutorial_code.TRAIN_STEP_LINES[LOOP_STEPS[shown - 1]])]
           if shown else [])
    ran = [source.first_line + source.find(tutorial_code.TRAIN_STEP_LINES[p]) for p in LOOP_STEPS[:shown]]
    with figure:
        show_listing(st, "`train_step` (`sentiment_core/analysis/lessons/tutorial_code.py`): the tutorial's loop body, "
                     "plus clipping", source, ran, now)
        label = ("Every line has run" if shown == len(LOOP_STEPS)
                 else f"Next line: {tutorial_code.TRAIN_STEP_LINES[LOOP_STEPS[shown]]}")
        step, again = st.columns([3, 2])
        step.button(label, key="wt_loop_next", type="primary", disabled=shown == len(LOOP_STEPS), width="stretch",
                    on_click=lambda: st.session_state.update({LOOP_LINE: shown + 1}))
        again.button("Start the loop again", key="wt_loop_reset", disabled=not shown, width="stretch",
                     on_click=lambda: st.session_state.update({LOOP_LINE: 0}))
        if shown:
            st.markdown(loop_step_note(LOOP_STEPS[shown - 1], report, batch))
    with controls:
        before, after = st.columns(2)
        before.metric("loss before", f"{report.loss_before:.4f}")
        after.metric("loss after", f"{report.loss_after:.4f}" if shown == len(LOOP_STEPS) else "…",
                     delta=f"{report.loss_after - report.loss_before:+.4f}" if shown == len(LOOP_STEPS) else None,
                     delta_color="inverse")
        counts = pd.Series(batch.y.tolist()).map(dict(enumerate(batch.class_names))).value_counts()
        st.caption(f"{batch_size} training sentences, bucketed by length and padded; labels: "
                   + ", ".join(f"{n} {name}" for name, n in counts.items())
                   + f". A fresh, seeded model (vocabulary {vocab_size:,}), NLLLoss, Adam, as the tutorial.")
    shapes = tutorial_code.tutorial_model(**{**tutorial_code.TUTORIAL_SIZES, "vocab_dim": vocab_size})
    st.table(loop_table(report, tutorial_code.parameter_rows(shapes), shown))
