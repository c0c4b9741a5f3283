"""Who may change a run: the operator (every run) or the visitor whose browser started it.

A run started with `owner` (a visitor's secret key; the pages keep it in the visitor's browser)
records only owner_digest(key) in its job.json. jobs.py's stop, resume, evaluate and delete take a
Requester and refuse one that does not own the run; the pages list what may_see allows.
"""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from sentiment_core.runs.limits import Limits


@dataclass(frozen=True)
class Requester:
    """Who asks: a visitor, by the secret key of their browser, or the operator (every run)."""

    key: str | None = None        # the visitor's key; never stored, only owner_digest(key)
    operator: bool = False


OPERATOR = Requester(operator=True)  # a terminal, a dashboard not in public mode, or the operator key


def owner_digest(key: str) -> str:
    """What job.json records of a visitor's key: a hash, so reading a run's files gives no one the key."""
    return hashlib.sha256(f"sentiment-run-owner:{key}".encode()).hexdigest()


def owns(requester: Requester, job: dict | None) -> bool:
    """True when `requester` may stop, resume or evaluate the run whose job record is `job`.

    The operator owns every run; a visitor only the runs started with their key (never a run from a
    terminal, which has no job record, nor a run started without an owner).
    """
    if requester.operator:
        return True
    recorded = (job or {}).get("owner")
    if not requester.key or not isinstance(recorded, str):
        return False
    return hmac.compare_digest(recorded, owner_digest(requester.key))


def may_see(requester: Requester, job: dict | None, limits: Limits) -> bool:
    """Whether a run is listed for `requester`: their own, or everyone's in class mode (Limits.shared_runs)."""
    return limits.shared_runs or owns(requester, job)
