"""The last line of defence: no exception reaches a visitor as a traceback.

Pages catch the failures they expect (a missing treebank, a damaged run...) and say them in a
sentence. Anything else (a bug, a value a custom client sent that no widget could) ends here:
`run_page` logs the traceback on the server with a short reference and shows the visitor one
sentence with that reference, so an operator can find it in the log. Streamlit's own control
flow (st.rerun, st.stop, st.switch_page) raises BaseException subclasses, which pass through.

In public mode `hide_error_details` also sets Streamlit's `client.showErrorDetails` to "none",
for what the guard cannot wrap (a fragment's own reruns): a generic message, no type, no
traceback, no path.
"""
from __future__ import annotations

import logging
import secrets

import streamlit as st

from sentiment_core import settings

LOG = logging.getLogger("sentiment_lab.pages")
UNEXPECTED = ("This page ran into an unexpected problem and stopped (reference {reference}). "
              "Reload the page to try again; if it happens again, tell the operator the reference.")


def hide_error_details(public: bool | None = None) -> None:
    """In public mode, uncaught exceptions show a generic message only (no type, text or traceback)."""
    if settings.is_public() if public is None else public:
        st.set_option("client.showErrorDetails", "none")


def run_page(page) -> None:
    """Run a st.navigation page; an unexpected exception becomes one sentence and a log line."""
    try:
        page.run()
    except Exception:  # noqa: BLE001  (the point: nothing else may reach the visitor)
        reference = secrets.token_hex(4)
        LOG.exception("page %r failed (reference %s)", getattr(page, "title", page), reference)
        st.error(UNEXPECTED.format(reference=reference))
