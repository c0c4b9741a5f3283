"""The walkthrough page's longer sections, one module each (the page file lays out the rest).

Also the links to the other pages: their files, and a link that degrades to a line of text.
"""
from __future__ import annotations

import streamlit as st
from streamlit.errors import StreamlitPageNotFoundError

EXPLORER, VOCABULARY = "views/explorer.py", "views/vocabulary.py"
TRAINING, PLAYGROUND = "views/training.py", "views/playground.py"
WALKTHROUGH = "views/walkthrough.py"  # a link to another section: {"section": "N"}
# Query parameters the other pages read (agreed with their authors): training `preset` and `cell`,
# playground `text`.


def page_link(page: str, label: str, query_params: dict | None = None, icon: str | None = None) -> bool:
    """A link to another page of the app; plain text when that page is not part of the app (yet)."""
    try:
        st.page_link(page, label=label, icon=icon, query_params=query_params)
        return True
    except StreamlitPageNotFoundError:
        st.caption(f"{label}: that page is not part of this app yet.")
        return False
