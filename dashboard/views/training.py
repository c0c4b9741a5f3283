"""Training runner: settings or a preset, a background run, live curves, stop / resume, results, comparison.

The page holds no training state of its own: a run is a directory (sentiment_core.runs.store) and
its process is managed by sentiment_core.runs.jobs, so reloading the browser or opening a second one
shows the same runs. The live panel is the shared run watcher (dashboard/components/run_watcher.py): it
redraws every second while any run is active and stops polling once none is.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from dashboard import resources, visitor
from dashboard.charts import training as charts
from dashboard.charts import gradient_flow as gradient_flow_charts
from dashboard.components.confusion_drill import confusion_drill
from dashboard.components.live_select import live_selectbox
from dashboard.components.run_watcher import watch_runs
from dashboard.escape import escape_markdown
from dashboard.messages import as_sentence, public_text, shown_path, user_message
from dashboard.query_params import shown_value
from dashboard.views.training_form import K, config_from_widgets, every_setting, initialise_settings, preset_picker
from dashboard.views.training_sections.compare import compare_section, results_table
from dashboard.views.training_sections.queue import class_leaderboard, format_duration, queue_wait_text
from dashboard.views.training_sections.timing import estimate_caption, time_left_text
from sentiment_core.runs.comparison import results_row
from dashboard.views.training_sections.probes import probe_section
from sentiment_core.analysis.evaluation import baselines
from sentiment_core.analysis.evaluation import run_progress
from sentiment_core import settings
from sentiment_core.runs import jobs
from sentiment_core.runs.metrics import RunMetrics
from sentiment_core.config import validate
from sentiment_core.runs.limits import LimitExceeded, LimitsError, describe_limits, limit_problems, limits_from_env
from sentiment_core.runs.states import kept_checkpoint_text, shown_state
from sentiment_core.runs.store import RunError, RunNotFound, is_walkthrough_run, read_config
from sentiment_core.data.text import label_scheme
from sentiment_core.data.treebank import TreebankError

WATCH = "train_watch"                  # session_state (components/live_select.py): the run shown in the live panel
FLASH = "train_flash"                  # session_state: (kind, message) to show after a rerun
STATE_ICONS = {"queued": ":material/schedule:", "starting": ":material/rocket_launch:", "running": ":material/sync:",
               "stopping": ":material/pending:", "finished": ":material/check_circle:",
               "stopped": ":material/stop_circle:", "failed": ":material/error:",
               "interrupted": ":material/warning:", "broken": ":material/broken_image:"}


# ---------------------------------------------------------------------------------------------
# Starting a run


def start_section(limits, root: Path, corpus, data_dir, server_views: list[jobs.JobView]) -> None:
    """`server_views`: every run on this server (its finished ones measure its speed for the estimate)."""
    # Parts whose length varies sit in containers of their own: an element that appears above the
    # "Every setting" expander would move it, and Streamlit would redraw it folded under the typing visitor.
    with st.container():
        for note in initialise_settings():
            st.warning(note)
        preset_name = preset_picker()
    config = config_from_widgets(preset_name)
    problems = []
    try:
        validate(config)
    except ValueError as err:
        problems.append(as_sentence(err))
    shape = None
    if corpus is not None and not problems:
        shape = resources.data_shape(corpus, config)
        if shape.train_size == 0:
            problems.append("There are no training examples with these data settings; raise the training limit.")
    if not problems:
        problems = limit_problems(config, limits, shape)
    with st.container():
        if shape is not None and not problems:
            st.caption(estimate_caption(config, shape, server_views, limits, corpus))
        for problem in problems:
            st.error(problem)
        if corpus is None:
            st.warning(resources.needs_treebank_note("Training"))
    name_col, button_col = st.columns([3, 1])
    run_name = name_col.text_input("Run name (optional)", key=K + "name", placeholder="default: time, cell and labels")
    clicked = button_col.button("Start training", type="primary", key=K + "start", disabled=bool(problems) or corpus is None,
                                help="Fix the settings first (under Every setting)." if problems else None,
                                width="stretch")
    every_setting(limits, config, open_it=bool(problems))
    if clicked:
        try:
            run_dir = jobs.start_run(config, root=root, limits=limits, shape=shape, name=run_name.strip() or None,
                                     data_dir=data_dir, owner=visitor.owner_key())
        except jobs.VisitorBusy as err:  # their run is shown below, where they can follow or stop it
            flash("error", user_message(err))
            watch(err.run_name)
            st.rerun()
        except (LimitExceeded, RunError, ValueError, OSError) as err:
            st.error(user_message(err))
            return
        view = jobs.job_view(run_dir)
        where = (f"waiting in the queue at place {view.queue_place}" if view.queue_place
                 else "started in the background")
        flash("success", f"Run **{escape_markdown(run_dir.name)}** {where}. Its progress is shown below; you may "
                         "leave this page.")
        watch(run_dir.name)
        st.rerun()


def flash(kind: str, message: str) -> None:
    st.session_state[FLASH] = (kind, message)


def show_flash() -> None:
    if FLASH in st.session_state:
        kind, message = st.session_state.pop(FLASH)
        getattr(st, kind)(message)


def watch(name: str) -> None:
    """Show this run in the live panel, also after a reload (the query parameter `run`)."""
    st.session_state[WATCH] = name
    st.query_params["run"] = name


# ---------------------------------------------------------------------------------------------
# One run: live view, buttons, results


def references_for(corpus, labels: int) -> tuple[list[tuple[str, float, str]], str | None]:
    """Reference lines for an accuracy chart: majority class (dev) and published test figures."""
    references = []
    if corpus is not None:
        counts = resources.split_label_counts(corpus, labels)
        majority = baselines.majority_baseline(counts["dev"], "dev")
        references.append((f"always '{majority.label}' (dev)", majority.accuracy, "baseline"))
    for result in baselines.published_results(labels):
        references.append((f"{result.model} (published, test)", result.accuracy, "published"))
    return references, baselines.no_published_note(labels)


def run_panel(path: Path, root: Path, limits, corpus, data_dir, requester: jobs.Requester,
              page_views: list[jobs.JobView], walkthrough: bool) -> None:
    """The chosen run, redrawn every second while any run is active (components/run_watcher.py).

    `page_views`: the runs the page's picker was drawn with; a change from them reruns the page.
    `walkthrough`: whether the page lists the walkthrough's runs (the picker's checkbox).
    """

    def listed(views: list[jobs.JobView]) -> list[jobs.JobView]:  # the runs the page lists, as it lists them
        views = views if walkthrough else [v for v in views if not is_walkthrough_run(v.name)]
        return jobs.visible_jobs(views, requester, limits)

    def draw(views: list[jobs.JobView]) -> None:
        try:
            view = jobs.job_view(path)
        except RunNotFound as err:
            st.warning(user_message(err))
            return
        waiting = queue_wait_text(view, views, limits, corpus)
        note = jobs.queue_note(root)  # SENTIMENT_QUEUE: live workers and waiting runs, or Redis unreachable
        if note:
            (st.warning if note.problem else st.caption)(escape_markdown(note.text))
        show_run(view, limits, corpus, data_dir, requester, waiting)

    watch_runs(root, limits, draw, shown=listed, page_views=page_views)


def show_run(view: jobs.JobView, limits, corpus, data_dir, requester: jobs.Requester = jobs.OPERATOR,
             waiting: str | None = None) -> None:
    """`requester` may change the run (jobs.owns) or only look at it: another visitor's run, in class mode."""
    header_col, buttons_col = st.columns([3, 2])
    state = shown_state(view)
    header_col.markdown(f"### {STATE_ICONS.get(state, '')} {escape_markdown(view.name)}: {state}")
    mine = jobs.owns(requester, view.job)
    if mine:
        with buttons_col:
            run_buttons(view, limits, data_dir, requester)
    else:
        whose = "The operator's run" if view.job is None else "Another visitor's run"  # a terminal's: no job record
        buttons_col.caption(f"{whose}: shown read-only.")
    show_state_message(view, waiting)
    try:
        metrics = resources.run_metrics(view.path)
    except RunNotFound as err:
        st.warning(user_message(err))
        return
    if metrics.problems:
        shown = metrics.problems[:3]
        more = f" (and {len(metrics.problems) - 3} more)" if len(metrics.problems) > 3 else ""
        st.warning("Some of this run's recorded events could not be read; the charts leave them out. "
                   + " ".join(user_message(problem) for problem in shown) + more)
    try:
        config = read_config(view.path)
    except RunError:
        config = None  # a damaged config: the state message above says what is wrong
    show_progress(view, metrics)
    if metrics.steps or metrics.epochs:
        labels = config.data.labels if config else 3
        references, note = references_for(corpus, labels)
        live_charts(view, metrics, references, note)
        probe_section(metrics, label_scheme(labels).class_names, view.name)
    results = view.status.get("results") or {}
    if results:
        show_results(results, corpus, config, view)
    elif view.state == "stopped" and view.has_checkpoint and corpus is not None and mine:
        st.caption("A stopped run is not evaluated when it stops (stopping stays quick). Evaluate its best "
                   "checkpoint on dev and test now, or resume it to finish its epochs.")
        if st.button("Evaluate the best checkpoint", key=K + "evaluate", icon=":material/fact_check:"):
            with st.spinner("Evaluating on dev and test..."):
                act(lambda: (jobs.evaluate_run(view.path, corpus, requester=requester),
                             f"Evaluated {view.name}'s best checkpoint on dev and test.")[1])
    if view.state in ("failed", "interrupted", "broken") or (view.state == "starting"):
        tail = jobs.log_tail(view.path, 4000)
        if tail.strip():
            with st.expander("Training log (last lines)"):
                st.code(public_text(tail.replace("\r", "\n")[-4000:]), language=None)


