"""Running one attempt of one block: bind its inputs, execute its body, run its tests.

What belongs here: the task an executor runs (``BlockTask`` -> ``Executed``) for every body form
and language (Python decorated or plain, SQL, R), in each of its modes (a block's run, one poke
of a sensor, a callback answering its parent's status), and turning an exception into a
:class:`~jupyter_blocks.core.errors.BlockFailed` whose traceback shows the block's own cell or
file lines, not ours. A task is one attempt: the runner core decides about retries and pokes.
A block with ``--timeout`` runs in a child process that is killed when the time is up
(``isolate``), so an attempt never goes on after its timeout. Tasks are plain picklable values
so process and Dask executors can run them.
"""

from __future__ import annotations

import inspect
import time
import traceback
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import CodeType
from typing import Any

from jupyter_blocks.core.block import BlockSpec
from jupyter_blocks.core.body import BodyInfo, compile_body
from jupyter_blocks.core.decorators import NAMESPACE
from jupyter_blocks.core.errors import BlockFailed
from jupyter_blocks.runner.capture import block_output, worker_output

_PACKAGE_DIR = str(Path(__file__).resolve().parent.parent)

#: What a task does: run the block, poke a sensor once, or call a callback block's functions.
MODES = ("run", "poke", "callback")


@dataclass
class BlockTask:
    """Everything needed to run one attempt of one block once its upstreams are done.

    Attributes:
        spec: The block.
        info: Its body analysis.
        inputs: The values passed positionally (data upstreams' outputs, an item of a dynamic
            upstream, a reduced list), in declared order.
        variables: The variables the block receives as ``kwargs``.
        namespace: Globals the body sees (the notebook's in a kernel; the outside imports
            headless).
        directory: The notebook or project folder (profiles, relative paths).
        output_key: What the body's printing and logging is attributed to (the instance's
            name unless a worker chose a key of its own).
        names: The names the plain form binds ``inputs`` to (the upstream block names).
        mode: ``run``, ``poke`` (one call of a sensor) or ``callback``.
        status: The parent's status a callback answers (``success``, ``failure``,
            ``cancelled``).
        block_type: The block's resolved type.
    """

    spec: BlockSpec
    info: BodyInfo
    inputs: list[Any]
    variables: dict[str, Any]
    namespace: Mapping[str, Any] | None = None
    directory: Path | None = None
    output_key: str | None = None
    names: tuple[str, ...] = ()
    mode: str = "run"
    status: str | None = None
    block_type: str = "transformer"


@dataclass
class Executed:
    """A successful attempt: its output (a sensor's or condition's answer) and test counts."""

    value: Any
    tests_passed: int = 0
    tests_total: int = 0
    seconds: float = 0.0
    output: str = ""
    callbacks: tuple[str, ...] = field(default=())


def run_attempt(task: BlockTask) -> Executed:
    """Run one attempt of ``task`` in this process; raise ``BlockFailed`` if it fails.

    ``runner.attempt.run_task`` decides where an attempt runs (a timed one in a process of its
    own); this is the attempt itself.
    """
    started = time.perf_counter()
    with block_output(task.output_key or task.spec.name):
        executed = _run_attributed(task)
    executed.seconds = time.perf_counter() - started
    return executed


def run_in_worker(function: Callable[[BlockTask], Executed], task: BlockTask) -> Executed:
    """Run ``function(task)`` in an executor's worker process; return what it printed with it.

    The output travels back in ``Executed.output`` (or ``BlockFailed.output``) for the run
    store and the terminal of the process running the pipeline. Relative paths mean the
    pipeline's folder, as inline, when this machine has that folder.
    """
    import os
    import uuid

    key = f"{task.output_key or task.spec.name}#{uuid.uuid4().hex}"
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
    called: tuple[str, ...] = ()
    try:
        if spec.lang == "sql":
            value = _run_sql(task)
        elif spec.lang == "r":
            value = _run_r(task)
        elif task.mode == "callback":
            value, called = _run_callbacks(task)
        else:
            value, tests = _run_python(task)
    except BlockFailed:
        raise
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        raise BlockFailed(f"{spec.label} failed: {one_line(exc)}",
                          format_user_traceback(exc)) from None
    passed = 0
    for name, function in tests:
        try:
            _call(function, [value], task.variables)
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                raise
            raise BlockFailed(f"{spec.label}: test `{name}` failed: {one_line(exc)}",
                              format_user_traceback(exc), tests=(passed, len(tests))) from None
        passed += 1
    return Executed(value, passed, len(tests), callbacks=called)


def _namespace(task: BlockTask) -> dict[str, Any]:
    namespace: dict[str, Any] = dict(task.namespace or {})
    namespace.update(NAMESPACE)
    namespace["__name__"] = f"jupyter_blocks.blocks.{task.spec.name}"
    if task.info.form == "plain":
        namespace.update(zip(task.names, task.inputs, strict=True))
        namespace["kwargs"] = task.variables
    return namespace


