"""`python -m sentiment_core health`: what an operator's health check sees."""
from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from sentiment_core.cli import main
from sentiment_core.settings_table import BY_NAME


@pytest.fixture
def env(monkeypatch, tmp_path, sst_dir):
    for name in BY_NAME:  # every variable of the settings table, unset
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SST_DIR", str(sst_dir))
    monkeypatch.setenv("SENTIMENT_DATA_DIR", str(tmp_path / "data"))
    return monkeypatch


def health(capsys, *args) -> tuple[int, dict]:
    code = main(["health", "--json", *args])
    return code, json.loads(capsys.readouterr().out)


def test_a_ready_machine_is_healthy(env, capsys, tmp_path, sst_dir):
    env.setenv("SENTIMENT_MAX_EPOCHS", "3")
    code, report = health(capsys)
    assert code == 0 and report["healthy"]
    checks = report["checks"]
    assert str(sst_dir) in checks["treebank"]["detail"]
    assert (tmp_path / "data" / "runs").is_dir()  # the runs folder under the data root was made
    assert "SENTIMENT_MAX_EPOCHS=3" in checks["training limits"]["detail"]
    assert "SENTIMENT_MAX_INPUT_TOKENS=" in checks["playground limits"]["detail"]
    assert "SENTIMENT_OPERATOR_KEY=unset" in checks["server settings"]["detail"]


def test_the_limit_lines_follow_the_settings_table_and_public_mode(env, capsys):
    env.setenv("SENTIMENT_PUBLIC", "1")
    env.setenv("SENTIMENT_MAX_EPOCHS", "8")
    env.setenv("SENTIMENT_OPERATOR_KEY", "s3cret-key")
    _, report = health(capsys)
    detail = " ".join(check["detail"] for check in report["checks"].values())
    for variable in BY_NAME.values():  # every number and switch of the table has its line
        if variable.kind in ("on / off", "whole number", "number"):
            assert f"{variable.name}=" in detail, variable.name
    assert "SENTIMENT_MAX_EPOCHS=8" in detail and "SENTIMENT_MAX_QUEUE=60" in detail  # public default under the operator's
    assert "SENTIMENT_OPERATOR_KEY=set" in detail and "s3cret-key" not in detail  # a secret is never shown


def test_each_problem_fails_with_a_sentence(env, capsys, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    env.setenv("SST_DIR", str(empty))
    env.setenv("SENTIMENT_RUNS_DIR", str(blocker / "runs"))
    env.setenv("SENTIMENT_MAX_QUEUE", "many")
    env.setenv("SENTIMENT_MAX_INPUT_TOKENS", "-5")
    env.setenv("SENTIMENT_PROBE_SENTENCES", "/dev/zero")
    env.setenv("SENTIMENT_QUEUE", "http://not-redis")
    env.setenv("SENTIMENT_WORKER_HEARTBEAT", "0")
    env.setenv("SENTIMENT_TEST_BATCH_DELAY", "600")
    code, report = health(capsys)
    assert code == 1 and not report["healthy"]
    checks = report["checks"]
    assert not any(check["ok"] for check in checks.values())
    assert "not a Redis URL" in checks["queue"]["detail"]
    assert "does not hold the treebank" in checks["treebank"]["detail"]
    assert "SENTIMENT_RUNS_DIR" in checks["runs"]["detail"]
    assert "SENTIMENT_MAX_QUEUE" in checks["training limits"]["detail"]
    assert "SENTIMENT_MAX_INPUT_TOKENS is '-5'; it must be at least 1" in checks["playground limits"]["detail"]
    assert "SENTIMENT_WORKER_HEARTBEAT is '0'" in checks["server settings"]["detail"]
    assert "SENTIMENT_TEST_BATCH_DELAY is '600'; it must be from 0 to 10" in checks["test hooks"]["detail"]
    assert "zero" in checks["probe sentences"]["detail"] and "not a regular file" in checks["probe sentences"]["detail"]


class _Health(BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"ok" if self.path == "/_stcore/health" else b"no"
        self.send_response(200 if body == b"ok" else 404)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_url_checks_the_running_app(env, capsys):
    server = HTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        code, report = health(capsys, "--url", f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        server.server_close()
    assert code == 0 and report["checks"]["app"]["ok"]

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    code, report = health(capsys, "--url", f"http://127.0.0.1:{closed}", "--timeout", "2")
    assert code == 1 and "is the app running there?" in report["checks"]["app"]["detail"]


def test_health_says_whether_the_compiled_recurrences_run_and_why_not(env, capsys, tmp_path):
    from sentiment_core.models import native

    env.setenv("SENTIMENT_CACHE_DIR", str(tmp_path / "cache"))
    native._load.cache_clear()
    try:
        env.setenv(native.NATIVE_ENV, "0")
        code, report = health(capsys)
        assert code == 0  # information, never a failure: the torch path computes the same
        assert report["compiled_recurrences"] == {
            "in_use": False, "detail": "switched off by SENTIMENT_NATIVE=0; the torch path runs"}
        env.setenv(native.NATIVE_ENV, "1")
        env.setenv("CC", "/bin/false")
        code, report = health(capsys)
        assert report["compiled_recurrences"]["in_use"] is False
        assert report["compiled_recurrences"]["detail"].startswith("not in use: build failed: /bin/false")
        native._load.cache_clear()
        env.delenv("CC")
        assert main(["health"]) == 0
        line = capsys.readouterr().out.splitlines()[-1]
        assert line == f"info compiled recurrences: {native.describe()['detail']}"
    finally:
        native._load.cache_clear()
