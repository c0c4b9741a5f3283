"""Visitors own their runs, and a public server is sized for a class (issue 20, points 1 and 2).

The library: a run started with an owner records only a hash of the key; stop, resume, evaluate and
delete refuse, in one sentence, a requester who does not own the run and change nothing; a terminal's
run is the operator's; a visitor lists only their own runs unless the operator sets class mode; one
live or queued run per visitor; the queue's wait estimate from measured speed. The settings: the
public defaults sized from the machine. The pages (AppTest, public mode): another visitor's run is
not listed, or listed read-only in class mode; a second Start points to the visitor's run; the
operator key unlocks every run. Nothing here trains: a terminal's run (this test process stands in
for its trainer) holds the one training slot, so started runs wait in the queue.
"""
from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import visitor
from sentiment_core.analysis.inference.predictor import playground_runs
from sentiment_core.pretrained import PLAYGROUND_MODEL, PRETRAINED_DIR
from sentiment_core.settings import PUBLIC_DEFAULTS, concurrent_runs_for_machine, describe_limits, limits_from_env
from sentiment_core.runs import jobs
from sentiment_core.runs.limits import Limits
from sentiment_core.runs.store import LAST, STATUS, create_run, read_status, write_json, write_status
from tests.helpers import APP, run_picker, tiny_config
from tests.test_escape import unescape

ONE_SLOT = Limits(max_concurrent_runs=1, max_queue=60, max_runs_per_visitor=1)
ALICE, BOB = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
PAGE = "views/training.py"


def terminal_run(root: Path, name: str = "operator-training", state: str = "running") -> Path:
    """A run `train` started in a terminal (no job record); running, it holds the training slot."""
    run_dir = create_run(tiny_config(), root=root, name=name)
    write_status(run_dir, state=state, pid=os.getpid())
    return run_dir


def stopped_run(root: Path, name: str, owner: str | None) -> Path:
    """A visitor's run (a page started it) that was stopped with a saved training state."""
    run_dir = create_run(tiny_config(), root=root, name=name)
    jobs.write_job(run_dir, kind="train", state=jobs.DONE, pid=None, exit_code=0, launched_at=1_000.0,
                   ended_at=1_100.0, owner=jobs.owner_digest(owner) if owner else None)
    write_json(run_dir / STATUS, {**read_status(run_dir), "state": "stopped", "ended_at": 1_100.0})
    (run_dir / LAST).write_bytes(b"saved training state")
    return run_dir


def run_files(run_dir: Path) -> bytes:
    return b"".join(path.read_bytes() for path in sorted(run_dir.rglob("*")) if path.is_file())


# ---------------------------------------------------------------------------------------------
# The library


def test_a_run_records_only_a_hash_of_its_owner_key(tmp_path):
    root = tmp_path / "runs"
    terminal_run(root)
    run_dir = jobs.start_run(tiny_config(), root=root, limits=ONE_SLOT, name="alice-run", owner=ALICE)
    assert jobs.read_job(run_dir)["owner"] == jobs.owner_digest(ALICE) != ALICE
    assert ALICE.encode() not in run_files(run_dir)
    assert jobs.owns(jobs.Requester(key=ALICE), jobs.read_job(run_dir))
    assert not jobs.owns(jobs.Requester(key=BOB), jobs.read_job(run_dir))
    assert not jobs.owns(jobs.Requester(key=None), jobs.read_job(run_dir))
    assert not jobs.owns(jobs.Requester(key=jobs.owner_digest(ALICE)), jobs.read_job(run_dir))  # the hash is no key


def test_another_visitor_cannot_cancel_stop_resume_evaluate_or_delete_a_run_and_nothing_changes(tmp_path):
    root = tmp_path / "runs"
    terminal_run(root)
    waiting = jobs.start_run(tiny_config(), root=root, limits=ONE_SLOT, name="alice-waiting", owner=ALICE)
    stopped = stopped_run(root, "alice-stopped", ALICE)
    bob = jobs.Requester(key=BOB)
    before = {path: run_files(path) for path in (waiting, stopped)}
    attempts = [lambda: jobs.stop_run(waiting, limits=ONE_SLOT, requester=bob),
                lambda: jobs.resume_run(stopped, limits=ONE_SLOT, requester=bob),
                lambda: jobs.evaluate_run(stopped, None, requester=bob),
                lambda: jobs.delete_run(stopped, limits=Limits(allow_delete=True), requester=bob)]
    for attempt in attempts:
        with pytest.raises(jobs.NotYourRun) as refused:
            attempt()
        assert str(refused.value).count(". ") == 0 and "another visitor" in str(refused.value)
    assert {path: run_files(path) for path in (waiting, stopped)} == before
    assert jobs.job_view(waiting).state == "queued" and jobs.job_view(stopped).state == "stopped"

    assert "taken out of the queue" in jobs.stop_run(waiting, limits=ONE_SLOT, requester=jobs.Requester(key=ALICE))
    jobs.resume_run(stopped, limits=ONE_SLOT, requester=jobs.Requester(key=ALICE))
    assert jobs.job_view(stopped).state == "queued"