def show_state_message(view: jobs.JobView, waiting: str | None = None) -> None:
    """`waiting`: queue_wait_text, for a run in the queue."""
    message = user_message(view.message) if view.message else ""  # may quote a failure: one line, no paths
    if view.state == "queued":
        st.info(f"Waiting in the queue: {waiting or 'its place is being worked out.'} It starts by itself when a "
                "running run ends (this server trains a limited number of runs at once); you may leave this page "
                "and keep your place.")
    elif view.state == "starting":
        st.info("Starting: the training process is loading the data and building the model.")
    elif view.state == "running":
        if view.stop_requested:
            st.info("Stopping after the current batch...")
    elif view.state == "finished":
        st.success(message)
    elif view.state == "stopped":
        st.warning(message + kept_checkpoint_text(view))
    elif view.state == "interrupted":
        st.error(f"Interrupted: {message}" + (" Resume it to continue from its last save." if view.can_resume
                                               else " It ended before its first save, so there is nothing to resume: "
                                                    "start a new run with its settings."))
    else:
        st.error(message or f"The run is {view.state}.")


def run_buttons(view: jobs.JobView, limits, data_dir, requester: jobs.Requester = jobs.OPERATOR) -> None:
    if view.active:
        label = "Cancel" if view.state == "queued" else "Stop"
        tip = ("Take it out of the queue." if view.state == "queued"
               else "Stop after the current batch; the best checkpoint so far stays usable.")
        if st.button(label, key=K + "stop", disabled=view.stop_requested, icon=":material/stop:", help=tip):
            act(lambda: cancel_or_stop(view, limits, requester))
    if view.can_resume:
        if st.button("Resume", key=K + "resume", icon=":material/play_arrow:",
                     help="Continue from its last save (each epoch's end, and every few hundred batches)."):
            act(lambda: (jobs.resume_run(view.path, limits=limits, data_dir=data_dir, requester=requester),
                         f"{view.name} will resume (now, or when a slot frees).")[1])
    if not view.active and (limits.allow_delete or not settings.is_public()):  # a public demo shows no delete
        confirm = st.checkbox(f"Yes, delete {escape_markdown(view.name)} and all its files",
                              key=K + "confirm_delete_" + view.name)
        if st.button("Delete run", key=K + "delete", disabled=not confirm, icon=":material/delete:",
                     help="Tick the box above to confirm."):
            try:
                jobs.delete_run(view.path, limits=limits, requester=requester)
            except (RunError, OSError) as err:
                st.error(user_message(err))
                return
            flash("success", f"Deleted {escape_markdown(view.name)}.")
            unwatch()
            st.rerun(scope="app")


