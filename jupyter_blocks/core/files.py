"""Atomic file writes: a reader sees the whole old file or the whole new one, never half of one.

What belongs here: :func:`atomic_output` and :func:`write_atomic`, used by everything that writes
files a reader may open at the same time or a crash may interrupt (cache entries, exported
project files, the local lake's Parquet files). The data goes to a temporary file beside the
target, named so :func:`is_temporary` recognises it (and sweeps can remove what a killed process
left), and is renamed into place. The file gets the permissions a plain ``open`` would give
(the umask applies), not the private ones of a temporary file.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

TEMPORARY_SUFFIX = ".tmp"
_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
_counter = itertools.count()


def is_temporary(name: str) -> bool:
    """Whether a file name is one of :func:`atomic_output`'s temporary files."""
    return name.startswith(".") and name.endswith(TEMPORARY_SUFFIX)


@contextlib.contextmanager
def atomic_output(path: str | Path, *, binary: bool = True) -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on a clean exit it replaces ``path`` whole.

    The folder is created when missing. On an exception the temporary file is removed and
    ``path`` is left as it was.
    """
    target = Path(path)
    handle, temporary = _create_temporary(target)
    try:
        if binary:
            with os.fdopen(handle, "wb") as stream:
                yield stream
        else:
            with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
                yield stream
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def write_atomic(path: str | Path, data: bytes | str | Sequence[Any]) -> None:
    """Write ``data`` to ``path`` atomically.

    Args:
        path: The file to replace.
        data: Text (written as UTF-8, with Unix newlines), bytes, or a sequence of buffers
            (bytes, memoryviews, Arrow buffers) written one after another without joining them
            (one ``writev`` where the system has it).
    """
    if isinstance(data, str):
        with atomic_output(path, binary=False) as stream:
            stream.write(data)
        return
    chunks: Sequence[Any] = [data] if isinstance(data, bytes | bytearray) else data
    parts = [memoryview(chunk) for chunk in chunks]
    target = Path(path)
    handle, temporary = _create_temporary(target)
    try:
        try:
            _write_all(handle, parts)
        finally:
            os.close(handle)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _create_temporary(target: Path) -> tuple[int, str]:
    """Create the temporary file beside ``target`` (and its folder when missing).

    Named after the target, the process, a counter and random letters, so writers never
    collide (nor meet a file a killed process left); created with mode 0o666 so the umask
    applies as for a plain ``open``, and without a separate ``mkdir`` unless the folder is
    missing.
    """
    for attempt in range(100):
        name = (f".{target.name[:40]}.{os.getpid()}.{next(_counter)}{os.urandom(3).hex()}"
                f"{TEMPORARY_SUFFIX}")
        temporary = os.path.join(target.parent, name)
        try:
            return os.open(temporary, _FLAGS, 0o666), temporary
        except FileNotFoundError:
            target.parent.mkdir(parents=True, exist_ok=True)
            return os.open(temporary, _FLAGS, 0o666), temporary
        except FileExistsError:
            if attempt == 99:
                raise
    raise AssertionError("unreachable")


def _write_all(handle: int, parts: list[memoryview]) -> None:
    parts = [part.cast("B") if part.format != "B" or part.ndim != 1 else part for part in parts]
    parts = [part for part in parts if part.nbytes]
    writev = getattr(os, "writev", None)
    while parts:
        written = writev(handle, parts[:1024]) if writev else os.write(handle, parts[0])
        while parts and written >= parts[0].nbytes:
            written -= parts[0].nbytes
            parts.pop(0)
        if parts and written:
            parts[0] = parts[0][written:]
