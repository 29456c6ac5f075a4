"""Replacing a folder whole, and reading one version of it while it is being replaced.

What belongs here: :func:`replace_folder`, which builds the new version of a folder (a
partitioned dataset of the local lake) beside it, under a temporary name, and swaps it in with
one rename, and :func:`pinned`, which holds the version a reader started with.

- The new version is built in a hidden staging folder next to the target (files the new
  version keeps are hard links to the old ones, not copies). Until the swap nothing a reader
  can see has changed; a failure removes the staging folder, a killed writer's is removed by
  the next writer (``core.files.remove_stale_temporaries``).
- The swap is one ``renameat2(RENAME_EXCHANGE)`` on Linux: the two folders trade names at
  once, then the old version (now under the staging name) is removed. Elsewhere the target is
  renamed aside and the new version renamed in: for a moment there is no folder, never half of
  one, and a writer killed in that moment leaves a staging folder marked complete, which the
  next writer or reader renames into place (removing the version renamed aside).
- Writers of one folder take turns (``flock`` on the folder itself, or on its parent while it
  does not exist yet; where the system has ``flock``): an append or a partition replace is
  never lost to another one made at the same time.
- A reader opens the folder once and reads everything relative to that handle
  (``dir_fd``): after a swap the handle still names the version it opened, whose files stay
  readable until the writer removes them; one removed under it makes the read start again.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import logging
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

from jupyter_blocks.core.files import remove_stale_temporaries, temporary_name

logger = logging.getLogger(__name__)

#: A staging folder holding this file is complete: it may be renamed into place.
COMPLETE_MARK = ".complete.tmp"

#: A folder holding this file is a replaced version, renamed aside: it may be removed.
OLD_MARK = ".replaced.tmp"

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def exchange(first: Path, second: Path) -> bool:
    """Swap the names of two paths at once; False where the system cannot (nothing changed)."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second),
                       _RENAME_EXCHANGE)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(first))


@contextlib.contextmanager
def _turn(target: Path) -> Iterator[None]:
    """Hold the writers' lock of ``target`` (where the system has ``flock``).

    The lock is on the folder, or on its parent while there is none; a writer that got the lock
    of a version another writer has since replaced (or of the parent, after the folder was made)
    lets it go and takes the current one's.
    """
    try:
        import fcntl
    except ImportError:  # Windows
        yield
        return
    while True:
        locked = target if target.is_dir() else target.parent
        handle = os.open(locked, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        fcntl.flock(handle, fcntl.LOCK_EX)
        if locked == target:
            with contextlib.suppress(FileNotFoundError):
                if os.stat(target).st_ino == os.fstat(handle).st_ino:
                    break
        elif not target.is_dir():
            break
        os.close(handle)  # closing releases the lock
    try:
        yield
    finally:
        os.close(handle)


def replace_folder(target: Path, build: Callable[[Path, Path | None], None]) -> None:
    """Replace the folder ``target`` (or create it) with what ``build`` makes, as one change.

    Args:
        target: The folder.
        build: ``build(staging, current)`` fills the empty folder ``staging`` with the new
            version; ``current`` is the version it replaces (None when there is none), to link
            kept files from with :func:`link`. The writers' lock is held meanwhile.

    Raises:
        Whatever ``build`` raises: the target is then as it was.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    with _turn(target):
        recover(target)
        remove_stale_temporaries(target.parent)
        staging = target.parent / temporary_name(target.name)
        staging.mkdir()
        try:
            build(staging, target if target.is_dir() else None)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        _swap(staging, target)


def _swap(staging: Path, target: Path) -> None:
    """Put the complete ``staging`` in ``target``'s place; remove the old version."""
    if not os.path.lexists(target):
        os.rename(staging, target)
        return
    if exchange(staging, target):
        shutil.rmtree(staging, ignore_errors=True)
        return
    (staging / COMPLETE_MARK).touch()
    (target / OLD_MARK).touch()
    os.rename(target, target.parent / temporary_name(target.name))
    try:
        os.rename(staging, target)
    finally:
        recover(target)  # stopped between the renames: the new version goes in all the same


def recover(target: Path) -> None:
    """Finish a swap a stopped writer left half done, and remove the versions it replaced.

    With no ``target``, the complete staging folder goes in (``COMPLETE_MARK``); the replaced
    version renamed aside (``OLD_MARK``) is removed.
    """
    candidates = sorted(target.parent.glob(f".{target.name[:40]}.*.tmp"))
    if not os.path.lexists(target):
        for candidate in candidates:
            if (candidate / COMPLETE_MARK).is_file():
                os.rename(candidate, target)
                logger.warning("lake: finished the replacement of %s a stopped export began",
                               target)
                break
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        (target / COMPLETE_MARK).unlink()
    for candidate in candidates:
        if (candidate / OLD_MARK).is_file():
            shutil.rmtree(candidate, ignore_errors=True)


def link(source: Path, destination: Path) -> None:
    """Make ``destination`` the file ``source`` (a hard link; a copy where links fail)."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, destination)
    except OSError:
        shutil.copyfile(source, destination)


@contextlib.contextmanager
def pinned(folder: Path) -> Iterator[int | None]:
    """A handle on the version of ``folder`` there is now (None where ``dir_fd`` is missing).

    Raises:
        FileNotFoundError: No such folder.
    """
    if os.open not in os.supports_dir_fd or not hasattr(os, "fwalk"):
        yield None
        return
    handle = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        yield handle
    finally:
        os.close(handle)
