"""The few lines an exported block file carries so it runs under Mage as it runs here.

What belongs here: deciding whether a block needs them, their text, and finding them again in a
block file (import removes them; a run here blanks them, line numbers kept). They wrap the
block's decorator (Mage injects its own ``transformer``, ``data_loader``, ... into the file's
globals) so that, under Mage, the block function:

- gets the variables a jupyter-blocks run passes and Mage may not: plain ``mage run`` passes no
  ``execution_date``, ``ds``, ``hr``, ``interval_*``, ``logger`` or ``retry``, and Mage never
  passes our ``pipeline``, ``block`` and ``run_id`` (they are derived from Mage's
  ``pipeline_uuid``, ``block_uuid`` and ``pipeline_run_id``); an ``execution_date`` given as
  text becomes a datetime, as here; ``logger`` is a standard ``logging.Logger`` (Mage's own
  takes one message, not ``logger.info("%s rows", n)``) whose records go to Mage's logger, or
  are printed when Mage passes none;
- returns a dynamic block's items as Mage reads them: a bare list becomes ``[items]`` (Mage
  reads a list as ``[items, metadata]``), Mage's own shapes and DataFrames are left alone.

Nothing here imports jupyter_blocks at Mage's run time: the lines are plain Python.
"""

from __future__ import annotations

import ast
import re

from jupyter_blocks.core.block import BlockSpec
from jupyter_blocks.core.body import BodyInfo

#: The name of the generated function in a block file.
ADAPTER = "_jupyter_blocks_for_mage"
#: What our runs pass and Mage may not (see the module docstring).
VARIABLES_MAGE_MAY_NOT_PASS = frozenset({
    "execution_date", "ds", "hr", "interval_start_datetime", "interval_end_datetime",
    "interval_seconds", "logger", "retry", "pipeline", "block", "run_id"})
#: Block types whose function Mage calls with the run's variables.
_ADAPTED_TYPES = frozenset({"data_loader", "transformer", "data_exporter", "custom", "sensor",
                            "condition"})
_END = re.compile(rf"^(\w+) = {ADAPTER}\(\1\)$", re.MULTILINE)

_HEAD = f'''\
# Under Mage, this block gets what a jupyter-blocks run gives it: written by jupyter-blocks
# export (import removes it).
def {ADAPTER}(register):
    import functools
    import logging

    class Forward(logging.Handler):
        """Log records to Mage's logger (it takes one message), or printed."""

        def __init__(self, target):
            super().__init__()
            self.target = target

        def emit(self, record):
            message = self.format(record)
            if self.target is None:
                print(message)
            else:
                getattr(self.target, record.levelname.lower(), self.target.info)(message)

    def adapt(function):
        @functools.wraps(function)
        def call(*args, **kwargs):
'''
_VARIABLES = '''\
            if kwargs:
                import datetime
                import uuid

                now = datetime.datetime.now().replace(microsecond=0)
                date = kwargs.get('execution_date') or now
                if isinstance(date, str):
                    date = datetime.datetime.fromisoformat(date)
                elif not isinstance(date, datetime.datetime):
                    date = datetime.datetime(date.year, date.month, date.day)
                kwargs['execution_date'] = date
                start = kwargs.setdefault('interval_start_datetime', date)
                end = kwargs.setdefault('interval_end_datetime',
                                        date + datetime.timedelta(days=1))
                kwargs.setdefault('interval_seconds', int((end - start).total_seconds()))
                kwargs.setdefault('ds', date.strftime('%Y-%m-%d'))
                kwargs.setdefault('hr', date.strftime('%H'))
                kwargs.setdefault('pipeline', kwargs.get('pipeline_uuid'))
                kwargs.setdefault('block', kwargs.get('block_uuid'))
                run = kwargs.get('pipeline_run_id')
                kwargs.setdefault('run_id', str(run) if run else uuid.uuid4().hex[:12])
                given = kwargs.get('logger')
                if not isinstance(given, logging.Logger):
                    logger = logging.getLogger(f"jupyter_blocks.blocks.{kwargs.get('block_uuid')}")
                    logger.handlers, logger.propagate = [Forward(given)], False
                    logger.setLevel(logging.DEBUG)
                    kwargs['logger'] = logger
                kwargs.setdefault('retry', {'attempts': 1})
'''
_CALL = '''\
            output = function(*args, **kwargs)
'''
_DYNAMIC = '''\
            # A bare list of items becomes Mage's [items]; [items], [items, metadata] stay.
            from collections.abc import Mapping

            if isinstance(output, tuple):
                output = list(output)
            if isinstance(output, list) and not (
                    (len(output) == 1 and isinstance(output[0], list))
                    or (len(output) == 2 and all(isinstance(part, list) for part in output)
                        and len(output[0]) == len(output[1])
                        and all(isinstance(meta, Mapping) for meta in output[1]))):
                output = [output]
'''
_TAIL = '''\
            return output

        return register(call)

    return adapt


{decorator} = {adapter}({decorator})
'''


def needs_adapter(spec: BlockSpec, info: BodyInfo, block_type: str) -> tuple[bool, bool]:
    """Whether ``spec``'s file needs the variables part and the dynamic part of the adapter."""
    if spec.lang != "python" or block_type not in _ADAPTED_TYPES:
        return False, False
    reads = info.variables is None or bool(info.variables & VARIABLES_MAGE_MAY_NOT_PASS)
    takes_kwargs = info.form == "plain" or _takes_kwargs(spec.source, info.function)
    return reads and takes_kwargs, spec.dynamic


def adapter_text(decorator: str, *, variables: bool, dynamic: bool) -> str:
    """The adapter for a file whose block function is under ``@decorator``."""
    return (_HEAD + (_VARIABLES if variables else "") + _CALL + (_DYNAMIC if dynamic else "")
            + _TAIL.format(decorator=decorator, adapter=ADAPTER))


def find_adapter(text: str) -> tuple[int, int] | None:
    """The span (start, end offsets) of the generated adapter in ``text``, or None.

    Only the exact generated text counts: an adapter someone edited is their code.
    """
    start = text.find(_HEAD)
    if start < 0:
        return None
    match = _END.search(text, start)
    if match is None:
        return None
    end = match.end() + (1 if text[match.end():match.end() + 1] == "\n" else 0)
    for variables in (True, False):
        for dynamic in (True, False):
            if text[start:end] == adapter_text(match.group(1), variables=variables,
                                               dynamic=dynamic):
                return start, end
    return None


def without_adapter(text: str) -> str:
    """``text`` without the generated adapter (and the blank lines after it)."""
    span = find_adapter(text)
    if span is None:
        return text
    before, after = text[:span[0]], text[span[1]:]
    return before + after.lstrip("\n") if before.strip() else after.lstrip("\n")


def blank_adapter(text: str) -> str:
    """``text`` with the adapter's lines left empty, so the other lines keep their numbers."""
    span = find_adapter(text)
    if span is None:
        return text
    lines = text[span[0]:span[1]].count("\n")
    return text[:span[0]] + "\n" * lines + text[span[1]:]


def decorator_of(source: str, function: str | None) -> str | None:
    """The name of the decorator over the block function ``function`` in ``source``."""
    if function is None:
        return None
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == function:
            for decorator in node.decorator_list:
                target = decorator.func if isinstance(decorator, ast.Call) else decorator
                if isinstance(target, ast.Name) and target.id != "test":
                    return target.id
    return None


def _takes_kwargs(source: str, function: str | None) -> bool:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == function:
            return node.args.kwarg is not None
    return False
