"""Walkthrough section 6: gradients through time measured on trained networks (the runs' probes),
and a vanilla RNN and an LSTM trained in the background to compare, followed by the run watcher.

The visitor's own runs come first; after them the vanilla RNN and LSTM shipped with the package
(sentiment_core.pretrained, read-only), so the section has curves at the first visit."""
from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from dashboard.theme import presented
from dashboard import resources, visitor
from dashboard.charts.gradient_flow import probe_runs_chart
from dashboard.components.run_watcher import watch_runs
from dashboard.messages import shown_path, user_message
from dashboard.views.walkthrough_sections import TRAINING, WALKTHROUGH, page_link
from sentiment_core import settings
from sentiment_core.analysis.lessons import gradient_flow, basics as lessons
from sentiment_core.pretrained import COMPARISON_MODELS, is_shipped, shipped_label, shipped_runs
from sentiment_core.runs import jobs
from sentiment_core.runs.limits import LimitExceeded, LimitsError, limits_from_env
from sentiment_core.runs.listing import list_runs
from sentiment_core.runs.store import RunError

COMPARISON_ERROR = "wt_comparison_error"  # session_state: why the comparison could not start, shown once
COMPARISON_POLL_SECONDS = 5.0  # the comparison's runs report once per batch; every few seconds is enough


def read_runs(root) -> list:
    try:
        return list_runs(root, include_walkthrough=True)  # this page's own runs are its point
    except OSError as err:
        st.error(f"The runs folder {shown_path(root)} could not be read: {user_message(err)} Check that it exists "
                 "and is readable.")
        return []


def comparison_running(views) -> list:
    """The comparison's runs that are waiting, starting or training."""
    return [v for v in views if v.name.startswith(gradient_flow.COMPARISON_PREFIX) and v.active]


def start_comparison(root) -> None:
    """Queue the vanilla RNN and the LSTM through the jobs module (it starts them within the limits)."""
    try:
        limits = limits_from_env()
        stamp = time.strftime("%Y%m%d-%H%M%S")
        # One request for the pair: in public mode the visitor owns both, and they count as one start
        # against the visitor's room (so the button cannot fill a class's queue).
        jobs.start_runs([(gradient_flow.comparison_config(cell), gradient_flow.comparison_run_name(stamp, cell))
                         for cell in gradient_flow.COMPARISON_CELLS], root=root, limits=limits,
                        data_dir=resources.treebank_state().folder, owner=visitor.owner_key())
    except (LimitsError, LimitExceeded, RunError, OSError) as err:  # JobError / QueueFull are RunErrors
        st.session_state[COMPARISON_ERROR] = (f"The comparison could not be started: {user_message(err)} "
                                              "(runs already queued keep going; see the Training page).")


def visible_runs(root) -> list:
    """The runs this visitor may see (public mode: their own, or everyone's in class mode; else all)."""
    runs = read_runs(root)
    if not settings.is_public():
        return runs
    try:
        limits = limits_from_env()
    except LimitsError:
        return []
    requester = visitor.requester()
    return [run for run in runs if jobs.may_see(requester, jobs.listed_job(run.path), limits)]


def runs_with_probes(root) -> list[tuple]:
    """(run, probe events) of every run whose metrics hold a probe with norms: the visitor's, then the shipped."""
    found = []
    for run in [*visible_runs(root), *read_shipped_runs()]:
        if run.config is not None:
            events = resources.probe_events(run.path)
            if any(e.get("norms") for e in events):
                found.append((run, events))
    return found


def read_shipped_runs() -> list:
    try:
        return shipped_runs()
    except OSError:  # a damaged installation: the section still offers to train the comparison
        return []


def run_label(run) -> str:
    if is_shipped(run):
        return f"{shipped_label(run)} ({run.config.model.cell})"
    return f"{run.name} ({run.config.model.cell}, {run.state})"


