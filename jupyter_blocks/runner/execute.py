"""Running one block: bind its inputs, execute its body, run its tests, report failures.

What belongs here: the task an executor runs (``BlockTask`` -> ``Executed``), for both body forms,
SQL blocks, retries with exponential backoff, the per-block timeout, and turning an exception into
a :class:`~jupyter_blocks.core.errors.BlockFailed` whose traceback shows the block's own cell or
file lines, not ours. Tasks are
plain picklable values so process and Dask executors can run them.
"""

from __future__ import annotations

import inspect
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from jupyter_blocks.core.block import BlockSpec
from jupyter_blocks.core.body import BodyInfo, compile_body
from jupyter_blocks.core.decorators import NAMESPACE
from jupyter_blocks.core.errors import BlockFailed
from jupyter_blocks.runner.capture import block_output, worker_output

_PACKAGE_DIR = str(Path(__file__).resolve().parent.parent)


@dataclass
class BlockTask:
    """Everything needed to run one block once its upstreams are done.

    Attributes:
        spec: The block.
        info: Its body analysis.
        inputs: Upstream outputs, in declared order.
        variables: The variables the block receives as ``kwargs``.
        namespace: Globals the body sees (the notebook's in a kernel; the outside imports
            headless).
        directory: The notebook or project folder (profiles, relative paths).
        output_key: What the body's printing and logging is attributed to (the block's name
            unless a worker chose a key of its own).
    """

    spec: BlockSpec
    info: BodyInfo
    inputs: list[Any]
    variables: dict[str, Any]
    namespace: Mapping[str, Any] | None = None
    directory: Path | None = None
    output_key: str | None = None


@dataclass
class Executed:
    """A block's successful run: its output and test counts."""

    value: Any
    tests_passed: int = 0
    tests_total: int = 0
    attempts: int = 1
    seconds: float = 0.0
    output: str = ""


def run_task(task: BlockTask) -> Executed:
    """Run ``task`` with its retries and timeout; raise ``BlockFailed`` if every attempt fails."""
    spec = task.spec
    started = time.perf_counter()
    attempt = 0
    while True:
        attempt += 1
        try:
            result = _with_timeout(spec.timeout, lambda: _run_once(task), spec)
        except BlockFailed as failure:
            if attempt > spec.retries:
                failure.attempts = attempt
                failure.seconds = time.perf_counter() - started
                raise
            time.sleep(spec.retry_delay * 2 ** (attempt - 1))
            continue
        result.attempts = attempt
        result.seconds = time.perf_counter() - started
        return result


def _run_once(task: BlockTask) -> Executed:
    with block_output(task.output_key or task.spec.name):
        return _run_attributed(task)


def run_in_worker(function: Callable[[BlockTask], Executed], task: BlockTask) -> Executed:
    """Run ``function(task)`` in an executor's worker process; return what it printed with it.

    The output travels back in ``Executed.output`` (or ``BlockFailed.output``) for the run
    store and the terminal of the process running the pipeline. Relative paths mean the
    pipeline's folder, as inline, when this machine has that folder.
    """
    import os
    import uuid

    key = f"{task.spec.name}#{uuid.uuid4().hex}"
    task = replace(task, output_key=key)
    if task.directory is not None and task.directory.is_dir():
        os.chdir(task.directory)
    with worker_output(key) as output:
        try:
            executed = function(task)
        except BlockFailed as failure:
            failure.output = output()
            raise
        executed.output = output()
    return executed


def _run_attributed(task: BlockTask) -> Executed:
    spec = task.spec
    tests: list[tuple[str, Callable[..., Any]]] = []
    try:
        if spec.lang == "sql":
            value = _run_sql(task)
        elif spec.lang == "python":
            value, tests = _run_python(task)
        else:
            raise BlockFailed(f"{spec.label}: --lang {spec.lang} blocks cannot run here; "
                               "use --lang python or sql")
    except BlockFailed:
        raise
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        raise BlockFailed(f"{spec.label} failed: {_one_line(exc)}",
                          format_user_traceback(exc)) from None
    passed = 0
    for name, function in tests:
        try:
            _call(function, [value], task.variables)
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                raise
            raise BlockFailed(f"{spec.label}: test `{name}` failed: {_one_line(exc)}",
                              format_user_traceback(exc), tests=(passed, len(tests))) from None
        passed += 1
    return Executed(value, passed, len(tests))


def _run_python(task: BlockTask) -> tuple[Any, list[tuple[str, Callable[..., Any]]]]:
    spec, info = task.spec, task.info
    compiled = compile_body(spec)
    namespace: dict[str, Any] = dict(task.namespace or {})
    namespace.update(NAMESPACE)
    namespace["__name__"] = f"jupyter_blocks.blocks.{spec.name}"
    if info.form == "plain":
        namespace.update(zip(spec.upstream, task.inputs, strict=True))
        namespace["kwargs"] = task.variables
    exec(compiled.statements, namespace)
    if info.form == "plain":
        value = eval(compiled.last_expression, namespace) if compiled.last_expression else None
    else:
        assert info.function is not None
        value = _call(namespace[info.function], task.inputs, task.variables)
    return value, [(name, namespace[name]) for name in info.tests]


def _run_sql(task: BlockTask) -> Any:
    from jupyter_blocks.io.sql import run_sql_block

    spec = task.spec
    upstreams = dict(zip(spec.upstream, task.inputs, strict=True))
    return run_sql_block(spec.source, upstreams, task.variables, profile=spec.profile,
                         connector=spec.connector, directory=task.directory)


def _call(function: Callable[..., Any], positional: list[Any], variables: Mapping[str, Any]
          ) -> Any:
    """Call a block or test function the Mage way: upstreams positionally, variables as kwargs."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return function(*positional, **variables)
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return function(*positional, **variables)
    named = {p.name for p in parameters if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}
    positional_names = [p.name for p in parameters
                        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    taken = set(positional_names[: len(positional)])
    return function(*positional, **{k: v for k, v in variables.items()
                                    if k in named and k not in taken})


def _with_timeout(seconds: float | None, work: Callable[[], Executed], spec: BlockSpec
                  ) -> Executed:
    if seconds is None:
        return work()
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = work()
        except BaseException as exc:
            box["error"] = exc

    # The body cannot be killed in-process; it is abandoned in a daemon thread on timeout.
    thread = threading.Thread(target=target, name=f"block-{spec.name}", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise BlockFailed(f"{spec.label} timed out after {seconds:g}s (--timeout)")
    if "error" in box:
        raise box["error"]
    result: Executed = box["result"]
    return result


def format_user_traceback(exc: BaseException) -> str:
    """The traceback of ``exc`` without the runner's own frames."""
    summary = traceback.TracebackException.from_exception(exc)
    frames = [f for f in summary.stack if not f.filename.startswith(_PACKAGE_DIR)]
    summary.stack = traceback.StackSummary.from_list(frames)
    return "".join(summary.format())


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__
