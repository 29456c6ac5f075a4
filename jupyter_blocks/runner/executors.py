"""Executors: where block tasks run. The core loop only submits tasks and waits for futures.

``InlineExecutor`` runs each task at once in the calling thread (the default: blocks see the
notebook's live objects and tracebacks stay simple); ``ThreadExecutor`` runs independent
branches concurrently in this process; ``ProcessExecutor`` in worker processes of this machine;
``DaskExecutor`` on a Dask cluster (a local one started for the run, or a scheduler's address).
The last two send the task (its upstream outputs, variables and import statements) to the
worker and get the block's output and what it printed back (``execute.run_in_worker``).
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import multiprocessing
import os
import threading
from collections.abc import Callable
from typing import Any, Protocol

from jupyter_blocks.core.errors import ConfigError, MissingDependencyError, did_you_mean
from jupyter_blocks.runner.execute import run_in_worker
from jupyter_blocks.runner.watchdog import watch_parent

#: The names ``--executor`` takes.
EXECUTORS = ("inline", "threads", "processes", "dask")

#: Threads of ``--executor threads``: blocks that overlap are mostly waiting on I/O.
DEFAULT_WORKERS = 16


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


class ProcessExecutor:
    """Runs tasks in worker processes (started fresh, not forked), so CPU-bound branches overlap.

    Each worker watches this process (``watchdog.watch_parent``) and ends when it ends, even
    by ``kill -9``: no worker outlives its run.

    Args:
        max_workers: Worker processes (default: the number of CPUs).
    """

    concurrent = True

    def __init__(self, max_workers: int | None = None) -> None:
        self._pool = cf.ProcessPoolExecutor(
            max_workers=max_workers or os.cpu_count() or 1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=watch_parent,
        )

    def submit(self, function: Callable[..., Any], *args: Any) -> cf.Future[Any]:
        """Send ``function(*args)`` to a worker process."""
        return self._pool.submit(run_in_worker, function, *args)

    def shutdown(self) -> None:
        """Stop the workers (tasks not started are cancelled)."""
        self._pool.shutdown(wait=True, cancel_futures=True)


class DaskExecutor:
    """Runs tasks on a Dask cluster: the scheduler at ``address``, or a local cluster.

    Args:
        address: A scheduler address (``tcp://host:8786``); None starts a local cluster of
            ``max_workers`` single-threaded worker processes for the run.
        max_workers: Workers of the local cluster (default: the number of CPUs).

    Raises:
        MissingDependencyError: ``distributed`` is not installed.
    """

    concurrent = True

    def __init__(self, address: str | None = None, max_workers: int | None = None) -> None:
        try:
            import distributed as _distributed
        except ImportError:
            raise MissingDependencyError(
                "--executor dask needs dask.distributed: pip install 'jupyter-blocks[dask]'"
            ) from None
        distributed: Any = _distributed
        self._cluster: Any = None
        if address is None:
            self._cluster = distributed.LocalCluster(
                n_workers=max_workers or os.cpu_count() or 1,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
            address = self._cluster.scheduler_address
        self._client: Any = distributed.Client(address, set_as_default=False)
        self._pending: set[Any] = set()
        self._lock = threading.Lock()

    def submit(self, function: Callable[..., Any], *args: Any) -> cf.Future[Any]:
        """Send ``function(*args)`` to the cluster; the future settles when the task does."""
        local: cf.Future[Any] = cf.Future()
        remote: Any = self._client.submit(run_in_worker, function, *args, pure=False)
        with self._lock:
            self._pending.add(remote)

        def settle(done: Any) -> None:
            with self._lock:
                self._pending.discard(done)
            try:
                local.set_result(done.result())
            except BaseException as exc:
                local.set_exception(exc)

        remote.add_done_callback(settle)
        return local

    def shutdown(self) -> None:
        """Cancel what is still queued, disconnect, and stop a local cluster."""
        with self._lock:
            pending = list(self._pending)
        for remote in pending:
            remote.cancel()
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


def make_executor(name: str, workers: int | None = None, scheduler: str | None = None
                  ) -> Executor:
    """The executor ``--executor NAME`` names, with ``workers`` (threads or processes).

    Raises:
        ConfigError: An unknown name (with the near match), or options the executor ignores.
        MissingDependencyError: ``dask`` without ``dask.distributed`` installed.
    """
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers: expected at least 1, got {workers}")
    if scheduler is not None and name != "dask":
        raise ConfigError("--scheduler: a Dask scheduler's address goes with --executor dask")
    if name == "inline":
        if workers not in (None, 1):
            raise ConfigError("--workers: the inline executor runs one block at a time; "
                              "add --executor threads")
        return InlineExecutor()
    if name == "threads":
        return ThreadExecutor(workers or DEFAULT_WORKERS)
    if name == "processes":
        return ProcessExecutor(workers)
    if name == "dask":
        if scheduler is not None and workers is not None:
            raise ConfigError("--workers: the cluster at --scheduler has its own workers")
        return DaskExecutor(scheduler, workers)
    raise ConfigError(f"--executor: expected one of {', '.join(EXECUTORS)}, got {name!r}"
                      f"{did_you_mean(name, EXECUTORS)}")