def _run_python(task: BlockTask) -> tuple[Any, list[tuple[str, Callable[..., Any]]]]:
    spec, info = task.spec, task.info
    compiled = compile_body(spec)
    namespace = _namespace(task)
    exec(compiled.statements, namespace)
    if info.form == "plain":
        value = eval(compiled.last_expression, namespace) if compiled.last_expression else None
    else:
        assert info.function is not None
        value = _call(namespace[info.function], task.inputs, task.variables,
                      lenient=task.mode == "poke")
    # A sensor's poke answers; its tests (if any) check the block's last, true answer.
    tests = [] if task.mode == "poke" else [(name, namespace[name]) for name in info.tests]
    return value, tests


def _run_callbacks(task: BlockTask) -> tuple[None, tuple[str, ...]]:
    """Call the callback functions that answer ``task.status``, with the parent's output."""
    spec, info = task.spec, task.info
    compiled = compile_body(spec)
    namespace = _namespace(task)
    exec(compiled.statements, namespace)
    if info.form == "plain":
        if task.status == "success" and compiled.last_expression is not None:
            eval(compiled.last_expression, namespace)
        return None, ()
    called = []
    # As Mage: a success callback gets its parent's output, a failure callback the output a
    # failed block has (an empty list) beside kwargs['__error'], a cancelled one nothing.
    positional = {"success": task.inputs, "failure": [[]]}.get(task.status or "", [])
    for name, status in info.callbacks:
        if status != task.status:
            continue
        _call(namespace[name], positional, task.variables, lenient=True)
        called.append(name)
    return None, tuple(called)


def _run_sql(task: BlockTask) -> Any:
    from jupyter_blocks.io.sql import run_sql_block

    spec = task.spec
    upstreams = dict(zip(task.names, task.inputs, strict=True))
    return run_sql_block(spec.source, upstreams, task.variables, profile=spec.profile,
                         connector=spec.connector, directory=task.directory)


def _run_r(task: BlockTask) -> Any:
    from jupyter_blocks.io.r import ConversionError, RBlockError, run_r_block

    spec = task.spec
    try:
        return run_r_block(spec.source, task.block_type, task.inputs, task.variables,
                           label=spec.label, first_line=spec.first_line, timeout=spec.timeout)
    except RBlockError as exc:
        raise BlockFailed(f"{spec.label} failed: {exc.message}", exc.traceback) from None
    except ConversionError as exc:
        raise BlockFailed(f"{spec.label} failed: {exc}") from None


def _call(function: Callable[..., Any], positional: list[Any], variables: Mapping[str, Any],
          *, lenient: bool = False) -> Any:
    """Call a block or test function the Mage way: upstreams positionally, variables as kwargs.

    ``lenient`` (sensors and callbacks, as Mage calls them) passes only the positional values
    the function has parameters for.
    """
    shape = _parameters(function)
    if shape is None:
        return function(*positional, **variables)
    if lenient and not shape.varargs:
        positional = positional[: len(shape.positional)]
    if shape.varkw:
        return function(*positional, **variables)
    taken = set(shape.positional[: len(positional)])
    return function(*positional, **{k: v for k, v in variables.items()
                                    if k in shape.named and k not in taken})


@dataclass(frozen=True)
class _Parameters:
    positional: tuple[str, ...]
    named: frozenset[str]
    varargs: bool
    varkw: bool


def _parameters(function: Callable[..., Any]) -> _Parameters | None:
    """What ``function`` takes; None when it has no signature to read.

    A plain function's parameters are its code object's, so they are read once per code object
    (a block's function is defined again on every run from the same compiled body); a wrapped
    function, one with its own ``__signature__`` or another callable is read each time.
    """
    code = getattr(function, "__code__", None)
    plain = (inspect.isfunction(function) and not hasattr(function, "__wrapped__")
             and not hasattr(function, "__signature__"))
    if plain and code is not None:
        found = _SHAPES.get(code)
        if found is not None:
            return found
    try:
        parameters = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):
        return None
    kinds = inspect.Parameter
    shape = _Parameters(
        positional=tuple(p.name for p in parameters
                         if p.kind in (kinds.POSITIONAL_ONLY, kinds.POSITIONAL_OR_KEYWORD)),
        named=frozenset(p.name for p in parameters
                        if p.kind in (kinds.KEYWORD_ONLY, kinds.POSITIONAL_OR_KEYWORD)),
        varargs=any(p.kind is kinds.VAR_POSITIONAL for p in parameters),
        varkw=any(p.kind is kinds.VAR_KEYWORD for p in parameters))
    if plain and code is not None:
        _SHAPES[code] = shape
    return shape


#: Parameters by code object, held weakly: an entry lives as long as its compiled body.
_SHAPES: weakref.WeakKeyDictionary[CodeType, _Parameters] = weakref.WeakKeyDictionary()


def format_user_traceback(exc: BaseException) -> str:
    """The traceback of ``exc`` without the runner's own frames."""
    summary = traceback.TracebackException.from_exception(exc)
    frames = [f for f in summary.stack if not f.filename.startswith(_PACKAGE_DIR)]
    summary.stack = traceback.StackSummary.from_list(frames)
    return "".join(summary.format())


def one_line(exc: BaseException) -> str:
    """``Type: first line of the message``."""
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__
