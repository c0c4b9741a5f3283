"""Choosing the run that answers, and a quick model to train when the visitor has none of their own."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard import resources, visitor
from dashboard.components import run_choice
from dashboard.components.run_watcher import watch_runs
from dashboard.escape import escape_markdown
from dashboard.messages import user_message
from dashboard.views.playground_sections.common import K, explain_failure
from dashboard.components.run_labels import run_label
from sentiment_core.analysis.inference import model_choice
from sentiment_core.analysis.evaluation import run_progress
from sentiment_core import settings
from sentiment_core.analysis.inference.predictor import QUICK_PRESET, playground_runs, quick_run_config
from sentiment_core.runs import jobs
from sentiment_core.runs.limits import LimitExceeded, Limits, LimitsError, limits_from_env
from sentiment_core.runs.store import RunError


def offered_runs(root: Path) -> list:
    """playground_runs for this visitor: in public mode only their own runs (everyone's in class mode,
    SENTIMENT_SHARED_RUNS), then the shipped ones; locally every run."""
    if not settings.is_public():
        return playground_runs(root)
    try:
        limits = limits_from_env()
    except LimitsError:
        limits = Limits()  # misconfigured: the training page says so; here the safe side, own runs only
    return playground_runs(root, requester=visitor.requester(), limits=limits)


def quick_model_section(root: Path, has_default: bool) -> None:
    default = ", so the answers below come from the shipped default model (read-only)" if has_default else ""
    st.info(f"You have no trained model yet{default}. Train a small one of your own here (a GRU over the training "
            "sentences, 2 epochs; how long depends on this server and its load), or a bigger one on the **Training "
            "runner** page, which estimates the time from the runs this server finished.")
    try:
        limits = limits_from_env()
        requester = visitor.requester()
        views = [v for v in jobs.list_jobs(root) if jobs.owns(requester, v.job)]  # this visitor's runs only
    except (LimitsError, RunError, OSError) as err:
        st.error(f"Training cannot start here: {user_message(err)}")
        return
    active = [v for v in views if v.active]
    if active:
        training_progress(root, active[0].name, limits)
        return
    failed = next((v for v in views if v.status.get("preset") == QUICK_PRESET and v.state == "failed"), None)
    if failed is not None:
        st.error(f"The last quick model ({escape_markdown(failed.name)}) failed: {user_message(failed.message)}")
    treebank = resources.treebank_state()
    if treebank.folder is None:
        st.warning("Training needs the Stanford Sentiment Treebank. Open **Home** (first in the menu) to install it.")
        return
    if st.button("Train a quick model", type="primary", key=K + "quick"):
        try:
            jobs.start_run(quick_run_config(), root=root, limits=limits, data_dir=treebank.folder,
                           owner=visitor.owner_key())
        except (LimitExceeded, RunError, ValueError, OSError) as err:
            st.error(f"The quick model could not be started: {user_message(err)}")
            return
        st.rerun()


def training_progress(root: Path, name: str, limits) -> None:
    """A progress bar that follows the run's metrics; the page reloads when the run ends."""

    def draw(views: list[jobs.JobView]) -> None:
        view = next((v for v in views if v.name == name), None)
        if view is None or not view.active:
            st.rerun(scope="app")  # it ended before the watcher started
        progress = run_progress.progress(resources.run_metrics(view.path))
        if progress is None:
            st.progress(0.0, text=f"Run **{escape_markdown(name)}**: {user_message(view.message or view.state)}")
        else:
            st.progress(progress.fraction, text=f"Run **{escape_markdown(name)}**: epoch {progress.epoch} of "
                                                f"{progress.epochs}, "
                                                f"batch {progress.batch} of {progress.batches}")
        st.caption("The playground opens when the run has finished; you may leave this page meanwhile.")

    watch_runs(root, limits, draw, follows=lambda views: any(v.name == name and v.active for v in views))




def pick_answering_run(runs: list, label: str, key: str):
    """The run that answers: the best by dev accuracy unless a run just trained, a link or the visitor chose
    another (dashboard.components.run_choice), with one line saying why under the selector."""
    by_name = {r.name: r for r in runs}
    choice = model_choice.default_run(runs)
    wanted = run_choice.override(runs, key)
    if wanted is not None:
        st.session_state[key] = wanted
    elif st.session_state.get(key) not in by_name:
        st.session_state[key] = choice.run.name
    chosen = by_name[st.selectbox(label, list(by_name), key=key, format_func=lambda n: run_label(by_name[n]),
                                  help="Your finished runs (newest first), then the shipped default. The page "
                                       "opens on the best by dev accuracy on the whole dev split.")]
    run_choice.explain_choice(chosen, choice, run_choice.why_chosen(key, chosen.name, choice))
    return chosen


def pick_run(runs: list, label: str, key: str, default: int = 0):
    names = [r.name for r in runs]
    by_name = {r.name: r for r in runs}
    if st.session_state.get(key) not in names:
        st.session_state[key] = names[min(default, len(names) - 1)]
    chosen = st.selectbox(label, names, key=key, format_func=lambda n: run_label(by_name[n]))
    return by_name[chosen]


def shipped_caption(run) -> None:
    results = run.status.get("results") or {}
    figures = " and ".join(f"{results[s]['accuracy']:.1%} on {s}" for s in ("dev", "test") if s in results)
    st.caption(f"The default model shipped with the app{f' ({figures} sentences)' if figures else ''}, rebuilt "
               "with `python -m sentiment_core pretrained --build`. It is read-only: train your own on the "
               "**Training runner** page.")


def load_predictor(run, max_tokens: int):
    try:
        return resources.predictor(run.path, max_tokens)
    except (RunError, OSError) as err:
        explain_failure(run, err)
        return None
