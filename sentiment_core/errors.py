"""What the playground's library raises: each a ValueError whose message is a sentence for the user."""
from __future__ import annotations


class InferenceError(ValueError):
    """Input the playground cannot use; the message says what happened and what to do."""


class EmptyInput(InferenceError):
    pass


class InputTooLong(InferenceError):
    pass


class TableError(InferenceError):
    pass