def test_a_terminal_run_is_the_operators_and_the_operator_manages_every_run(tmp_path):
    root = tmp_path / "runs"
    terminal = terminal_run(root)
    waiting = jobs.start_run(tiny_config(), root=root, limits=ONE_SLOT, name="alice-waiting", owner=ALICE)
    with pytest.raises(jobs.NotYourRun):
        jobs.stop_run(terminal, limits=ONE_SLOT, requester=jobs.Requester(key=ALICE))
    assert not jobs.job_view(terminal).stop_requested
    assert "taken out of the queue" in jobs.stop_run(waiting, limits=ONE_SLOT, requester=jobs.OPERATOR)
    assert "will stop after its current batch" in jobs.stop_run(terminal, limits=ONE_SLOT, requester=jobs.OPERATOR)


def test_a_visitor_lists_their_own_runs_and_everyones_only_in_class_mode(tmp_path):
    root = tmp_path / "runs"
    terminal_run(root)
    jobs.start_run(tiny_config(), root=root, limits=ONE_SLOT, name="alice-waiting", owner=ALICE)
    stopped_run(root, "bob-stopped", BOB)
    views = jobs.list_jobs(root)
    alice = jobs.Requester(key=ALICE)
    assert [v.name for v in jobs.visible_jobs(views, alice, ONE_SLOT)] == ["alice-waiting"]
    shared = Limits(shared_runs=True)
    assert {v.name for v in jobs.visible_jobs(views, alice, shared)} == {"alice-waiting", "bob-stopped",
                                                                        "operator-training"}
    assert len(jobs.visible_jobs(views, jobs.OPERATOR, ONE_SLOT)) == 3


def test_one_live_or_queued_run_per_visitor_and_the_refusal_names_it(tmp_path):
    root = tmp_path / "runs"
    terminal_run(root)
    first = jobs.start_run(tiny_config(), root=root, limits=ONE_SLOT, name="alice-first", owner=ALICE)
    with pytest.raises(jobs.VisitorBusy) as refused:
        jobs.start_run(tiny_config(), root=root, limits=ONE_SLOT, name="alice-second", owner=ALICE)
    assert refused.value.run_name == "alice-first" and "alice-first (waiting at place 1 in the queue)" in str(refused.value)
    assert not (root / "alice-second").exists()
    jobs.start_run(tiny_config(), root=root, limits=ONE_SLOT, name="bob-first", owner=BOB)  # first come, first served
    assert jobs.job_view(root / "bob-first").queue_place == 2
    jobs.start_run(tiny_config(), root=root, limits=ONE_SLOT, name="operator-second")  # no owner: no per-visitor cap
    jobs.stop_run(first, limits=ONE_SLOT, requester=jobs.Requester(key=ALICE))
    jobs.start_run(tiny_config(), root=root, limits=ONE_SLOT, name="alice-second", owner=ALICE)  # room again


def test_the_walkthroughs_pair_is_one_request_owned_by_the_visitor_and_hidden_from_others(tmp_path):
    # The walkthrough's button queues a vanilla RNN and an LSTM: both the visitor's, counted as one start, so
    # the button neither bypasses the per-visitor cap nor is refused half-way by it.
    root = tmp_path / "runs"
    terminal_run(root)
    pair = jobs.start_runs([(tiny_config(), "walkthrough-a"), (tiny_config(), "walkthrough-b")], root=root,
                           limits=ONE_SLOT, owner=ALICE)
    alice, bob = jobs.Requester(key=ALICE), jobs.Requester(key=BOB)
    assert all(jobs.owns(alice, jobs.read_job(run)) and not jobs.owns(bob, jobs.read_job(run)) for run in pair)
    with pytest.raises(jobs.VisitorBusy):
        jobs.start_runs([(tiny_config(), "walkthrough-c"), (tiny_config(), "walkthrough-d")], root=root,
                        limits=ONE_SLOT, owner=ALICE)
    assert not (root / "walkthrough-c").exists() and not (root / "walkthrough-d").exists()
    assert [v.name for v in jobs.visible_jobs(jobs.list_jobs(root), bob, ONE_SLOT)] == []


