"""One name per concept, for every page: the recurrent cells, their gates and states, the labels and
the attribution methods.

Pages read their names here so the same thing is never called two names (issue 22: the playground
called the GRU's n_t the "new gate" while the walkthrough called it the candidate; it is not a gate
at all, since a gate is a sigmoid between 0 and 1 and n_t is a tanh value between -1 and 1).
The models keep their own internal gate keys (sentiment_core.models.recurrences.GATE_NAMES, e.g.
"new"); `model_part` maps them to the letters used here.
"""
from __future__ import annotations

from dataclasses import dataclass

from sentiment_core.data.text import LABEL_SCHEMES


@dataclass(frozen=True)
class Term:
    """A concept as pages name it: `name` ("update gate"), and one line saying what it does."""

    name: str
    meaning: str
    gate: bool = False   # a sigmoid gate (0 closed .. 1 open); otherwise a tanh value or a state (-1 .. 1)


CELLS = {"rnn": "vanilla RNN", "lstm": "LSTM", "gru": "GRU", "scratch": "from-scratch RNN"}

TERMS = {
    "input gate": Term("input gate", "how much of the candidate to write", gate=True),
    "forget gate": Term("forget gate", "how much of c_{t-1} to keep", gate=True),
    "output gate": Term("output gate", "how much of the cell state to show", gate=True),
    "reset gate": Term("reset gate", "how much of h_{t-1} the candidate sees", gate=True),
    "update gate": Term("update gate", "how much of h_{t-1} to keep", gate=True),
    "candidate": Term("candidate", "the new content the cell could write"),
    "cell state": Term("cell state", "the LSTM's memory, carried along the additive path"),
    "hidden state": Term("hidden state", "what the cell passes to the next word and to the classifier"),
}

# Each gated cell's parts by their letter in the equations (x_t -> letter_t), in the order the
# walkthrough shows them.
CELL_PARTS = {
    "lstm": {"i": "input gate", "f": "forget gate", "g": "candidate", "o": "output gate", "c": "cell state",
             "h": "hidden state"},
    "gru": {"r": "reset gate", "z": "update gate", "n": "candidate", "h": "hidden state"},
}

# The models' internal gate keys (recurrences.GATE_NAMES) -> the letter above.
MODEL_PARTS = {
    "lstm": {"input": "i", "forget": "f", "cell": "g", "output": "o"},
    "gru": {"reset": "r", "update": "z", "new": "n"},
}

# The label schemes' class names, one tuple per scheme (2, 3 or 5 classes), as the data module defines them.
LABELS = {count: tuple(scheme.class_names) for count, scheme in LABEL_SCHEMES.items()}

INTEGRATED_GRADIENTS = "integrated gradients"
GRADIENT_X_INPUT = "gradient x input"
OCCLUSION = "what if (occlusion)"
METHODS = {
    INTEGRATED_GRADIENTS: "the path integral of the gradient from a baseline (every word <pad>) to the sentence; "
                          "its scores sum to f(sentence) - f(baseline) (completeness)",
    GRADIENT_X_INPUT: "the gradient at the sentence times the word vector: a local slope, one backward pass",
    OCCLUSION: "each word removed or replaced in turn, and the change in the answer",
}


def part_term(cell: str, letter: str) -> Term:
    """The Term of part `letter` ("z") of a gated `cell` ("gru"); KeyError for a part the cell lacks."""
    return TERMS[CELL_PARTS[cell][letter]]


def part_label(cell: str, letter: str) -> str:
    """'update gate z_t': the name and its symbol."""
    return f"{part_term(cell, letter).name} {letter}_t"


def part_description(cell: str, letter: str) -> str:
    """'update gate (how much of h_{t-1} to keep)' for a gate or the candidate, 'hidden state h_t' for a state."""
    term = part_term(cell, letter)
    if term.name.endswith("state"):
        return f"{term.name} {letter}_t"
    return f"{term.name} ({term.meaning})"


def model_part(cell: str, model_key: str) -> str:
    """The letter of a model's internal gate key: model_part("gru", "new") == "n"."""
    return MODEL_PARTS[cell][model_key]


def cell_name(cell: str) -> str:
    """'GRU', 'LSTM', 'vanilla RNN' (the key itself for an unknown cell)."""
    return CELLS.get(cell, cell)
