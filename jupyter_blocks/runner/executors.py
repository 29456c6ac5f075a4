"""Executors: where block tasks run. The core loop only submits tasks and waits for futures.

``InlineExecutor`` runs each task at once in the calling thread (the default: blocks see the
notebook's live objects and tracebacks stay simple); ``ThreadExecutor`` runs independent
branches concurrently. Process and Dask executors implement the same two methods.
"""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Callable
from typing import Any, Protocol


class Executor(Protocol):
    """Runs tasks and hands back futures."""

    #: Whether several tasks may be in flight at once.
    concurrent: bool

    def submit(self, function: Callable[..., Any], *args: Any) -> cf.Future[Any]:
        """Start ``function(*args)``; return its future."""
        ...

    def shutdown(self) -> None:
        """Release workers."""
        ...


class InlineExecutor:
    """Runs each task immediately in the calling thread."""

    concurrent = False

    def submit(self, function: Callable[..., Any], *args: Any) -> cf.Future[Any]:
        """Run ``function(*args)`` now; return a finished future."""
        future: cf.Future[Any] = cf.Future()
        try:
            future.set_result(function(*args))
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:
            future.set_exception(exc)
        return future

    def shutdown(self) -> None:
        """Nothing to release."""


class ThreadExecutor:
    """Runs tasks on a thread pool, so independent branches overlap."""

    concurrent = True

    def __init__(self, max_workers: int | None = None) -> None:
        self._pool = cf.ThreadPoolExecutor(max_workers=max_workers,
                                           thread_name_prefix="jupyter-blocks")

    def submit(self, function: Callable[..., Any], *args: Any) -> cf.Future[Any]:
        """Queue ``function(*args)`` on the pool."""
        return self._pool.submit(function, *args)

    def shutdown(self) -> None:
        """Wait for running tasks and stop the pool."""
        self._pool.shutdown(wait=True)
