"""Worker processes end when the run that started them ends, however it ends (``kill -9`` too).

What belongs here: :func:`watch_parent`, called first thing in a process that runs blocks for
another one (a ``--executor processes`` worker, a timed attempt's process). A daemon thread
waits for the parent to go and then ends the worker at once: its block's work is no one's any
more, and a block left running would keep writing to the run's targets.

A worker started by :mod:`multiprocessing` waits on the parent's sentinel, a pipe that reaches
end-of-file when the parent dies (no polling). Any other child compares its parent process id
with the one it started with, every :data:`POLL_SECONDS` (a dead parent's children are adopted
by another process). The thread needs Python's interpreter lock to act, so a block inside a
long C call that holds it ends when that call returns; Python code gives it up every few
milliseconds.
"""

from __future__ import annotations

import functools
import logging
import multiprocessing
import multiprocessing.connection
import os
import threading
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)

#: How often a child not started by multiprocessing looks at its parent process id.
POLL_SECONDS = 0.5

#: The exit code of a worker whose parent died (sysexits.h's EX_TEMPFAIL), told apart from a crash.
EXIT_ORPHANED = 75

_started = threading.Event()


def watch_parent(parent_pid: int | None = None) -> None:
    """Start the thread that ends this process when its parent ends (once per process).

    Args:
        parent_pid: The parent's process id, for a child not started by multiprocessing
            (default: the current parent).
    """
    if _started.is_set():
        return
    _started.set()
    parent = multiprocessing.parent_process()
    sentinel: int | None = getattr(parent, "sentinel", None)
    watch: Callable[[], None]
    if sentinel is not None:
        watch = functools.partial(_wait_for_sentinel, sentinel)
    else:
        watch = functools.partial(_poll_parent, parent_pid or os.getppid())
    threading.Thread(target=watch, name="jupyter-blocks-parent-watch", daemon=True).start()


def _wait_for_sentinel(sentinel: int) -> None:
    multiprocessing.connection.wait([sentinel])
    _orphaned()


def _poll_parent(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(POLL_SECONDS)
    _orphaned()


def _orphaned() -> None:
    logger.warning("jupyter-blocks worker %d: the run that started it has ended; stopping",
                   os.getpid())
    os._exit(EXIT_ORPHANED)
