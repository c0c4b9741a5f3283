"""Where a model fails: metrics by slice of sentences, and by length and depth of the tree's phrases.

Pure functions over examples and predictions (no model here: `analysis.analyze` runs the model).
Each sentence slice is a name, a definition a person can read, and a predicate on the tokens;
length buckets partition the sentences, so every sentence is in exactly one of them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

from sentiment_core.training.evaluation import classification_metrics

NEGATIONS = frozenset({"not", "n't", "no", "never", "nothing", "nobody", "none", "neither", "nor", "without",
                       "cannot"})
CONTRASTS = frozenset({"but", "yet", "although", "though", "however"})
LENGTH_BUCKETS = ((1, 10), (11, 20), (21, 30), (31, 40), (41, None))  # tokens, both ends included
PHRASE_LENGTH_BUCKETS = ((1, 1), (2, 3), (4, 7), (8, 15), (16, None))
DEPTH_BUCKETS = ((0, 0), (1, 2), (3, 5), (6, 10), (11, None))


@dataclass(frozen=True)
class Slice:
    name: str
    definition: str
    contains: Callable[[Sequence[str], Callable[[str], bool]], bool]  # (tokens, is_known) -> member?


def bucket_name(low: int, high: int | None) -> str:
    return f"{low}+" if high is None else (f"{low}" if low == high else f"{low}-{high}")


def in_bucket(value: int, low: int, high: int | None) -> bool:
    return value >= low and (high is None or value <= high)


def _length_slice(low: int, high: int | None) -> Slice:
    return Slice(f"length {bucket_name(low, high)}", f"sentences of {bucket_name(low, high)} tokens",
                 lambda tokens, known: in_bucket(len(tokens), low, high))


SENTENCE_SLICES: tuple[Slice, ...] = (
    Slice("negation", "a negation word: " + ", ".join(sorted(NEGATIONS)),
          lambda tokens, known: any(t in NEGATIONS for t in tokens)),
    Slice("contrast", "a contrast word: " + ", ".join(sorted(CONTRASTS)),
          lambda tokens, known: any(t in CONTRASTS for t in tokens)),
    Slice("negation and contrast", "both a negation and a contrast word",
          lambda tokens, known: any(t in NEGATIONS for t in tokens) and any(t in CONTRASTS for t in tokens)),
    Slice("unknown words", "at least one token not in the run's vocabulary (read as <unk>)",
          lambda tokens, known: any(not known(t) for t in tokens)),
    *(_length_slice(low, high) for low, high in LENGTH_BUCKETS),
)


def accuracy_and_macro_f1(labels: Sequence[int], predictions: Sequence[int], num_classes: int) -> tuple[float, float]:
    """Accuracy, and the mean F1 over the classes present in labels or predictions (0.0, 0.0 when empty).

    The figures are `evaluate`'s own (classification_metrics); only the mean differs: a class absent
    from both sides of a slice says nothing about that slice, so it is left out of the average.
    """
    if not labels:
        return 0.0, 0.0
    metrics = classification_metrics(labels, predictions, num_classes)
    seen = [row["f1"] for c, row in enumerate(metrics["per_class"])
            if row["support"] or any(counts[c] for counts in metrics["confusion"])]
    return metrics["accuracy"], (sum(seen) / len(seen) if seen else 0.0)




def slice_members(piece: Slice, token_lists: Sequence[Sequence[str]], is_known: Callable[[str], bool]) -> list[int]:
    """Positions of the token lists that belong to the slice."""
    return [i for i, tokens in enumerate(token_lists) if piece.contains(tokens, is_known)]


def slice_metrics(token_lists: Sequence[Sequence[str]], labels: Sequence[int], predictions: Sequence[int],
                  is_known: Callable[[str], bool], num_classes: int,
                  slices: Sequence[Slice] = SENTENCE_SLICES) -> list[dict]:
    """One row per slice: name, definition, count, accuracy, macro_f1 (count 0: figures None)."""
    rows = []
    for piece in slices:
        members = slice_members(piece, token_lists, is_known)
        accuracy, macro_f1 = accuracy_and_macro_f1([labels[i] for i in members], [predictions[i] for i in members],
                                                   num_classes)
        rows.append({"name": piece.name, "definition": piece.definition, "count": len(members),
                     "accuracy": accuracy if members else None, "macro_f1": macro_f1 if members else None})
    return rows


def span_depths(spans: Sequence[tuple[int, int]]) -> list[int]:
    """The depth of each (start, end) node of one tree: how many other nodes strictly contain it.

    Nodes of a parse tree nest, so walking them ordered by start (wider first) with a stack of
    the open ancestors gives each node's depth in O(n log n).
    """
    order = sorted(range(len(spans)), key=lambda i: (spans[i][0], -spans[i][1]))
    depths = [0] * len(spans)
    open_ends: list[int] = []
    for i in order:
        start, end = spans[i]
        while open_ends and open_ends[-1] <= start:
            open_ends.pop()
        depths[i] = len(open_ends)
        open_ends.append(end)
    return depths


def phrase_breakdown(lengths: Sequence[int], depths: Sequence[int], labels: Sequence[int],
                     predictions: Sequence[int], num_classes: int) -> dict[str, list[dict]]:
    """Phrase-level accuracy and macro-F1 by phrase length (tokens) and by depth in the tree."""
    def rows(values: Sequence[int], buckets) -> list[dict]:
        out = []
        for low, high in buckets:
            members = [i for i, v in enumerate(values) if in_bucket(v, low, high)]
            accuracy, macro_f1 = accuracy_and_macro_f1([labels[i] for i in members],
                                                       [predictions[i] for i in members], num_classes)
            out.append({"bucket": bucket_name(low, high), "count": len(members),
                        "accuracy": accuracy if members else None, "macro_f1": macro_f1 if members else None})
        return out

    return {"by_length": rows(lengths, PHRASE_LENGTH_BUCKETS), "by_depth": rows(depths, DEPTH_BUCKETS)}


# ---------------------------------------------------------------------------------------------
# Several runs side by side (the analysis page's tables)


def slices_side_by_side(by_run: Mapping[str, Sequence[dict]]) -> list[dict]:
    """One row per slice: slice, definition, count, then accuracy and macro-F1 of each run (keys `accuracy · RUN`).

    Runs share one count column when they count the same sentences in every slice; runs with
    other vocabularies (the unknown-words slice) or label schemes (binary drops neutral) do not,
    and then each run gets a `count · RUN` column, so no figure is shown against the wrong count.
    """
    runs = list(by_run)
    if not runs:
        return []
    counts = {run: [row["count"] for row in rows] for run, rows in by_run.items()}
    shared_count = all(counts[run] == counts[runs[0]] for run in runs)
    table = []
    for position, first in enumerate(by_run[runs[0]]):
        row = {"slice": first["name"], "definition": first["definition"]}
        if shared_count:
            row["count"] = first["count"]
        for run in runs:
            theirs = by_run[run][position]
            if not shared_count:
                row[f"count · {run}"] = theirs["count"]
            row[f"accuracy · {run}"] = theirs["accuracy"]
            row[f"macro-F1 · {run}"] = theirs["macro_f1"]
        table.append(row)
    return table


def overall_side_by_side(by_run: Mapping[str, dict]) -> list[dict]:
    """One row per run: labels, sentences, accuracy, macro-F1 and the recall of every class any run has.

    `by_run` maps a run to `evaluate`'s result; a class a run does not have is None in its row.
    """
    classes: list[str] = []
    for overall in by_run.values():
        classes += [name for name in overall["class_names"] if name not in classes]
    table = []
    for run, overall in by_run.items():
        recall = {row["label"]: row["recall"] for row in overall["per_class"]}
        table.append({"run": run, "labels": len(overall["class_names"]), "sentences": overall["count"],
                      "accuracy": overall["accuracy"], "macro-F1": overall["macro_f1"],
                      **{f"recall {name}": recall.get(name) for name in classes}})
    return table
