"""The settings table: one row per environment variable, the one place each is named, parsed and documented."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from sentiment_core import settings
from sentiment_core.settings_table import BOOL, BY_NAME, FLOAT, INT, VARIABLES, markdown_table

ROOT = Path(__file__).resolve().parent.parent
TABLE_FILES = {"sentiment_core/settings.py", "sentiment_core/settings_table.py"}
# Variables other programs set for ours (torchrun, RQ), read where they are used.
FOREIGN = {"RQ_WORKER_ID", "WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"}


def test_the_readme_holds_exactly_the_rendered_table():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- settings table: start -->\n(.*?)<!-- settings table: end -->", text, re.S)
    assert found, "README.md: no settings table between its markers"
    assert found.group(1) == markdown_table(), ("the README's table of environment variables differs from "
                                                "settings_table.py; paste `python -m sentiment_core.settings_table`")
    for v in VARIABLES:
        assert f"| `{v.name}` |" in found.group(1)


def _sources():
    for folder in ("sentiment_core", "dashboard"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            yield path.relative_to(ROOT).as_posix(), ast.parse(path.read_text(encoding="utf-8"))


def test_variables_are_named_and_read_only_in_the_settings_modules():
    named, reads = [], []
    for name, tree in _sources():
        if name in TABLE_FILES:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and node.value in BY_NAME:
                named.append(f"{name}:{node.lineno} {node.value}")
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and ast.unparse(node.func) in ("os.environ.get", "os.getenv")
                    and not (node.args and isinstance(node.args[0], ast.Constant) and node.args[0].value in FOREIGN)):
                reads.append(f"{name}:{node.lineno} {ast.unparse(node)}")
    assert named == [], "name these variables through settings' *_ENV constants"
    assert reads == [], "read environment variables through settings.read"


def test_every_name_constant_of_settings_is_a_row_and_every_row_is_readable():
    constants = {value for key, value in vars(settings).items() if key.endswith("_ENV")}
    assert constants <= set(BY_NAME)
    for v in VARIABLES:
        assert settings.read(v.name, {}) == v.default  # unset: its default
        assert v.meaning and "\n" not in v.meaning
        assert v.minimum is not None or v.kind not in (INT, FLOAT), f"{v.name}: a number needs a range"


def test_defaults_and_public_defaults_are_within_each_range():
    public = settings.effective_env({"SENTIMENT_PUBLIC": "1"})
    for v in VARIABLES:
        if v.kind in (INT, FLOAT) and v.default is not None:
            assert settings.parse_number(v, settings.env_text(v.default)) == v.default, v.name
        if v.name in settings.PUBLIC_DEFAULTS:
            settings.read(v.name, public)  # raises when a public default is outside the range
    assert set(settings.PUBLIC_DEFAULTS) == {v.name for v in VARIABLES if v.public is not None}
    assert {f: getattr(settings.Limits(), f) for f in settings.ENV_VARS} == {
        v.field: v.default for v in VARIABLES if v.field}


@pytest.mark.parametrize("v", [v for v in VARIABLES if v.kind == BOOL], ids=lambda v: v.name)
def test_one_set_of_on_off_words_for_every_switch(v):
    for word in settings.ON_WORDS:
        assert settings.read(v.name, {v.name: f" {word.upper()} "}) is True
    for word in settings.OFF_WORDS:
        assert settings.read(v.name, {v.name: word}) is False
    with pytest.raises(settings.SettingError, match=f"^{v.name} is 'maybe', which is neither on nor off; set it to 1 or 0"):
        settings.read(v.name, {v.name: "maybe"})


@pytest.mark.parametrize("v", [v for v in VARIABLES if v.kind in (INT, FLOAT)], ids=lambda v: v.name)
def test_one_number_parser_names_the_variable_the_value_and_the_range(v):
    low = v.minimum  # every number has a range (settings_table.allowed_range)
    for bad in ("many", "nan", str(low - 1)) + ((str(v.maximum + 1),) if v.maximum is not None else ()):
        with pytest.raises(settings.SettingError) as caught:
            settings.read(v.name, {v.name: bad})
        message = str(caught.value)
        assert message.startswith(f"{v.name} is {bad!r}") and f"{low:g}" in message and "unset it" in message
    assert settings.read(v.name, {v.name: f" {low:g} "}) == low


def test_the_limits_panel_and_health_lines_come_from_the_table():
    rows = settings.describe_limits(settings.limits_from_env({"SENTIMENT_MAX_EPOCHS": "7"}))
    assert [row[0] for row in rows] == [v.name for v in VARIABLES if v.field]
    assert ("SENTIMENT_MAX_EPOCHS", "7", BY_NAME["SENTIMENT_MAX_EPOCHS"].meaning) in rows
    ok, detail = settings.check_group("playground limits", {"SENTIMENT_PUBLIC": "1"})
    assert ok and f"SENTIMENT_MAX_IG_STEPS={settings.PUBLIC_DEFAULTS['SENTIMENT_MAX_IG_STEPS']}" in detail
    ok, detail = settings.check_group("training limits", {"SENTIMENT_MAX_RUN_MINUTES": "-1"})
    assert not ok and detail.startswith("SENTIMENT_MAX_RUN_MINUTES is '-1'; it must be at least 0.1")