def show_probe_chart(with_probes: list[tuple]) -> None:
    labels = {run.name: run_label(run) for run, _ in with_probes}
    default = gradient_flow.newest_vanilla_and_gated([(run.name, run.config.model.cell) for run, _ in with_probes])
    # No key: when new runs appear, the options change and the newest pair is chosen again.
    chosen = st.multiselect("Runs to compare", list(labels), default, format_func=labels.get)
    show_before = st.checkbox("also show each run before training (epoch 0)", value=True, key="wt_probe_before")
    picked = [(run.name, run.config.model.cell, events) for run, events in with_probes if run.name in chosen]
    curves = gradient_flow.probe_curves(picked)
    trained = {c.run for c in curves if c.epoch > 0}  # a run probed only before training has nothing to compare
    before = [c for c in gradient_flow.probe_curves(picked, first=True) if c.epoch == 0 and c.run in trained] \
        if show_before else []
    if not curves:
        st.info("Choose at least one run.")
        return
    st.plotly_chart(presented(probe_runs_chart(curves, gradient_flow.VANISHING_BELOW, gradient_flow.EXPLODING_ABOVE,
                                     resources.run_colour_map(resources.runs_root()), before)), key="wt_probe_chart")
    st.dataframe(pd.DataFrame([{"run": c.run, "cell": c.cell, "after epoch": c.epoch, "steps measured": len(c.norms),
                                "relative norm at the first word": lessons.readable_norm(c.norms[0])} for c in curves]),
                 hide_index=True)
    st.caption("Why the gated curves fade more slowly: along the LSTM's cell state one step back multiplies the "
               "gradient by the forget gate alone. Section 7 draws f_t word by word beside the gradient it lets "
               "through.")
    page_link(WALKTHROUGH, "Section 7: the forget gate beside the gradient", {"section": "7"},
              icon=":material/alt_route:")


def training_time() -> str:
    """What the button costs, measured: the shipped pair was trained with this very config."""
    seconds = gradient_flow.comparison_seconds([run.status for run in read_shipped_runs()
                                                if run.name.split(":")[-1] in COMPARISON_MODELS])
    epochs = gradient_flow.comparison_config("scratch").train.epochs
    what = f"two runs of {epochs} epochs of the `seed` preset (200 batches of 4 sentences each), in the background"
    if seconds is None:
        return what + ": seconds, not minutes"
    return f"{what}; the shipped pair took {seconds:.0f} s each to train, so expect seconds plus the treebank's loading"


def offer_comparison(root, shown_shipped: bool) -> None:
    shipped = " The chart shows the pair shipped with the app (read-only)." if shown_shipped else ""
    st.info(f"No vanilla RNN and LSTM of your own with probes yet.{shipped} Train both here ({training_time()}), or on "
            "the Training page with your own settings. These runs are tagged as the walkthrough's: the other pages' "
            "run lists hide them unless asked.")
    has_treebank = resources.treebank_state().folder is not None
    if st.button("Train a vanilla RNN and an LSTM now", key="wt_train_comparison", disabled=not has_treebank,
                 help=None if has_treebank else "Training needs the treebank: get it on the Home page first."):
        start_comparison(root)
        st.rerun()  # the whole page, so this section starts refreshing itself
    page_link(TRAINING, "Train the seed preset (vanilla RNN)", {"preset": "seed"}, icon=":material/model_training:")
    page_link(TRAINING, "Train the seed preset with an LSTM", {"preset": "seed", "cell": "lstm"},
              icon=":material/model_training:")


def show_probe_comparison(root, views) -> None:
    """Section 6, redrawn by the run watcher while the comparison's runs train."""
    if COMPARISON_ERROR in st.session_state:
        st.error(st.session_state.pop(COMPARISON_ERROR))
    with_probes = runs_with_probes(root)
    if with_probes:
        show_probe_chart(with_probes)
    running = comparison_running(views)
    if running:
        progress = ", ".join(f"{v.name}: {v.state}, epoch {v.status.get('epoch') or 0} of "
                             f"{v.status.get('epochs') or '?'}" for v in running)
        st.info(f"Training in the background: {progress}. This section refreshes by itself every few seconds.")
    elif not gradient_flow.has_vanilla_and_gated(gradient_flow.probe_curves(
            [(run.name, run.config.model.cell, events) for run, events in with_probes if not is_shipped(run)])):
        offer_comparison(root, shown_shipped=any(is_shipped(run) for run, _ in with_probes))


def watch_probe_comparison(root) -> None:
    try:  # the watcher starts the second run when the first frees its slot
        limits = limits_from_env()
    except LimitsError as err:
        st.error(f"The training queue could not be advanced: {user_message(err)}")
        limits = None
    requester = visitor.requester()

    def theirs(views):  # public mode: only this visitor's comparison (everyone's in class mode)
        return views if limits is None or not settings.is_public() else jobs.visible_jobs(views, requester, limits)

    watch_runs(root, limits, lambda views: show_probe_comparison(root, theirs(views)),
               follows=lambda views: bool(comparison_running(theirs(views))), every=COMPARISON_POLL_SECONDS,
               shown=theirs)