def cancel_or_stop(view: jobs.JobView, limits, requester: jobs.Requester = jobs.OPERATOR) -> str:
    """jobs.stop_run; a queued run it removes (public mode: one that never started) is no longer watched."""
    message = jobs.stop_run(view.path, limits=limits, requester=requester)
    if not view.path.exists():
        unwatch()
    return message


def unwatch() -> None:
    """The watched run is gone: the page picks another without saying it is missing."""
    st.session_state.pop(WATCH, None)
    st.query_params.pop("run", None)


def act(action) -> None:
    """Run a job action; its message shows after the app reruns (polling may start or stop)."""
    try:
        message = action()
    except (RunError, ValueError, OSError) as err:
        st.error(user_message(err))
        return
    flash("info", user_message(message))
    st.rerun(scope="app")


def show_progress(view: jobs.JobView, metrics: RunMetrics) -> None:
    progress = run_progress.progress(metrics)
    if progress is None:
        return
    parts = [f"epoch {progress.epoch} of {progress.epochs}", f"batch {progress.batch} of {progress.batches}"]
    if progress.sentences_per_second:
        parts.append(f"{progress.sentences_per_second:,.0f} sentences/s")
    left = time_left_text(shown_state(view), progress.seconds_left, progress.batch, progress.batches, progress.epoch,
                          progress.epochs, progress.elapsed)
    if left:
        parts.append(left)
    st.progress(progress.fraction, text=" · ".join(parts))
    best = metrics.best_dev_accuracy()
    columns = st.columns(4)
    columns[0].metric("Best dev accuracy so far", f"{best:.1%}" if best is not None else "-")
    columns[1].metric("Epochs done", f"{len(metrics.epochs)} of {progress.epochs}")
    columns[2].metric("Elapsed", format_duration(progress.elapsed))
    last_loss = metrics.losses[-1] if metrics.losses else None
    columns[3].metric("Last batch loss", f"{last_loss:.3f}" if last_loss is not None else "-")


