"""What a visitor reads when something goes wrong: one escaped line, and no server paths in public mode.

Every st.error (or warning) that shows an exception's text passes it through `user_message`: the
first line only (a library message may run on, a traceback never belongs on a page), passed
through escape_markdown (an error often quotes what the visitor typed), and, when the app is a
public demo (settings.is_public), every server path cut to its last component: the known folders
first (they may hold spaces, which the pattern for absolute paths stops at), then anything else
that looks like an absolute path. A local user keeps the full paths; they are the user's own.
`shown_path` applies the same rule to a path the page names itself.
"""
from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path, PurePath
from typing import Mapping

from dashboard.escape import escape_markdown
from sentiment_core import settings
from sentiment_core.data.treebank import SST_DIR_ENV

# An absolute POSIX path (/a/b, ~/a/b) or a Windows one (C:\a\b, \\server\share), up to the next
# space or quote. Not after a word character, so "and/or" or "3/4" stay as they are.
_ABSOLUTE_PATH = re.compile(r"""(?<![\w.:/\\])(?:~?/|[A-Za-z]:[\\/]|\\\\)[^\s'"`<>|,;()]*""")
_TRAILING = ".:"  # a sentence's full stop or a colon after a path is not part of the path
_FOLDER_END = r"""(?=[\\/\s'"`,;:)]|\.(?!\w)|$)"""  # a known folder ends here, not inside a longer name


def _last_component(path: str) -> str:
    """The last component of a path ('/srv/data/sst/' -> 'sst'); the path's root stays as '...'."""
    core = path.rstrip(_TRAILING)
    name = PurePath(core.replace("\\", "/")).name
    return (name or "...") + path[len(core):]


def known_folders(env: Mapping[str, str] | None = None) -> list[str]:
    """The server folders the app reads and writes, longest first (so a parent never cuts its child)."""
    env = os.environ if env is None else env
    folders = {settings.data_root(env), settings.default_runs_root(env), settings.default_cache_dir(env),
               settings.default_sst_dir(env), settings.PROJECT_ROOT, Path(tempfile.gettempdir()), Path.home()}
    if settings.read(SST_DIR_ENV, env):
        folders.add(settings.read(SST_DIR_ENV, env))
    shown = {str(folder) for folder in folders} | {str(folder.resolve()) for folder in folders}
    return sorted((f.rstrip("/\\") for f in shown if len(f.rstrip("/\\")) > 1), key=len, reverse=True)


def hide_paths(text: str, env: Mapping[str, str] | None = None) -> str:
    """`text` with every server path cut to its last component."""
    for folder in known_folders(env):
        # "/" + its name: the pattern below then cuts a longer path through it to its last component
        text = re.sub(re.escape(folder) + _FOLDER_END, "/" + PurePath(folder).name.replace("\\", "\\\\"), text)
    return _ABSOLUTE_PATH.sub(lambda found: _last_component(found.group(0)), text)


def plain_message(err: BaseException | str, env: Mapping[str, str] | None = None) -> str:
    """The first non-blank line of an error, without server paths in public mode (not escaped)."""
    text = str(err)
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if not first:
        kind = f" ({type(err).__name__})" if isinstance(err, BaseException) else ""
        first = f"something went wrong{kind}"
    return hide_paths(first, env) if settings.is_public(env) else first


def user_message(err: BaseException | str, env: Mapping[str, str] | None = None) -> str:
    """An error as one line of escaped markdown, ready for st.error: see the module's docstring."""
    return escape_markdown(plain_message(err, env))


def as_sentence(err: BaseException | str, env: Mapping[str, str] | None = None) -> str:
    """user_message with a capital first letter and a full stop (for library messages written lower-case)."""
    text = plain_message(err, env)
    text = f"{text[:1].upper()}{text[1:]}"
    return escape_markdown(text if text.endswith((".", "!", "?")) else text + ".")


def public_text(text: str, env: Mapping[str, str] | None = None) -> str:
    """Raw text for st.code or st.text (a log): as it is locally, without server paths in public mode."""
    return hide_paths(text, env) if settings.is_public(env) else text


def shown_path(path: str | os.PathLike, env: Mapping[str, str] | None = None) -> str:
    """A server path as a page may name it, escaped: in full for a local user, its last component in public mode."""
    text = str(path)
    return escape_markdown(_last_component(text) if settings.is_public(env) else text)
