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
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

TEMPORARY_SUFFIX = ".tmp"


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
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name[:40]}.",
                                         suffix=TEMPORARY_SUFFIX)
    try:
        os.chmod(temporary, 0o666 & ~_umask())
        if binary:
            with os.fdopen(handle, "wb") as stream:
                yield stream
        else:
            with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
                yield stream
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_atomic(path: str | Path, data: bytes | str) -> None:
    """Write ``data`` (text as UTF-8, with Unix newlines) to ``path`` atomically."""
    with atomic_output(path, binary=isinstance(data, bytes)) as stream:
        stream.write(data)


_UMASK: int | None = None


def _umask() -> int:
    # os.umask can only be read by setting it: read it once, as the process starts writing.
    global _UMASK
    if _UMASK is None:
        _UMASK = os.umask(0o022)
        os.umask(_UMASK)
    return _UMASK
