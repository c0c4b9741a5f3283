"""What may be wrong with a run's files once parsed: the fields of status.json and a checkpoint's parts.

store.py reads the files (bounded in size and nesting before parsing, fileio.read_json_bounded) and
refuses what these name as damaged, in a few words, so that no page sorts, formats or builds a
model from a value of the wrong kind.
"""
from __future__ import annotations

from sentiment_core.config import ModelConfig, validate_model
from sentiment_core.data.text import LABEL_COUNTS, LABEL_COUNTS_TEXT

# The type each field of status.json must have when present (write_status lists them); None is
# allowed for every one (not set yet). Pages sort, format and compare these, so a status with
# `created_at: "yesterday"` or `results: 7` is refused as damaged rather than crash them.
NUMBER = (int, float)
STATUS_FIELDS: dict[str, type | tuple[type, ...]] = {
    "state": str, "message": str, "name": str, "preset": str, "shipped": bool, "host": str,
    "pid": int, "pid_started": int, "epoch": int, "epochs": int, "step": int, "best_epoch": int,
    "parameters": int, "train_size": int,
    "created_at": NUMBER, "started_at": NUMBER, "updated_at": NUMBER, "ended_at": NUMBER, "elapsed": NUMBER,
    "cpu_seconds": NUMBER, "best_dev_accuracy": NUMBER,
    "results": dict, "treebank": dict, "calibration": dict,
}
# The same for each evaluation under "results" (evaluation.evaluate's dict), which result tables and charts
# read, and for each of its per-class rows.
EVALUATION_FIELDS: dict[str, type | tuple[type, ...]] = {
    "count": int, "accuracy": NUMBER, "macro_f1": NUMBER, "loss": NUMBER,
    "per_class": list, "confusion": list, "class_names": list,
}
PER_CLASS_FIELDS = {"label": str, "precision": NUMBER, "recall": NUMBER, "f1": NUMBER, "support": int}


def status_problem(status: dict) -> str | None:
    """What is wrong with the fields of a status object, in a few words; None when nothing is."""
    problem = _fields_problem(status, STATUS_FIELDS)
    if problem:
        return problem
    for split, evaluation in (status.get("results") or {}).items():
        if not isinstance(evaluation, dict):
            return f"results.{split[:20]} is not an evaluation"
        problem = _fields_problem(evaluation, EVALUATION_FIELDS, f"results.{split[:20]}.") or \
            _evaluation_problem(evaluation)
        if problem:
            return problem
    return None


def _fields_problem(values: dict, types: dict, prefix: str = "") -> str | None:
    for name, kind in types.items():
        value = values.get(name)
        if value is not None and (not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool)):
            return f"{prefix}{name} is {described_value(value)}, not {_type_words(kind)}"
    return None


def described_value(value) -> str:
    """A value for a message: a short one as written, any other by its kind."""
    text = repr(value)
    return text if len(text) <= 40 and not isinstance(value, (dict, list)) else f"a {type(value).__name__}"


def _type_words(kind) -> str:
    return {str: "a text", bool: "true or false", int: "a whole number", dict: "an object",
            list: "a list"}.get(kind, "a number")


def _evaluation_problem(evaluation: dict) -> str | None:
    """The lists of an evaluation: per-class rows of figures, a confusion matrix of counts, class names."""
    rows = evaluation.get("per_class") or []
    if not all(isinstance(row, dict) and not _fields_problem(row, PER_CLASS_FIELDS) for row in rows):
        return "an evaluation's per_class rows are not figures"
    matrix = evaluation.get("confusion") or []
    if not all(isinstance(row, list) and all(isinstance(n, int) and not isinstance(n, bool) for n in row)
               for row in matrix):
        return "an evaluation's confusion matrix is not a table of counts"
    if not all(isinstance(name, str) for name in evaluation.get("class_names") or []):
        return "an evaluation's class_names are not texts"
    return None


def checkpoint_problem(data: dict) -> str | None:
    """What is wrong with a checkpoint's parts, in a few words; None when nothing is.

    model_state must be named tensors, labels a label scheme (2, 3 or 5), and model_config a
    ModelConfig whose settings validate and whose num_classes is that scheme's. Whether the
    tensors fit the settings is runs.load_model's check (it needs the model code).
    """
    import torch

    state, model_config, labels = data["model_state"], data["model_config"], data["labels"]
    if not isinstance(state, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                              for k, v in state.items()):
        return "its model_state is not a table of named tensors"
    if not isinstance(labels, int) or isinstance(labels, bool) or labels not in LABEL_COUNTS:
        return f"its labels is {described_value(labels)}, not {LABEL_COUNTS_TEXT}"
    if not isinstance(model_config, dict):
        return "its model_config is not an object"
    try:
        config = ModelConfig(**model_config)
        validate_model(config)
    except (TypeError, ValueError) as err:
        return f"its model_config cannot be used ({err})"
    if not isinstance(config.vocab_size, int) or isinstance(config.vocab_size, bool) or config.vocab_size < 0:
        return f"its model_config's vocab_size is {described_value(config.vocab_size)}, not a whole number"
    if config.num_classes != labels or isinstance(config.num_classes, bool):
        return f"its model_config's num_classes ({described_value(config.num_classes)}) is not its labels ({labels})"
    return None