def live_charts(view, metrics: RunMetrics, references, note) -> None:
    left, right = st.columns(2)
    if metrics.steps:
        left.plotly_chart(charts.batch_loss_chart(metrics.positions, metrics.losses, run_progress.smooth(metrics.losses)),
                          key=K + "batch_loss", width="stretch")
    rows = metrics.epoch_rows()
    if rows:
        right.plotly_chart(charts.epoch_loss_chart(rows), key=K + "epoch_loss", width="stretch")
        left.plotly_chart(charts.epoch_accuracy_chart(rows, references), key=K + "epoch_accuracy", width="stretch")
        if note:  # under the chart: written on it, it ran into the title
            left.caption(note)
    if any(p.get("norms") for p in metrics.probes.values()):
        right.plotly_chart(gradient_flow_charts.probe_epochs_chart(metrics.probes), key=K + "gradient_flow",
                           width="stretch")
        right.caption("The gradient of the loss (read after the last step) reaching each step of a fixed dev batch. "
                      "In a vanilla RNN the lines fall steeply towards the first words (vanishing gradients); in an "
                      "LSTM or GRU they stay level.")


def show_results(results: dict, corpus, config, run) -> None:
    st.markdown("#### Results of the best checkpoint")
    labels = config.data.labels if config else None
    columns = st.columns(4)
    for column, split in zip(columns, ("test", "dev")):
        if split in results:
            column.metric(f"{split} accuracy", f"{results[split]['accuracy']:.1%}",
                          help=f"{results[split]['count']:,} sentences; macro F1 {results[split]['macro_f1']:.3f}")
    if corpus is not None and labels:
        counts = resources.split_label_counts(corpus, labels)
        majority = baselines.majority_baseline(counts["test"], "test")
        columns[2].metric("majority class (test)", f"{majority.accuracy:.1%}", help=f"always answering '{majority.label}'")
        if "test" in results and results["test"]["accuracy"] <= majority.accuracy:
            st.warning(baselines.below_majority_note(results["test"]["accuracy"], majority, config))
        published = baselines.published_results(labels)
        if published:
            best = max(published, key=lambda r: r.accuracy)
            columns[3].metric("best published (test)", f"{best.accuracy:.1%}", help=f"{best.model}: {best.citation}")
        else:
            columns[3].caption(baselines.no_published_note(labels))
    results_table([results_row(run.name, results)], key=K + "run_results")
    tabs = st.tabs([f"{split} set" for split in ("test", "dev") if split in results])
    for tab, split in zip(tabs, [s for s in ("test", "dev") if s in results]):
        result = results[split]
        with tab:
            table_col, matrix_col = st.columns([1, 1])
            table = pd.DataFrame(result["per_class"]).rename(columns={"label": "class"})
            table_col.dataframe(table, hide_index=True, width="stretch",
                                column_config={c: st.column_config.NumberColumn(format="%.3f")
                                               for c in ("precision", "recall", "f1")})
            table_col.caption(f"loss {result['loss']:.3f}, macro F1 {result['macro_f1']:.3f}, "
                              f"{result['count']:,} sentences")
            with matrix_col:  # a cell lists its sentences (the same first eval_limit sentences as the table)
                confusion_drill(run.path, run.name, corpus, split, K + f"confusion_{split}",
                                config.data.eval_limit if config else None, slice_picker=False)
    if labels and baselines.published_results(labels):
        with st.expander("Published figures for this label scheme"):
            st.dataframe(pd.DataFrame([{"model": r.model, "test accuracy": f"{r.accuracy:.1%}", "source": r.citation}
                                       for r in baselines.published_results(labels)]), hide_index=True)


