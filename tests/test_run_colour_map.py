"""One colour map for every page: all runs in the folder (walkthrough ones too) and the shipped models."""
import json

from dashboard import resources, theme
from sentiment_core.pretrained import SHIPPED_NAMES, SHIPPED_PREFIX


def make_runs(root, names):
    for name in names:
        (root / name).mkdir()
        (root / name / "status.json").write_text(json.dumps({"state": "finished"}))


def test_every_known_run_has_a_colour_whatever_a_page_lists(tmp_path):
    make_runs(tmp_path, ["alpha", "walkthrough-rnn", "zeta"])
    (tmp_path / "not-a-run").mkdir()  # no config or status: not a run
    colours = resources.run_colour_map(tmp_path)
    assert set(colours) == {"alpha", "walkthrough-rnn", "zeta", *(SHIPPED_PREFIX + n for n in SHIPPED_NAMES)}
    assert set(colours.values()) <= set(theme.RUN_PALETTE)
    # A new run changes no colour of the runs sorted before it, and the map never depends on a page's choice.
    make_runs(tmp_path, ["zzz-new"])
    again = resources.run_colour_map(tmp_path)
    assert all(again[name] == colours[name] for name in ("alpha", "walkthrough-rnn", "zeta"))
