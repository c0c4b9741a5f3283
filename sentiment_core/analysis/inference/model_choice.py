"""Which model answers by default on the playground and analysis pages, and why (issue 22).

The default is the finished run with the best accuracy on the whole dev split, among the runs with
the shipped model's label count; the shipped model keeps the place unless a run beats it. A run
trained with `eval_limit` picked its best checkpoint on the first N dev sentences only, so its
figure is not comparable with a whole-split one and never wins; a run with another label count
is not comparable either (2 classes are easier than 3). Where a run's dev size is recorded:
status.json's results["dev"]["count"] (the sentences evaluated) beside config.data.eval_limit.

Functions take listing.RunInfo-like objects (name, state, status, config) and return plain text:
the pages show it, escaped, and decide nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

from sentiment_core.pretrained import SHIPPED_PREFIX


@dataclass(frozen=True)
class DevScore:
    """A run's dev accuracy and what it was measured on."""

    accuracy: float
    sentences: int | None   # dev sentences evaluated (results["dev"]["count"]), None when unrecorded
    full: bool              # the whole dev split: no eval_limit, or one larger than the split
    labels: int | None      # the run's label count (2, 3 or 5)


@dataclass(frozen=True)
class Choice:
    """The default run and the one line that says why it was chosen."""

    run: object
    reason: str
    score: DevScore | None


def is_shipped(run) -> bool:
    return run.name.startswith(SHIPPED_PREFIX)


def shown_name(run) -> str:
    """'the shipped model' or 'run quick-a', as a sentence names it."""
    return "the shipped model" if is_shipped(run) else f"run {run.name}"


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def dev_score(run) -> DevScore | None:
    """The run's dev accuracy (its best checkpoint's evaluation, else the best epoch's), or None."""
    status = run.status or {}
    dev = (status.get("results") or {}).get("dev") or {}
    accuracy = dev.get("accuracy") if _number(dev.get("accuracy")) else status.get("best_dev_accuracy")
    if not _number(accuracy):
        return None
    config = run.config
    limit = config.data.eval_limit if config is not None else None
    count = dev.get("count") if _number(dev.get("count")) else None
    # A limit at or above the split's size cut nothing: fewer sentences were evaluated than it allowed.
    full = limit is None or (count is not None and count < limit)
    return DevScore(float(accuracy), count, full, config.data.labels if config is not None else None)


def score_text(score: DevScore) -> str:
    """'67.4% dev on all 1,101 sentences', '84.5% dev on its first 60 sentences only'."""
    if not score.full:
        part = f"its first {score.sentences:,}" if score.sentences else "part of the"
        return f"{score.accuracy:.1%} dev on {part} sentences only"
    return f"{score.accuracy:.1%} dev{f' on all {score.sentences:,} sentences' if score.sentences else ''}"


def _comparable(score: DevScore | None, reference: DevScore | None) -> bool:
    """Measured like `reference` (the shipped model's score): the whole split, the same label count and, when
    both are recorded, as many sentences (a run on another treebank's dev split is not like for like)."""
    if score is None or not score.full:
        return False
    if reference is None:
        return True
    same_size = score.sentences is None or reference.sentences is None or score.sentences == reference.sentences
    return score.labels == reference.labels and same_size


def default_run(runs: Sequence) -> Choice | None:
    """The run a page opens on: the best finished run by whole-split dev accuracy, the shipped model on a tie.

    `runs` is what the page offers (the visitor's runs, then the shipped ones); None when it is empty.
    Runs with another label count than the shipped model, or measured on part of the dev split (or on another
    treebank's), do not compete.
    """
    if not runs:
        return None
    shipped = next((r for r in runs if is_shipped(r) and dev_score(r) is not None), None)
    reference = dev_score(shipped) if shipped is not None else None
    finished = [r for r in runs if not is_shipped(r) and r.state == "finished"]
    ranked = [r for r in finished if _comparable(dev_score(r), reference)]
    candidates = ranked + ([shipped] if shipped is not None else [])
    if not candidates:
        return Choice(runs[0], "Chosen: the newest run, since no finished run has a dev accuracy on the whole dev "
                               "split to rank it by.", None)
    # max keeps the first of equals: the shipped model goes last, so a run must beat it, not tie it.
    best = max(reversed(candidates), key=lambda r: dev_score(r).accuracy)
    score = dev_score(best)
    return Choice(best, _reason(best, score, shipped, ranked, finished), score)


def _reason(best, score: DevScore, shipped, ranked: list, finished: list) -> str:
    left_out = len(finished) - len(ranked)
    aside = (f" {left_out} finished run{'s' if left_out != 1 else ''} scored on part of the dev split, another "
             f"treebank or another label count {'do' if left_out != 1 else 'does'} not compete." if left_out else "")
    if shipped is None or best is not shipped:
        above = (f", above the shipped model's {dev_score(shipped).accuracy:.1%}" if shipped is not None else "")
        among = f"of {len(ranked)} finished runs" if len(ranked) > 1 else "of the one finished run ranked"
        return f"Chosen: the best dev accuracy {among} ({score_text(score)}{above}).{aside}"
    if not ranked:
        return f"Chosen: the shipped model ({score_text(score)}); no finished run here is ranked against it yet.{aside}"
    runner_up = max(ranked, key=lambda r: dev_score(r).accuracy)
    others = "the one finished run here does not" if len(ranked) == 1 else \
        f"none of the {len(ranked)} finished runs here"
    return (f"Chosen: the shipped model ({score_text(score)}); {others} beat{'s' if len(ranked) > 1 else ''} it "
            f"(best: {runner_up.name}, {dev_score(runner_up).accuracy:.1%}).{aside}")


def against_default(run, choice: Choice | None) -> str | None:
    """One plain sentence when `run` is not the default and falls short of it, or cannot be compared:
    'quick-a: 57.1% dev, worse than the shipped model's 67.4%.' None when it is the default or as good."""
    if choice is None or run is choice.run or run.name == choice.run.name or choice.score is None:
        return None
    score, best = dev_score(run), choice.score
    other = shown_name(choice.run)
    if score is None:
        return f"{run.name} has no dev accuracy yet, so it cannot be compared with {other}'s {best.accuracy:.1%}."
    if score.labels is not None and best.labels is not None and score.labels != best.labels:
        return (f"{run.name}: {score.accuracy:.1%} dev with {score.labels} classes, not comparable with {other}'s "
                f"{best.accuracy:.1%} with {best.labels}.")
    other_size = score.sentences and best.sentences and score.sentences != best.sentences
    if not score.full or other_size:
        return f"{run.name}: {score_text(score)}, not comparable with {other}'s {score_text(best)}."
    if score.accuracy < best.accuracy:
        return f"{run.name}: {score.accuracy:.1%} dev, worse than {other}'s {best.accuracy:.1%}."
    return None


def just_finished(runs: Iterable, seen: Iterable[str], mine: Callable[[object], bool]) -> object | None:
    """The newest run in `runs` that finished since the page last listed `seen` (run names) and that
    `mine` says the visitor trained: the page switches to it. None when there is none."""
    known = set(seen)
    fresh = [r for r in runs if r.name not in known and r.state == "finished" and not is_shipped(r) and mine(r)]
    return fresh[0] if fresh else None  # runs come newest first
