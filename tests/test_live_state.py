"""Labels that follow a run's state (issue 22, point 1): the run picker, "stopping", the probe slider,
and what a stopped run says it kept."""
from __future__ import annotations

import os

from streamlit.testing.v1 import AppTest

from sentiment_core.runs import jobs
from sentiment_core.config import RunConfig
from sentiment_core.runs.states import kept_checkpoint_text, shown_state, state_snapshot
from sentiment_core.runs.store import CHECKPOINT, STOP_FILE, create_run, write_status


def picker_page():
    """A live_selectbox over two runs whose labels come from $PICKER_STATES ("a=running,b=finished")."""
    import os

    import streamlit as st

    from dashboard.components.live_select import live_selectbox

    states = dict(pair.split("=") for pair in os.environ["PICKER_STATES"].split(","))
    chosen = live_selectbox("Run", list(states), key="watch", format_func=lambda n: f"{n} ({states[n]})")
    st.markdown(f"chosen: {chosen}")


def picker(at: AppTest):
    return next(w for w in at.selectbox if str(w.key).startswith("watch__"))


def test_the_run_picker_shows_the_labels_of_this_run_and_keeps_the_choice(monkeypatch):
    monkeypatch.setenv("PICKER_STATES", "a=starting,b=finished")
    at = AppTest.from_function(picker_page, default_timeout=60).run()
    assert picker(at).options == ["a (starting)", "b (finished)"] and picker(at).value == "a"
    picker(at).set_value("b").run()
    assert "chosen: b" in [m.value for m in at.markdown]
    # The runs move on: the widget the browser gets is a new one with the new labels, the choice kept.
    old_key = picker(at).key
    monkeypatch.setenv("PICKER_STATES", "a=running,b=finished")
    at.run()
    assert picker(at).key != old_key
    assert picker(at).options == ["a (running)", "b (finished)"] and picker(at).value == "b"
    assert "chosen: b" in [m.value for m in at.markdown]
    # Unchanged labels keep the widget (a rerun does not redraw the browser's box for nothing).
    same_key = picker(at).key
    at.run()
    assert picker(at).key == same_key


def slider_page():
    """The probe section's epoch slider over epochs 0..$EPOCHS."""
    import os

    import streamlit as st

    from dashboard.views.training_sections.probes import epoch_slider

    shown = epoch_slider(list(range(int(os.environ["EPOCHS"]) + 1)), "run-x")
    st.markdown(f"shown: {shown}")


def shown_epoch(at: AppTest) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("shown: "))


def test_the_probe_slider_follows_new_epochs_until_moved(monkeypatch):
    monkeypatch.setenv("EPOCHS", "1")
    at = AppTest.from_function(slider_page, default_timeout=60).run()
    assert shown_epoch(at) == "shown: 1"
    monkeypatch.setenv("EPOCHS", "3")  # two more epochs ended while the page watched
    at.run()
    assert shown_epoch(at) == "shown: 3" and at.select_slider[0].options == ["before training"] + [
        f"after epoch {e}" for e in (1, 2, 3)]
    at.select_slider[0].set_value(1).run()  # the visitor looks back: it stays there
    monkeypatch.setenv("EPOCHS", "4")
    at.run()
    assert shown_epoch(at) == "shown: 1"
    at.select_slider[0].set_value(4).run()  # back at the latest: it follows again
    monkeypatch.setenv("EPOCHS", "5")
    at.run()
    assert shown_epoch(at) == "shown: 5"


def test_a_run_asked_to_stop_is_stopping_until_it_ends(tmp_path):
    run_dir = create_run(RunConfig(), root=tmp_path, name="r")
    write_status(run_dir, state="running", pid=os.getpid())
    assert shown_state(jobs.job_view(run_dir)) == "running"
    (run_dir / STOP_FILE).write_text("")
    assert state_snapshot(jobs.list_jobs(tmp_path)) == {"r": "stopping"}
    write_status(run_dir, state="stopped")
    assert shown_state(jobs.job_view(run_dir)) == "stopped"  # a leftover stop file says nothing once it ended


def test_a_stopped_run_says_truly_what_it_kept(tmp_path):
    run_dir = create_run(RunConfig(), root=tmp_path, name="r")
    write_status(run_dir, state="stopped", message="Stopped on request at epoch 1, batch 3 of 40; no epoch was "
                                                   "completed.")
    assert kept_checkpoint_text(jobs.job_view(run_dir)) == " Nothing was saved to use."
    (run_dir / CHECKPOINT).write_bytes(b"provisional")  # the trainer saves the weights at the stop
    kept = kept_checkpoint_text(jobs.job_view(run_dir))
    assert "provisional" in kept and "best" not in kept and "less than one epoch" in kept
    write_status(run_dir, best_epoch=2, best_dev_accuracy=0.61)
    assert kept_checkpoint_text(jobs.job_view(run_dir)) == (" The checkpoint of its best epoch (epoch 2) is kept "
                                                             "and usable.")
