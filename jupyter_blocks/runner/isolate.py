"""Timed attempts: a block with ``--timeout`` runs in a child process killed when time is up.

What belongs here: :func:`run_isolated`, which sends one attempt to a fresh Python process of
its own (in a session of its own, so whatever the block starts dies with it), waits at most the
timeout, and kills the whole process group if the attempt is still running: it never writes
after its timeout and never overlaps its retry, whatever the executor, and a kernel is never
left with a runaway thread. The attempt carries the names its body reads from the notebook:
modules travel as their names and are imported again, other values must pickle. Running this
module (``python -m jupyter_blocks.runner.isolate TASK RESULT``) is the child's side.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import threading
import types
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from jupyter_blocks.core.errors import BlockFailed
from jupyter_blocks.runner.execute import BlockTask, Executed, run_attempt, run_in_worker
from jupyter_blocks.runner.namespace import ImportedNamespace
from jupyter_blocks.runner.watchdog import watch_parent

#: Child processes of attempts now running, so an interrupt can stop them.
_children: set[subprocess.Popen[bytes]] = set()
_children_lock = threading.Lock()


def run_isolated(task: BlockTask, timeout: float) -> Executed:
    """Run ``task`` in a child process; kill it and raise ``BlockFailed`` after ``timeout`` s."""
    label = task.spec.label
    sendable = replace(task, namespace=_portable(task))
    try:
        payload = pickle.dumps(sendable)
    except Exception as exc:
        raise BlockFailed(
            f"{label} has --timeout, so it runs in a process of its own that can be stopped, "
            f"and what it needs cannot be sent there ({type(exc).__name__}: {exc}); import or "
            "define what it uses inside the block, or drop --timeout") from None
    with tempfile.TemporaryDirectory(prefix="jupyter-blocks-attempt-") as folder:
        sent, back = Path(folder, "task.pickle"), Path(folder, "result.pickle")
        sent.write_bytes(payload)
        child = subprocess.Popen(
            [sys.executable, "-m", "jupyter_blocks.runner.isolate", str(sent), str(back)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            start_new_session=True, cwd=str(task.directory) if task.directory else None)
        with _children_lock:
            _children.add(child)
        try:
            try:
                _, errors = child.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                _kill(child)
                raise BlockFailed(f"{label} timed out after {timeout:g}s (--timeout); "
                                  "it was stopped") from None
            except BaseException:
                _kill(child)
                raise
        finally:
            with _children_lock:
                _children.discard(child)
        if not back.is_file():
            tail = errors.decode("utf-8", "replace").strip().splitlines()[-3:]
            raise BlockFailed(f"{label}: its process ended with code {child.returncode} before "
                              f"finishing" + (f": {' / '.join(tail)}" if tail else ""))
        outcome, value = pickle.loads(back.read_bytes())
    if outcome == "failed":
        raise value
    executed: Executed = value
    return executed


def stop_all() -> None:
    """Kill every attempt's child process still running (on an interrupt, at exit)."""
    with _children_lock:
        children = list(_children)
    for child in children:
        _kill(child)


def _kill(child: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, signal.SIGKILL)
    with contextlib.suppress(Exception):
        child.wait(timeout=10)


class _Module:
    """A module in a namespace sent to a child: it pickles as its name, imported again there."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __reduce__(self) -> tuple[Any, ...]:
        return (importlib.import_module, (self.name,))


def _portable(task: BlockTask) -> Mapping[str, Any] | None:
    """The globals the body reads from ``task.namespace``, in a form that pickles."""
    namespace = task.namespace
    if namespace is None or isinstance(namespace, ImportedNamespace):
        return namespace
    wanted = task.info.free_names - set(task.names)
    portable: dict[str, Any] = {}
    for name in sorted(wanted):
        if name not in namespace:
            continue
        value = namespace[name]
        portable[name] = _Module(value.__name__) if isinstance(value, types.ModuleType) \
            else value
    return portable


def _child(task_path: str, result_path: str) -> None:
    """The child's side: run the attempt, write ``("ok", Executed)`` or ``("failed", error)``."""
    watch_parent()  # a killed run takes its timed attempts with it
    task: BlockTask = pickle.loads(Path(task_path).read_bytes())
    try:
        result: tuple[str, Any] = ("ok", run_in_worker(run_attempt, task))
    except BlockFailed as failure:
        result = ("failed", failure)
    try:
        payload = pickle.dumps(result)
    except Exception as exc:
        payload = pickle.dumps(("failed", BlockFailed(
            f"{task.spec.label}: its output cannot be sent back from its process "
            f"({type(exc).__name__}: {exc}); with --timeout a block's output must pickle")))
    temporary = Path(result_path + ".part")
    temporary.write_bytes(payload)
    os.replace(temporary, result_path)


if __name__ == "__main__":
    _child(sys.argv[1], sys.argv[2])
