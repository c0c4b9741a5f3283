"""Who is asking, on a public demo: the visitor's own key, kept in their browser, and the operator key.

In public mode (SENTIMENT_PUBLIC=1) a visitor manages only the runs started from their browser. The
browser holds a random key (secrets.token_urlsafe) in a cookie this module sets with a small script
(SameSite=Strict, path=/, a year long), so a reload or a new tab of the same browser is the same
visitor; the server reads it back from the WebSocket's handshake (st.context.cookies). The key is
never put in a URL or shown, and a run's folder records only a hash of it
(sentiment_core.runs.jobs.owner_digest). The library checks ownership itself (jobs.Requester):
this module only says who the requester is.

The operator types SENTIMENT_OPERATOR_KEY into a password field (operator_key_field) to manage every
run from this browser session. Not in public mode, everyone is the operator, as before.
"""
from __future__ import annotations

import hmac
import re
import secrets

import streamlit as st

from sentiment_core import settings
from sentiment_core.runs import jobs

COOKIE = "sentiment_visitor"
COOKIE_MAX_AGE = 365 * 24 * 3600          # seconds: a course lasts a term; browsers cap it at about 400 days
KEY_STATE = "visitor_key"                 # session_state: this session's visitor key
OPERATOR_STATE = "visitor_operator"       # session_state: True once the operator key was typed
OPERATOR_ENTRY = "visitor_operator_entry"  # the password field's key
OPERATOR_NOTE = "visitor_operator_note"    # session_state: the field's last answer, shown under it
MAX_KEY_CHARS = 200                       # what the password field accepts
# secrets.token_urlsafe(32) gives 43 such characters; a cookie of any other shape is replaced.
KEY_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")


def _cookie_key() -> str | None:
    """The key the browser sent with this session's connection, when it is one of ours."""
    value = st.context.cookies.get(COOKIE)  # empty without a browser (a test harness)
    return value if isinstance(value, str) and KEY_PATTERN.fullmatch(value) else None


def _remember_in_browser(key: str) -> None:
    """Set the cookie from the page: Streamlit has no response of its own to set one on."""
    # The key is URL-safe base64 (KEY_PATTERN), so it needs no quoting inside the script.
    st.html(f"""<script>
document.cookie = "{COOKIE}={key}; Max-Age={COOKIE_MAX_AGE}; Path=/; SameSite=Strict"
    + (location.protocol === "https:" ? "; Secure" : "");
</script>""", unsafe_allow_javascript=True)


def visitor_key() -> str:
    """This browser's key: the cookie's, or a new one (set in the browser now) on a first visit."""
    key = st.session_state.get(KEY_STATE)
    if isinstance(key, str) and KEY_PATTERN.fullmatch(key):
        return key
    key = _cookie_key()
    if key is None:
        key = secrets.token_urlsafe(32)
        _remember_in_browser(key)
    st.session_state[KEY_STATE] = key
    return key


def is_operator() -> bool:
    """True when runs are all this session's to manage: not in public mode, or the operator key was typed."""
    return not settings.is_public() or bool(st.session_state.get(OPERATOR_STATE))


def requester() -> jobs.Requester:
    """Who this session is, for the jobs calls that change a run."""
    if is_operator():
        return jobs.OPERATOR
    return jobs.Requester(key=visitor_key())


def owner_key() -> str | None:
    """The owner a run started from this session records: the visitor's key in public mode, else none."""
    return visitor_key() if settings.is_public() else None


def _check_operator_key() -> None:
    """on_change of the password field: compare in constant time, then empty the field."""
    entered = (st.session_state.get(OPERATOR_ENTRY) or "").strip()
    st.session_state[OPERATOR_ENTRY] = ""
    expected = settings.operator_key()
    if entered and expected and hmac.compare_digest(entered.encode(), expected.encode()):
        st.session_state[OPERATOR_STATE] = True
        st.session_state[OPERATOR_NOTE] = ("success", "Operator mode: you can stop, resume and evaluate every run.")
    elif entered:
        st.session_state[OPERATOR_NOTE] = ("error", "That is not this server's operator key; nothing changed.")


def _leave_operator_mode() -> None:
    st.session_state[OPERATOR_STATE] = False
    st.session_state.pop(OPERATOR_NOTE, None)


def operator_key_field() -> None:
    """A password field for SENTIMENT_OPERATOR_KEY, in public mode when the operator has set one."""
    if not settings.is_public() or not settings.operator_key():
        return
    with st.expander("Operator", icon=":material/admin_panel_settings:"):
        if st.session_state.get(OPERATOR_STATE):
            st.button("Leave operator mode", key=OPERATOR_ENTRY + "_leave", on_click=_leave_operator_mode)
        else:
            st.text_input("Operator key", type="password", key=OPERATOR_ENTRY, max_chars=MAX_KEY_CHARS,
                          on_change=_check_operator_key,
                          help="SENTIMENT_OPERATOR_KEY, for the person running this server: it manages every run.")
        note = st.session_state.get(OPERATOR_NOTE)
        if note:
            getattr(st, note[0])(note[1])
