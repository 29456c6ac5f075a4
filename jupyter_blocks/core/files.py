"""Atomic file writes: a reader sees the whole old file or the whole new one, never half of one.

What belongs here: :func:`atomic_output` and :func:`write_atomic`, used by everything that writes
files a reader may open at the same time or a crash may interrupt (cache entries, exported
project files, the local lake's Parquet files). The data goes to a temporary file beside the
target, named so :func:`is_temporary` recognises it, and is renamed into place. The file gets the
permissions a plain ``open`` would give (the umask applies), not the private ones of a temporary
file.

:func:`check_writable` says, before the first file of a set is written, whether every one of them
can be: none is an existing folder and none lies under a file, so a writer stops with one line
instead of leaving half its files behind.

A temporary name (:func:`temporary_name`, also used for the lake's staging folders) carries its
writer: a tag of the machine and the process id. :func:`remove_stale_temporaries` removes what a
killed writer left: temporaries of this machine whose process is gone, and any older than
:data:`STALE_AFTER` (a writer on another machine sharing the folder).
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import shutil
import socket
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from jupyter_blocks.core.errors import ConfigError

TEMPORARY_SUFFIX = ".tmp"

#: Seconds after which a temporary file or folder is stale whoever wrote it.
STALE_AFTER = 24 * 3600.0

_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
_counter = itertools.count()
_HOST = hashlib.sha1(socket.gethostname().encode()).hexdigest()[:6]


def blocking(path: str | Path, *, folder: bool = False) -> tuple[Path, str] | None:
    """What stops ``path`` being written (as a file, or created as a folder), and why.

    A folder where a file is to go, a file where a folder is to go or where one of its
    folders should be, or a folder that cannot be written into; None when nothing does.
    """
    path = Path(path)
    if path.is_dir() and not folder:
        return path, "is a folder"
    if path.exists() and not path.is_dir() and folder:
        return path, "is a file, not a folder"
    for parent in path.parents:
        if parent.is_dir():
            return None if os.access(parent, os.W_OK) else (parent, "is not writable")
        if parent.exists() or parent.is_symlink():
            return parent, "is a file, not a folder"
    return None


def check_writable(paths: Iterable[str | Path], advice: str, *, folders: bool = False,
                   what: str = "") -> None:
    """Raise one error naming every path that stops one of ``paths`` being written.

    Args:
        paths: The files to write (or, with ``folders``, the folders to create).
        advice: What to do about it, ending the message.
        folders: Whether ``paths`` are folders to create.
        what: What the paths are, starting the message (an option: ``--project DIR``).

    Raises:
        ConfigError: Some path cannot be written; nothing has been written by this check.
    """
    found: dict[Path, str] = {}
    for path in paths:
        problem = blocking(path, folder=folders)
        if problem is not None:
            found.setdefault(*problem)
    if found:
        listed = "; ".join(f"{path} {why}" for path, why in found.items())
        raise ConfigError(f"{what + ': ' if what else ''}cannot write there: {listed}: "
                          f"{advice}")


def check_state_folder(folder: str | Path, what: str) -> None:
    """Raise when ``folder`` (the cache's or run store's, in ``.jupyter_blocks/``) cannot be made.

    Raises:
        ConfigError: It, or a folder above it, is a file (or cannot be written into).
    """
    check_writable([folder], "move it aside: jupyter-blocks keeps its cache and run store in "
                   "a folder of that name beside the notebook or project", folders=True,
                   what=what)


def is_temporary(name: str) -> bool:
    """Whether a file name is one of :func:`atomic_output`'s temporary files."""
    return name.startswith(".") and name.endswith(TEMPORARY_SUFFIX)


def temporary_name(target: str) -> str:
    """A hidden name, unique to this writer, for a temporary file or folder beside ``target``.

    ``.<target>.<machine>-<pid>.<counter><random>.tmp``: writers never collide (nor meet what
    a killed writer left), and a sweep knows whose it is.
    """
    return (f".{target[:40]}.{_HOST}-{os.getpid()}.{next(_counter)}{os.urandom(3).hex()}"
            f"{TEMPORARY_SUFFIX}")


def is_stale(path: Path, now: float | None = None) -> bool:
    """Whether the temporary file or folder ``path`` was left by a writer that is gone."""
    try:
        modified = path.lstat().st_mtime
    except FileNotFoundError:
        return False
    return left_by_gone(path.name, (now if now is not None else time.time()) - modified)


def left_by_gone(name: str, age: float) -> bool:
    """Whether a temporary named ``name``, last written ``age`` seconds ago, is a gone writer's.

    It is if its writer ran on this machine and that process has ended, or if it is older than
    :data:`STALE_AFTER` (its writer's machine is another, or the process id was reused).
    """
    if age > STALE_AFTER:
        return True
    owner = name[: -len(TEMPORARY_SUFFIX)].rsplit(".", 2)
    if len(owner) != 3:
        return False
    host, _, pid = owner[1].rpartition("-")
    if host not in ("", _HOST) or not pid.isdigit():
        return False  # another machine's writer: only age tells
    return not process_alive(int(pid))


def remove_stale_temporaries(folder: Path) -> tuple[int, int]:
    """Remove the stale temporary files and folders directly in ``folder``.

    Returns:
        How many were removed, and the bytes they held.
    """
    removed = size = 0
    now = time.time()
    try:
        listing = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return 0, 0
    for item in listing:
        path = Path(item.path)
        if not is_temporary(item.name) or not is_stale(path, now):
            continue
        held = _size(path)
        try:
            if item.is_dir(follow_symlinks=False):
                shutil.rmtree(path)
            else:
                path.unlink()
        except FileNotFoundError:
            continue
        removed, size = removed + 1, size + held
    return removed, size


def process_alive(pid: int) -> bool:
    """Whether a process with id ``pid`` runs on this machine."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:  # Windows: an invalid pid
        return False
    return True


def _size(path: Path) -> int:
    with contextlib.suppress(OSError):
        if path.is_dir() and not path.is_symlink():
            return sum(entry.stat().st_size for entry in path.rglob("*") if entry.is_file())
        return path.lstat().st_size
    return 0


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

    Named by :func:`temporary_name`; created with mode 0o666 so the umask applies as for a
    plain ``open``, and without a separate ``mkdir`` unless the folder is missing.
    """
    for attempt in range(100):
        temporary = os.path.join(target.parent, temporary_name(target.name))
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