def test_several_slots_train_one_thread_each(tmp_path):
    root = tmp_path / "runs"
    for i in range(3):
        terminal_run(root, f"operator-{i}")
    three = Limits(max_concurrent_runs=3)
    run_dir = jobs.start_run(tiny_config(), root=root, limits=three, name="visitor")
    command = jobs.read_job(run_dir)["command"]
    assert command[command.index("--threads") + 1] == "1"
    one = jobs.start_run(tiny_config(), root=root, limits=Limits(max_concurrent_runs=1), name="alone")
    alone = jobs.read_job(one)["command"]  # a single slot: the cores free when it starts (settings.free_cores)
    assert alone[alone.index("--threads") + 1] == "auto"


def test_the_wait_is_estimated_from_runs_this_server_finished_first_come_first_served(tmp_path):
    root = tmp_path / "runs"
    now = 10_000.0
    finished = create_run(tiny_config(), root=root, name="done-before")  # a gru run took 100 s here
    jobs.write_job(finished, kind="train", state=jobs.DONE, launched_at=1_000.0, ended_at=1_100.0)
    write_json(finished / STATUS, {**read_status(finished), "state": "finished", "ended_at": 1_100.0})
    running = terminal_run(root)
    write_json(running / STATUS, {**read_status(running), "started_at": now - 30})  # 70 s left
    first = jobs.start_run(tiny_config(), root=root, limits=ONE_SLOT, name="first", owner=ALICE)
    second = jobs.start_run(tiny_config(), root=root, limits=ONE_SLOT, name="second", owner=BOB)
    lstm = jobs.start_run(tiny_config(cell="lstm"), root=root, limits=ONE_SLOT, name="lstm", owner="c" * 43)
    last = jobs.start_run(tiny_config(), root=root, limits=ONE_SLOT, name="last", owner="d" * 43)
    views = jobs.list_jobs(root)
    by_name = {v.name: v for v in views}

    def estimate(name):
        return jobs.wait_estimate(by_name[name], views, ONE_SLOT, lambda run: 500.0, now=now)

    assert estimate("first") == jobs.WaitEstimate(70.0, True)
    assert estimate("second") == jobs.WaitEstimate(170.0, True)
    assert estimate("lstm") == jobs.WaitEstimate(270.0, True)
    assert estimate("last") == jobs.WaitEstimate(770.0, False)  # the lstm's 500 s are the settings' estimate
    two_slots = Limits(max_concurrent_runs=2)
    # Two slots: first takes the free one (until 100 s), second the running run's when it ends at 70 s.
    assert jobs.wait_estimate(by_name["second"], views, two_slots, lambda run: 500.0, now=now).seconds == 70.0
    assert jobs.wait_estimate(by_name["done-before"], views, ONE_SLOT, lambda run: 500.0, now=now) is None
    assert jobs.wait_estimate(by_name["last"], views, ONE_SLOT, lambda run: None, now=now) is None
    assert [first, second, lstm, last]  # all four waiting, in order


def finished_run(root: Path, name: str, owner: str | None) -> Path:
    """The shipped model copied into the runs folder as a run `owner` finished (None: a terminal's)."""
    run_dir = Path(shutil.copytree(PRETRAINED_DIR / PLAYGROUND_MODEL, root / name))
    write_json(run_dir / STATUS, {k: v for k, v in read_status(run_dir).items() if k != "shipped"})
    if owner is not None:
        jobs.write_job(run_dir, kind="train", state=jobs.DONE, owner=jobs.owner_digest(owner))
    return run_dir


def test_the_playground_and_analysis_offer_a_visitor_their_own_runs_and_everyones_only_in_class_mode(tmp_path):
    root = tmp_path / "runs"
    for name, owner in (("alice-gru", ALICE), ("bob-gru", BOB), ("operator-gru", None)):
        finished_run(root, name, owner)
    shipped = tmp_path / "no-shipped"

    def offered(requester, limits=ONE_SLOT):
        return sorted(r.name for r in playground_runs(root, shipped, requester=requester, limits=limits))

    assert offered(jobs.Requester(key=ALICE)) == ["alice-gru"]
    assert offered(jobs.Requester(key=ALICE), Limits(shared_runs=True)) == ["alice-gru", "bob-gru", "operator-gru"]
    assert offered(jobs.OPERATOR) == offered(None) == ["alice-gru", "bob-gru", "operator-gru"]


# ---------------------------------------------------------------------------------------------
# Capacity defaults


@pytest.mark.parametrize("cores, runs", [(1, 1), (2, 1), (4, 3), (16, 15)])
def test_concurrent_runs_are_the_cores_less_one_for_the_web_server(cores, runs):
    assert concurrent_runs_for_machine(cores) == runs


