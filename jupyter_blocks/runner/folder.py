"""The working folder of a run: relative paths in blocks mean the pipeline's folder.

What belongs here: :func:`working_folder`, which makes the pipeline's folder the process's
current folder for a run, as it is in the notebook's kernel. The current folder belongs to the
whole process, so runs that overlap in one process (a backfill's intervals, a scheduler's runs)
share it: runs in the same folder enter together, a run in another folder waits for them to end.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

_lock = threading.Condition()
_current: Path | None = None
_users = 0
_previous = ""


@contextlib.contextmanager
def working_folder(folder: Path) -> Iterator[None]:
    """Run the body with ``folder`` as the current folder; restore the previous one after."""
    global _current, _users, _previous
    folder = folder.resolve()
    with _lock:
        while _users and _current != folder:
            _lock.wait()
        if not _users:
            _previous = os.getcwd()
            os.chdir(folder)
            _current = folder
        _users += 1
    try:
        yield
    finally:
        with _lock:
            _users -= 1
            if not _users:
                os.chdir(_previous)
                _current = None
                _lock.notify_all()
