"""Ending the command-line process without the interpreter's tear-down of every module.

Once a command is done, Python frees every module's objects one by one before the process ends;
with torch loaded that took about 0.5 s on a quiet machine and 1-2 s on a busy one (issue 23: a third
of `train --epochs 1`'s whole process on a loaded 2-core machine), for memory the operating
system takes back at once anyway. So the command's output is flushed, the atexit handlers run
(as at a normal exit), and the process ends with os._exit. With a Python thread other than the
main one still running (not a daemon thread: the normal exit does not wait for those either), the
normal exit is kept: it waits for that thread, os._exit would not.
"""
from __future__ import annotations

import atexit
import os
import sys
import threading


def quick_exit(code) -> None:
    """sys.exit(code), minus the tear-down when nothing else is running (never returns)."""
    status = code if isinstance(code, int) else (0 if code is None else 1)
    if not isinstance(code, int) and code is not None:
        print(code, file=sys.stderr)  # as sys.exit("message") prints it
    main = threading.main_thread()
    if any(t is not main and t.is_alive() and not t.daemon for t in threading.enumerate()):
        sys.exit(code)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: the normal exit would not print either
            pass
    atexit._run_exitfuncs()
    os._exit(status)