def test_public_defaults_are_sized_for_a_class():
    public = limits_from_env({"SENTIMENT_PUBLIC": "1"})
    assert public.max_concurrent_runs == concurrent_runs_for_machine() >= 1
    assert (public.max_queue, public.max_runs_per_visitor, public.shared_runs) == (60, 1, False)
    assert PUBLIC_DEFAULTS["SENTIMENT_MAX_QUEUE"] == "60"
    assert limits_from_env({"SENTIMENT_PUBLIC": "1", "SENTIMENT_SHARED_RUNS": "1"}).shared_runs is True
    local = limits_from_env({})
    assert (local.max_runs_per_visitor, local.shared_runs) == (0, False)  # locally unchanged
    shown = {row[0]: row[1] for row in describe_limits(public)}
    assert shown["SENTIMENT_MAX_RUNS_PER_VISITOR"] == "1" and shown["SENTIMENT_SHARED_RUNS"] == "off"


# ---------------------------------------------------------------------------------------------
# The training page, public mode


def open_as(key: str, query: dict | None = None) -> AppTest:
    """The training page in a new browser session whose visitor key (its cookie) is `key`."""
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state[visitor.KEY_STATE] = key
    for name, value in (query or {}).items():
        at.query_params[name] = value
    at.switch_page(PAGE).run()  # not open_page(at=...): an AppTest that has not run yet is falsy
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(elements) -> str:
    return " | ".join(unescape(str(e.value)) for e in elements)


def control_keys(at: AppTest) -> set[str]:
    return {b.key for b in at.button} & {"train_stop", "train_resume", "train_evaluate", "train_delete"}


def test_a_visitor_sees_and_manages_only_their_own_runs(public_root):
    terminal_run(public_root)
    jobs.start_run(tiny_config(), root=public_root, limits=limits_from_env(), name="alice-waiting", owner=ALICE)
    alice = open_as(ALICE)
    assert run_picker(alice).options == ["alice-waiting (queued)"]
    assert control_keys(alice) == {"train_stop"}
    assert "1st in the queue" in texts(alice.info)

    bob = open_as(BOB, {"run": "alice-waiting"})
    assert not [s for s in bob.selectbox if str(s.key).startswith("train_watch")] and not control_keys(bob)
    assert "No runs yet" in texts(bob.info)


def test_in_class_mode_another_visitors_run_is_read_only_with_a_leaderboard(public_root, monkeypatch):
    monkeypatch.setenv("SENTIMENT_SHARED_RUNS", "1")
    stopped_run(public_root, "alice-stopped", ALICE)
    bob = open_as(BOB, {"run": "alice-stopped"})
    assert run_picker(bob).value == "alice-stopped"
    assert not control_keys(bob) and "Another visitor's run: shown read-only." in texts(bob.caption)
    assert [h for h in bob.subheader if h.value == "Class leaderboard"]
    alice = open_as(ALICE, {"run": "alice-stopped"})
    assert "train_resume" in control_keys(alice)


def test_a_second_start_says_so_and_shows_the_visitors_run(public_root):
    terminal_run(public_root)
    jobs.start_run(tiny_config(), root=public_root, limits=limits_from_env(), name="alice-first", owner=ALICE)
    alice = open_as(ALICE)
    alice.text_input(key="train_name").set_value("alice-second")
    alice.button(key="train_start").click().run()
    assert not alice.exception, [e.value for e in alice.exception]
    assert "You already have a run in progress, alice-first" in texts(alice.error)
    assert run_picker(alice).value == "alice-first"
    assert not (public_root / "alice-second").exists()


def test_the_public_playground_lists_the_visitors_own_runs_then_the_shipped(public_root):
    finished_run(public_root, "alice-gru", ALICE)
    finished_run(public_root, "bob-gru", BOB)
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state[visitor.KEY_STATE] = ALICE
    at.switch_page("views/playground.py").run()
    assert not at.exception, [e.value for e in at.exception]
    offered = at.selectbox(key="pg_run").options
    assert offered[0].startswith("alice-gru") and not [o for o in offered if "bob-gru" in o]
    assert offered[-1].startswith("shipped default")


def test_the_operator_key_manages_every_run_and_a_wrong_one_changes_nothing(public_root, monkeypatch):
    monkeypatch.setenv("SENTIMENT_OPERATOR_KEY", "teacher-secret")
    terminal_run(public_root)
    at = open_as(BOB)
    assert "No runs yet" in texts(at.info)
    at.text_input(key=visitor.OPERATOR_ENTRY).set_value("guess").run()
    assert "That is not this server's operator key; nothing changed." in texts(at.error)
    assert "No runs yet" in texts(at.info)
    at.text_input(key=visitor.OPERATOR_ENTRY).set_value("teacher-secret").run()
    assert run_picker(at).value == "operator-training"
    assert control_keys(at) == {"train_stop"}
