"""Sub-command `health`: can this machine serve the dashboard? (registered in sentiment_core.cli.EXTRA_COMMAND_MODULES)

    python -m sentiment_core health [--url http://127.0.0.1:8501] [--json]

Checks, each reported on one line (ok / FAIL and a sentence):
- treebank: the folder the dashboard would read ($SST_DIR, else <data root>/sst) holds it;
- runs: the runs folder ($SENTIMENT_RUNS_DIR, else <data root>/runs) exists or can be made, and
  is writable; the data root is $SENTIMENT_DATA_DIR, else the project's data/ folder;
- training limits, playground limits, server settings, test hooks: one line per group of the
  settings table (settings_table.py), each number and switch in it read as the product reads it
  (public mode's defaults included), listed as NAME=value (a secret only as set / unset);
- probe sentences: the file SENTIMENT_PROBE_SENTENCES names (else the shipped one) is read as
  every training run reads it: a regular file within its caps (a device or a FIFO fails here);
- queue: with SENTIMENT_QUEUE set, Redis answers and the live workers are counted (none live is
  reported, not failed: a web server may start before its workers); unset, runs train locally;
- with --url: the running app answers its health endpoint URL/_stcore/health with "ok".
Exit status 0 when every check passes, 1 otherwise (for a container's health check).

Also reported, as information that never fails the check (the torch path computes the same,
only slower): whether the compiled recurrences are in use and, if not, why (no compiler, no
OpenBLAS, a failed build, SENTIMENT_NATIVE=0, or a cached library that was rebuilt).
"""
from __future__ import annotations

import json
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Mapping

from sentiment_core import settings, settings_table
from sentiment_core.data.treebank import TreebankError, locate_treebank

HEALTH_PATH = "/_stcore/health"


def add_commands(commands) -> None:
    p = commands.add_parser("health", help="check the treebank, runs folder, limits and (with --url) a running app",
                            description="Check what the dashboard needs on this machine; exit 1 if anything fails.")
    p.add_argument("--url", help="base URL of a running app, e.g. http://127.0.0.1:8501 (checks /_stcore/health)")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the app (default 5)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=run_health)


def data_root(env: Mapping[str, str]) -> Path:
    return settings.data_root(env)


def runs_root(env: Mapping[str, str]) -> Path:
    return settings.default_runs_root(env)


def check_treebank(env: Mapping[str, str]) -> tuple[bool, str]:
    default = data_root(env) / "sst"
    try:
        folder = locate_treebank(None, dict(env), default)
    except TreebankError as err:
        return False, str(err)
    if folder is None:
        return False, (f"no treebank in {default} and SST_DIR is not set; set SST_DIR to the folder holding "
                       "train.txt, dev.txt and test.txt, or download it with `python -m sentiment_core data`")
    return True, f"found in {folder}"


def check_runs_folder(env: Mapping[str, str]) -> tuple[bool, str]:
    folder = runs_root(env)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".health-", delete=True) as probe:
            probe.write(b"ok")
    except OSError as err:
        return False, f"{folder} is not writable ({err.strerror or err}); set SENTIMENT_RUNS_DIR to a writable folder"
    return True, f"{folder} is writable"


def check_settings(group: str):
    """The check of one group of the settings table: every variable in it read as the product reads it."""
    return lambda env: settings.check_group(group, env)


# One line per group of the settings table whose values are numbers or switches (settings_table.py).
SETTINGS_CHECKS = {"training limits": check_settings(settings_table.TRAINING),
                   "playground limits": check_settings(settings_table.PLAYGROUND),
                   "server settings": check_settings(settings_table.SERVER),
                   "test hooks": check_settings(settings_table.HOOKS)}


def check_probe_sentences(env: Mapping[str, str]) -> tuple[bool, str]:
    from sentiment_core.training.sentence_probes import ProbeSentencesError, read_probe_sentences  # start-up: torch, +2.5 s on --help

    path = settings.probe_sentences_path(env)
    try:
        sentences = read_probe_sentences(path)  # the trainer's own reading: what passes here, a run accepts
    except ProbeSentencesError as err:
        return False, str(err)
    return True, f"{len(sentences)} sentences in {path}"


def check_queue(env: Mapping[str, str]) -> tuple[bool, str]:
    try:
        url = settings.queue_url(env)
    except ValueError as err:
        return False, str(err)
    if not url:
        return True, "local: runs train on this machine (SENTIMENT_QUEUE is not set)"
    from sentiment_core.runs import redis_queue  # start-up: +190 ms on --help

    return redis_queue.health(url)


def check_app(url: str, timeout: float) -> tuple[bool, str]:
    endpoint = url.rstrip("/") + HEALTH_PATH
    try:
        with urllib.request.urlopen(endpoint, timeout=timeout) as response:
            body = response.read(100).decode("utf-8", "replace").strip()
    except (urllib.error.URLError, OSError, ValueError) as err:
        reason = getattr(err, "reason", err)
        return False, f"{endpoint} did not answer ({reason}); is the app running there?"
    if body != "ok":
        return False, f"{endpoint} answered {body!r} instead of 'ok'"
    return True, f"{endpoint} answered ok"


def health_report(env: Mapping[str, str], url: str | None = None, timeout: float = 5.0) -> dict[str, dict]:
    """{check name: {"ok": bool, "detail": sentence}} for every check that applies."""
    checks = {"treebank": check_treebank(env), "runs": check_runs_folder(env),
              **{name: check(env) for name, check in SETTINGS_CHECKS.items()},
              "probe sentences": check_probe_sentences(env), "queue": check_queue(env)}
    if url:
        checks["app"] = check_app(url, timeout)
    return {name: {"ok": ok, "detail": detail} for name, (ok, detail) in checks.items()}


def compiled_recurrences() -> dict:
    """{"in_use": bool, "detail": sentence}: the compiled training loops, or why the torch path runs."""
    from sentiment_core.models import native  # start-up: torch, +2.5 s on --help

    return native.describe()


def run_health(args) -> int:
    report = health_report(os.environ, args.url, args.timeout)
    healthy = all(check["ok"] for check in report.values())
    compiled = compiled_recurrences()
    if args.json:
        print(json.dumps({"healthy": healthy, "checks": report, "compiled_recurrences": compiled}))
    else:
        for name, check in report.items():
            print(f"{'ok  ' if check['ok'] else 'FAIL'} {name}: {check['detail']}")
        print(f"info compiled recurrences: {compiled['detail']}")
    return 0 if healthy else 1
