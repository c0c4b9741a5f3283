"""The background-run watcher: a live section of a page that follows runs training elsewhere.

Runs train in other processes (sentiment_core.runs.jobs); a page sees them only through
their folders. The queue has no daemon of its own: a waiting run starts when some page calls
jobs.advance_queue. So a page that shows runs in progress does the same three things on a
timer: advance the queue, read the runs' states, redraw its section. When the runs it follows
start or stop being active, the rest of the page changes too (a result, a form, a button), so
the whole page reruns once; otherwise only the section redraws (st.fragment(run_every=...)).
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import streamlit as st

from dashboard.messages import shown_path, user_message
from sentiment_core.runs import jobs
from sentiment_core.runs.limits import Limits
from sentiment_core.runs.states import state_snapshot
from sentiment_core.runs.store import RunError

POLL_SECONDS = 1.0


def any_active(views: Sequence[jobs.JobView]) -> bool:
    return any(v.active for v in views)


def run_states(views: Sequence[jobs.JobView]) -> dict[str, str]:
    """{name: state as pages name it}: "stopping" counts as a change too (run_states.shown_state)."""
    return state_snapshot(views)


def read_views(root: Path, limits: Limits | None) -> list[jobs.JobView] | None:
    """Advance the queue (unless `limits` is None) and read every run's state; None after saying why not."""
    try:
        if limits is not None:
            jobs.advance_queue(root, limits)
        return jobs.list_jobs(root)
    except (RunError, OSError) as err:
        st.error(f"The runs folder {shown_path(root)} could not be read: {user_message(err)}")
        return None


def every_run(views: list[jobs.JobView]) -> list[jobs.JobView]:
    return views


def watch_runs(root: Path, limits: Limits | None, draw: Callable[[list[jobs.JobView]], None], *,
               follows: Callable[[Sequence[jobs.JobView]], bool] = any_active,
               every: float = POLL_SECONDS,
               shown: Callable[[list[jobs.JobView]], list[jobs.JobView]] = every_run,
               page_views: Sequence[jobs.JobView] | None = None) -> None:
    """Draw `draw(views)` now, and again every `every` seconds while `follows(views)` is true.

    `views` are jobs.list_jobs(root), read after advancing the queue within `limits` (None: only
    read). `follows` says whether the runs this section watches are active; when its answer
    changes the whole page reruns, so polling starts and stops with those runs. It reruns too
    when any run's state changes, so labels elsewhere on the page never lag behind. `shown`: the
    runs the page lists (public mode: the visitor's own, jobs.visible_jobs); only their changes
    rerun the page, so thirty visitors' runs do not redraw every page each time one moves. `draw`
    still gets every run (a queue place depends on the runs ahead, whoever started them).

    `page_views`: the runs as the rest of the page read them and drew its labels with. They are the
    yardstick: a state that changed between the page's read and this one (a run starting while a
    slow machine ran the page) would otherwise be missed, leaving "(starting)" in a picker for good.
    """
    try:
        views_now = list(page_views) if page_views is not None else jobs.list_jobs(root)
        polling, states = follows(shown(views_now)), run_states(shown(views_now))
    except (RunError, OSError):
        polling, states = False, None  # the section itself says what is wrong

    @st.fragment(run_every=every if polling else None)
    def live() -> None:
        views = read_views(root, limits)
        if views is None:
            return
        # The rest of the page names runs with their states (a run picker's labels, a form): when
        # one changes, queued -> starting -> running -> finished, the page is redrawn with it.
        if follows(shown(views)) != polling or (states is not None and run_states(shown(views)) != states):
            st.rerun(scope="app")
        draw(views)

    live()
