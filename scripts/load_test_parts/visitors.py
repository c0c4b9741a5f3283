"""The visitors of the plain load test: explorer (open, search), playground (open, type a sentence)."""
from __future__ import annotations

from websockets.sync.client import connect

from .figures import Timings
from .session import Page, PageError, Session


def visit(visitor: int, url: str, rounds: int, sentences: list[str], timings: Timings, timeout: float) -> None:
    """One visitor: explorer (open, search), playground (open, type a sentence), `rounds` times."""
    try:
        socket = connect(url.replace("http", "ws", 1) + "/_stcore/stream", subprotocols=["streamlit"],
                         max_size=None, open_timeout=timeout)
    except Exception as err:
        timings.fail(f"visitor {visitor}: could not connect ({type(err).__name__}: {err})")
        return
    with socket:
        try:
            play(Session(socket, timeout), visitor, rounds, sentences, timings)
        except Exception as err:
            timings.fail(f"visitor {visitor}: {type(err).__name__}: {err}")


def play(session: Session, visitor: int, rounds: int, sentences: list[str], timings: Timings) -> None:
    """The rounds of one visitor; raises at the first page that fails."""
    for round_number in range(rounds):
        sentence = sentences[(visitor * rounds + round_number) % len(sentences)]
        word = max(sentence.split(), key=len).lower()  # a word of the visitor's own sentence
        explorer = step(session, timings, "explorer: open", "explorer")
        search = explorer.widgets.get("explorer_search")
        if search is None:
            raise PageError("the explorer shows no search box")
        step(session, timings, "explorer: search", "explorer", {search: word})
        playground = step(session, timings, "playground: open", "playground")
        text = playground.widgets.get("pg_text")
        if text is None:
            raise PageError(f"the playground shows no sentence box (problems: {playground.problems})")
        answer = step(session, timings, "playground: predict", "playground", {text: sentence})
        if "Predicted label" not in answer.metrics:
            raise PageError(f"no prediction shown for {sentence!r}")


def step(session: Session, timings: Timings, what: str, page: str, widgets: dict | None = None) -> Page:
    result, seconds = session.run(page, widgets)
    timings.add(what, seconds)
    if result.problems:
        raise PageError(f"{what}: {'; '.join(result.problems)[:300]}")
    return result
