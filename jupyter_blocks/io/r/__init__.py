"""R blocks: run a ``--lang r`` block's R code in an R worker process and get its value back.

What belongs here: the public functions the runner calls for R blocks, :func:`run_r_block`,
:func:`r_available` and :func:`require_r`, and :class:`RBlockError`. Processes live in
``_worker``, conversion in ``_to_r`` and ``_from_r``, the R side in ``worker.R`` (shipped in
the package).

The block's R code has Mage's form: ``load_data <- function() {...}`` (data loaders),
``transform <- function(df_1, ...) {...}`` (transformers, and custom blocks) or
``export_data <- function(df_1, ...) {...}`` (data exporters). The upstream outputs arrive as
``df_1, df_2, ...`` in ``--upstream`` order and the runtime variables as named ``...`` arguments
(only those the function names when it has no ``...``, and none whose name R would match to a
formal by prefix: a variable ``d`` would take ``df_1``'s place). The return value is the output.

**The bridge** is a long-lived ``Rscript`` worker per concurrent call, reused across calls, that
exchanges values as raw little-endian column vectors (``readBin``/``writeBin``) behind a JSON
header (jsonlite): only base R and jsonlite are needed. Measured on a 2-core machine with
R 4.2.2 (``bench/bench_r.py``, medians; a 100,000-row frame of the 10 column types below):

- a trivial block costs 1.6-2.5 ms a call on a warm worker; a call that starts a worker (the
  first of a thread) 0.33-0.37 s; starting ``Rscript`` for every call would cost 0.14-0.18 s
  before any work;
- the frame crosses to R in 0.08-0.10 s and back in 0.03-0.08 s, dtypes equal after the round
  trip: 0.1x the time pandas alone takes to write it as CSV (0.8 s). A CSV exchange with R
  measured 0.64 s (``to_csv``) + 0.55 s (``read.csv``) to R and 0.71 s (``write.csv``) +
  0.05 s (``read_csv``) back, and rounds doubles to 15 digits;
- rpy2, the in-process alternative: rpy2 3.6 builds against R 4.2 but does not load (it needs
  symbols of R >= 4.4); rpy2 3.5 takes 4.2 s to convert the frame to R and 1.3 s back, turns
  ``Int64`` into int32, dates into strings and ``boolean`` into object, and R called from four
  threads at once broke (``stack imbalance``, ``recursive gc invocation``, a fatal JIT error).
  In-process R also cannot be stopped on a timeout, and would start again in every
  process-executor worker anyway. A subprocess runs from any thread, is killed on a timeout or
  an interrupt, and its crash is a block failure rather than a dead kernel.

**Types**, Python → R → Python. A column that comes back under the name of an input column, as
the R type that column went as, gets that column's dtype again when its values fit it (an
``int64`` column with an NA in it comes back ``Int64``), so an identity block returns an equal
frame; the last column of the table is the dtype of any other column:

===========================================  ===================  ==============================
pandas                                       R                    back, new column
===========================================  ===================  ==============================
``Int64`` / ``Int32``... (NA)                integer (NA)         ``Int64``
``int64`` ... fitting in 32 bits             integer              ``Int64``
``int64`` beyond 32 bits (≤ 2**53)           double               ``float64``
``float64`` (NaN → NA)                       double               ``float64`` (NA, NaN → NaN)
``Float64`` (NA and NaN kept apart)          double (NA, NaN)     ``float64``
``bool`` / ``boolean`` (NA)                  logical (NA)         ``boolean``
``object``, ``str``, ``string`` of text      character (NA)       pandas' default for text
``object`` of ``datetime.date``              Date                 ``object`` of ``datetime.date``
``datetime64[*]``                            POSIXct, no tzone    ``datetime64[us]``
``datetime64[*, tz]``                        POSIXct, tzone = tz  ``datetime64[us, tz]``
``category`` (categories as text)            factor / ordered     ``category``
===========================================  ===================  ==============================

R works with TZ=UTC, so a naive POSIXct shows the same wall-clock time as in pandas; POSIXct is a
double of seconds, so times keep microseconds (from 1698 to 2242), not nanoseconds. Integers
beyond ±2**53, timedeltas, periods, intervals and objects other than text, dates, datetimes and
booleans do not cross (:class:`ConversionError` names the column). A frame's named index levels
become leading columns and an unnamed index is dropped; frames come back with a ``RangeIndex``.
Other values: R ``NULL`` → ``None``; an unnamed length-1 vector → a scalar (``NA`` → ``None``);
a longer vector → a list, a named one → a dict; an R list → a list, or a dict when every item is
named. Variables: strings, numbers, booleans, ``None``, dates and datetimes become R scalars,
lists and dicts go through ``jsonlite::fromJSON``; others (the logger) stay in Python.

Each call evaluates the block in a fresh environment under the global one; packages it attaches
and options it sets stay in the worker for later calls, as imports stay in a Python kernel. The
worker's working folder follows Python's at each call.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import struct
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jupyter_blocks.core.errors import BlockSpecError, MissingDependencyError

logger = logging.getLogger(__name__)

__all__ = [
    "FUNCTIONS",
    "INSTALL_R",
    "ConversionError",
    "RBlockError",
    "r_available",
    "require_r",
    "run_r_block",
    "stop_workers",
]

#: The environment variable naming the ``Rscript`` to use instead of the one on PATH.
RSCRIPT_ENV = "JUPYTER_BLOCKS_RSCRIPT"
INSTALL_R = "R is not installed: apt-get install r-base-core (Debian) or see https://cran.r-project.org"
INSTALL_JSONLITE = ("the R package jsonlite is not installed: apt-get install r-cran-jsonlite "
                    "(Debian) or install.packages('jsonlite') in R")
#: The R function each block type defines (Mage's names; custom blocks define ``transform``).
FUNCTIONS = {
    "data_loader": "load_data",
    "transformer": "transform",
    "data_exporter": "export_data",
    "custom": "transform",
}
_SIGNATURES = {"load_data": "", "transform": "df_1, ...", "export_data": "df_1, ..."}


class ConversionError(ValueError):
    """A value cannot cross between Python and R; the message names the value and the fix."""


class RBlockError(Exception):
    """An R block failed in R: an R error, a syntax error, a value that cannot come back, a timeout.

    Attributes:
        message: One line, as R says it, with the cell line:
            ``Error in transform(df_1, ...): object 'pasenger_count' not found (line 4)``.
        line: The line in the cell (as the notebook numbers it) where R was when it failed,
            or None when unknown.
        traceback: R's calls, outermost first, each with the cell line running in it, then the
            full error message.
    """

    def __init__(self, message: str, line: int | None = None, traceback: str = "") -> None:
        super().__init__(message, line, traceback)
        self.message = message
        self.line = line
        self.traceback = traceback

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class _Probe:
    path: str
    version: str
    jsonlite: bool


def _rscript() -> str | None:
    configured = os.environ.get(RSCRIPT_ENV)
    if configured:
        return shutil.which(configured)
    return shutil.which("Rscript")


@lru_cache(maxsize=8)
def _probe(path: str) -> _Probe | None:
    script = ('cat(R.version.string, "\\n", nzchar(system.file(package = "jsonlite")), "\\n", '
              'sep = "")')
    try:
        done = subprocess.run([path, "--default-packages=base", "-e", script],
                              capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        logger.debug("%s does not run: %s", path, exc)
        return None
    lines = done.stdout.splitlines()
    if done.returncode != 0 or len(lines) < 2:
        logger.debug("%s does not run: %s", path, done.stderr.strip())
        return None
    return _Probe(path, lines[0].strip(), lines[1].strip() == "TRUE")


def r_available() -> str | None:
    """``R version 4.2.2 ... (/usr/bin/Rscript)`` when R runs here, else None.

    The ``Rscript`` is ``$JUPYTER_BLOCKS_RSCRIPT`` when set, else the one on ``PATH``; it is
    asked once per process.
    """
    path = _rscript()
    probe = _probe(path) if path else None
    return None if probe is None else f"{probe.version} ({probe.path})"


def require_r() -> None:
    """Check that R blocks can run here.

    Raises:
        MissingDependencyError: R is not installed (one line saying how to install it), or its
            jsonlite package is missing.
    """
    path = _rscript()
    probe = _probe(path) if path else None
    if probe is None:
        raise MissingDependencyError(INSTALL_R)
    if not probe.jsonlite:
        raise MissingDependencyError(INSTALL_JSONLITE)


def run_r_block(
    source: str,
    block_type: str,
    inputs: Sequence[Any],
    variables: Mapping[str, Any],
    *,
    label: str,
    first_line: int,
    timeout: float | None = None,
) -> Any:
    """Run an R block and return its output as a Python value.

    What R prints goes to the calling thread's ``sys.stdout`` and ``sys.stderr`` while it runs.

    Args:
        source: The block's R code (the cell without its ``%%block`` line).
        block_type: ``data_loader``, ``transformer``, ``data_exporter`` or ``custom``; chooses
            the function called (:data:`FUNCTIONS`).
        inputs: The upstream outputs, passed as ``df_1, df_2, ...``.
        variables: The runtime variables; those R can hold arrive as named ``...`` arguments.
        label: How messages name the block (``block `clean_r` (cell 3)``).
        first_line: The cell's line number of the first line of ``source``.
        timeout: Seconds to wait for R; past them the R process is killed.

    Returns:
        The function's return value, converted (see the module docstring).

    Raises:
        RBlockError: R failed (or timed out, or its value cannot come back).
        ConversionError: An input cannot go to R.
        BlockSpecError: ``block_type`` has no R form.
        MissingDependencyError: R or jsonlite is not installed.
    """
    from jupyter_blocks.io.r import _from_r, _to_r, _worker

    function = FUNCTIONS.get(block_type)
    if function is None:
        raise BlockSpecError(
            f"{label}: R blocks are data loaders, transformers, data exporters or custom "
            f"blocks, not {block_type}", code="r_block_type")
    require_r()
    path = _rscript()
    assert path is not None
    encoded = _to_r.Encoded()
    input_specs = [_to_r.encode_input(value, encoded, f"{label}: df_{number}")
                   for number, value in enumerate(inputs, start=1)]
    request = {
        "source": source,
        "function": function,
        "block_type": block_type,
        "signature": _SIGNATURES[function],
        "cwd": os.getcwd(),
        "inputs": input_specs,
        "variables": _to_r.encode_variables(variables, encoded),
    }
    header = json.dumps(request, allow_nan=True).encode("utf-8")
    message = [struct.pack("<dd", len(header), encoded.size), header, *encoded.chunks]
    try:
        with _worker.checkout(path) as worker:
            answer, payload = worker.exchange(message, timeout=timeout,
                                              stdout=_worker.write_stdout,
                                              stderr=_worker.write_stderr)
    except _worker.WorkerError as exc:
        if "did not finish" in str(exc):
            raise RBlockError(f"{exc}; the R process was stopped") from None
        raise RBlockError(str(exc)) from None
    if not answer.get("ok"):
        raise _error_from_r(answer.get("error") or {}, label, first_line)
    return _from_r.decode(answer["value"], payload, encoded.hints)


def stop_workers() -> None:
    """Stop the R worker processes of this process (they stop at exit anyway)."""
    from jupyter_blocks.io.r import _worker

    _worker.stop_workers()


def _cell_line(line: Any, first_line: int) -> int | None:
    return int(line) + first_line - 1 if isinstance(line, int | float) else None


def _error_from_r(error: Mapping[str, Any], label: str, first_line: int) -> RBlockError:
    text = str(error.get("message") or "").strip()
    first = next((part.strip() for part in text.splitlines() if part.strip()), "R failed")
    call = error.get("call")
    line = _cell_line(error.get("line"), first_line)
    if error.get("syntax"):
        head = f"Syntax error: {first}"
    elif call:
        head = f"Error in {call}: {first}"
    else:
        head = f"Error: {first}"
    message = head + (f" (line {line})" if line is not None else "")
    frames = error.get("frames") or []
    traceback = [f"R traceback of {label} (most recent call last):"] if frames else []
    for frame in frames:
        at = _cell_line(frame.get("line"), first_line)
        traceback.append(f"  {frame.get('call')}" + (f" at line {at}" if at is not None else ""))
    rest = text.splitlines()
    traceback.append(message + ("\n" + "\n".join(rest[1:]) if len(rest) > 1 else ""))
    return RBlockError(message, line, "\n".join(traceback) + "\n")

