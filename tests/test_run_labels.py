"""A run picker's dev accuracy says when it was measured on the first N dev sentences only."""
from types import SimpleNamespace

from dashboard.components.run_labels import dev_accuracy_text
from tests.helpers import tiny_config


def run(accuracy, eval_limit=None):
    return SimpleNamespace(status={"best_dev_accuracy": accuracy}, config=tiny_config(eval_limit=eval_limit))


def test_whole_dev_split_reads_plainly():
    assert dev_accuracy_text(run(0.674)) == "dev 67.4%"


def test_a_limited_dev_split_names_its_size():
    assert dev_accuracy_text(run(0.845, eval_limit=1500)) == "dev 84.5% (first 1,500 sentences)"


def test_never_evaluated_is_none():
    assert dev_accuracy_text(run(None)) is None
    assert dev_accuracy_text(SimpleNamespace(status=None, config=None)) is None


def test_one_label_for_every_picker():
    from dashboard.components.run_labels import run_label

    stopped = SimpleNamespace(name="my-run", state="stopped", status={"best_dev_accuracy": 0.5},
                              config=tiny_config(eval_limit=None, bidirectional=True, cell="lstm"))
    assert run_label(stopped) == "my-run · lstm bidirectional · 3 classes · dev 50.0% · stopped"
    fresh = SimpleNamespace(name="new", state="queued", status={}, config=tiny_config())
    assert run_label(fresh).endswith("· not evaluated")