# ---------------------------------------------------------------------------------------------
# The page


def load_corpus_quietly():
    state = resources.treebank_state()
    if state.folder is None:
        return None, None
    try:
        return resources.corpus_for(state), state.folder
    except (TreebankError, OSError) as err:
        st.error(f"The treebank in {shown_path(state.folder)} could not be read: {user_message(err)}")
        return None, None


st.title("Training runner")
st.markdown("Train a recurrent network on the treebank in the background and watch it learn: the same "
            "`python -m sentiment_core train` command as on the command line, run as its own process. You may "
            "leave or reload this page; the run keeps going and shows here again.")
try:
    limits = limits_from_env()
except LimitsError as err:
    st.error(f"This server's training limits are misconfigured: {user_message(err)}")
    st.stop()
root = resources.runs_root()
corpus, data_dir = load_corpus_quietly()
requester = visitor.requester()  # public mode: this browser's runs only (their own key, or the operator's)
visitor.operator_key_field()
show_flash()

try:
    jobs.advance_queue(root, limits)
    all_views = jobs.list_jobs(root, include_walkthrough=st.session_state.get(K + "show_walkthrough", False))
    views = jobs.visible_jobs(all_views, requester, limits)
except (RunError, OSError) as err:
    st.error(f"The runs folder {shown_path(root)} could not be read: {user_message(err)}")
    all_views = views = []
any_active = any(v.active and jobs.owns(requester, v.job) for v in views)

with st.expander("New run", expanded=not any_active):
    start_section(limits, root, corpus, data_dir, all_views)
    with st.popover("This server's limits"):
        # One line per training-limits variable of the settings table (settings_table.py): a list wraps,
        # so the meanings stay readable in a popover and on a phone (a table's cells did not).
        st.markdown("\n".join(f"- {escape_markdown(meaning)}: **{escape_markdown(value)}** (`{name}`)"
                               for name, value, meaning in describe_limits(limits)))

st.subheader("Runs")
st.checkbox("show walkthrough runs", key=K + "show_walkthrough", help="Runs the walkthrough page started are hidden.")
if not views:
    st.info("No runs yet. Choose settings above and start one.")
else:
    names = [v.name for v in views]
    requested = st.query_params.get("run")
    if st.session_state.get(WATCH) not in names:
        active = [v.name for v in views if v.active]
        st.session_state[WATCH] = requested if requested in names else (active[0] if active else names[0])
        if requested and requested not in names:
            st.warning(f"There is no run called '{escape_markdown(shown_value(requested))}' (it may have been deleted); "
                       "showing another.")
    states = {v.name: shown_state(v) for v in views}
    chosen = live_selectbox("Run", names, key=WATCH, format_func=lambda n: f"{n} ({states[n]})")
    if st.query_params.get("run") != chosen:
        st.query_params["run"] = chosen
    run_panel(root / chosen, root, limits, corpus, data_dir, requester, views,
              st.session_state.get(K + "show_walkthrough", False))
    if limits.shared_runs:
        class_leaderboard(views)

    st.subheader("Compare runs")
    compare_section(views, lambda labels: references_for(corpus, labels))
