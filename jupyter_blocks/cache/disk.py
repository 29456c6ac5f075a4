"""The disk cache layer: checksummed entries, written atomically, LRU size-bounded.

An entry is a JSON header (kind, payload size, checksum, block name, shape, and the payload's
layout) and a payload. Entries under ``rows.ROW_BYTES`` are rows of one SQLite file in the
folder (:mod:`~jupyter_blocks.cache.rows`), because creating a file is the dearest step of a
small write; larger ones are files. An entry file is ``MAGIC``, a 4-byte header length, the
header padded so the payload starts 64-byte aligned, then the payload. File writes go to a temp
file renamed into place, row writes are one transaction: a reader sees a whole entry or none,
and two processes writing the same key leave one whole entry. The checksum (CRC-32C, see
:mod:`~jupyter_blocks.cache.checksum`) is checked on every read: a truncated or corrupt entry is
a miss with a warning (and is removed), never an exception and never wrong data; an entry
pickled under other library versions is a miss too (logged, and removed). Reads mark an entry
used (a file's mtime, a row's ``used``), and the size bound evicts the least recently used
first. What a killed writer left (its temporary file) is removed by the next process that writes
here and by ``clear``. Writing an entry that is already there with the same payload (a block run
again) leaves it in place. A row is marked used at most once a minute (``TOUCH_AFTER``): the
size bound orders rows by the minute, and reading or writing again a row used a moment ago
commits nothing.

An entry file with out-of-band buffers (a large DataFrame or array) is read through a private
(copy-on-write) memory mapping, checked whole, and its buffers become the value's arrays: loading
copies nothing, and the arrays are writable without touching the file. The mapping lives as long
as the value (before Python 3.13 it also keeps the file open); entry files are only ever
replaced by a rename or removed, never rewritten in place, so a mapped entry's pages stay valid.
Other large entries are mapped too (an Arrow table's buffers are views of the mapping).
"""

from __future__ import annotations

import contextlib
import json
import logging
import mmap
import os
import struct
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupyter_blocks.cache import checksum, codec
from jupyter_blocks.cache.rows import ROW_BYTES, RowStore
from jupyter_blocks.core.files import remove_stale_temporaries, write_atomic

logger = logging.getLogger(__name__)

MAGIC = b"JBCACHE1"
SUFFIX = ".jbc"
ALIGN = 64
DEFAULT_MAX_BYTES = 5 * 1024**3
#: Seconds after which reading or rewriting an unchanged row marks it used again.
TOUCH_AFTER = 60.0


@dataclass(frozen=True)
class EntryInfo:
    """A disk entry as listed by ``entries()``."""

    key: str
    size: int
    used: float
    block: str | None
    kind: str
    rows: int | None
    cols: int | None
    #: The value's type name (``DataFrame``, ``list``); an older entry's kind.
    type: str

    @classmethod
    def of(cls, key: str, size: int, used: float, header: dict[str, Any]) -> EntryInfo:
        """The facts of an entry from its header."""
        return cls(key, size, used, header.get("block"), header["kind"], header.get("rows"),
                   header.get("cols"), header.get("type") or header["kind"])


class DiskStore:
    """Cache entries under ``root``: small ones as rows of one database, others as files.

    Args:
        root: The cache folder (created on first write).
        max_bytes: Size bound; least recently used entries are evicted beyond it.
    """

    def __init__(self, root: str | Path, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes
        self.rows = RowStore(self.root)
        self._total: int | None = None
        self._swept = self.root in _SWEPT

    def path(self, key: str) -> Path:
        """The file ``key``'s entry has when it is not a row."""
        return self.root / f"{key}{SUFFIX}"

    def __contains__(self, key: str) -> bool:
        return key in self.rows or self.path(key).exists()

    def get(self, key: str) -> tuple[bool, Any]:
        """``(True, value)`` for a whole, valid entry; ``(False, None)`` otherwise."""
        row = None
        try:
            row = self.rows.get(key)
            header, payload = row[:2] if row is not None else self._read(self.path(key))
            if len(payload) != header["size"]:
                raise ValueError(f"truncated: {len(payload)} of {header['size']} bytes")
            if not checksum.matches(header, payload):
                raise ValueError("checksum mismatch")
            value = codec.decode(header["kind"], payload, header)
        except FileNotFoundError:
            return False, None
        except codec.StaleEntry as stale:
            logger.info("cache entry %s is stale (%s); it will be recomputed", key, stale)
            self._forget(key)
            return False, None
        except Exception as exc:  # any damage is a miss, never an error
            logger.warning("cache entry %s is unreadable (%s); it will be recomputed", key, exc)
            self._forget(key)
            return False, None
        with contextlib.suppress(Exception):
            if row is None:
                os.utime(self.path(key))
            elif row[2] < time.time() - TOUCH_AFTER:
                self.rows.touch(key)
        return True, value

    def put(self, key: str, value: Any, block: str | None = None) -> int:
        """Write ``value`` under ``key`` atomically; return the entry's size in bytes.

        The first write of this process to the folder also removes what killed writers left
        (:meth:`sweep`).
        """
        if not self._swept:
            self.sweep()
        payload = codec.encode(value)
        facts = codec.describe(value)
        algorithm, check = checksum.for_new_entries()
        entry = {"kind": payload.kind, "size": payload.size, algorithm: check(payload.chunks),
                 "block": block, "type": facts["type"], "rows": facts["rows"],
                 "cols": facts["cols"], **payload.layout}
        as_row = payload.size < ROW_BYTES and not payload.layout.get("buffers")
        kept = self._same_row(key, entry) if as_row else self._same_file(self.path(key), entry)
        if kept is not None:  # a run again of a block that gives the same bytes: nothing to write
            return kept
        header = {**entry, "created": time.time()}
        if as_row:
            size = self.rows.put(key, header, b"".join(payload.chunks))
            self._discard_file(self.path(key))  # what the key held when its value was larger
        else:
            size = self._write_file(self.path(key), header, payload.chunks)
            self._total_less(self.rows.delete(key))
        self._account(size)
        return size

    def _write_file(self, path: Path, header: dict[str, Any], chunks: list[Any]) -> int:
        text = json.dumps(header).encode()
        prefix = len(MAGIC) + 4
        text += b" " * (-(prefix + len(text)) % ALIGN)
        write_atomic(path, [MAGIC + struct.pack("<I", len(text)) + text, *chunks])
        return prefix + len(text) + int(header["size"])

    def _same_row(self, key: str, facts: dict[str, Any]) -> int | None:
        """The size of ``key``'s row when it is whole and holds exactly these facts."""
        try:
            stored = self.rows.stored(key)
        except ValueError:  # a damaged header: written again
            return None
        if stored is None or stored[1] != facts["size"]:
            return None
        header, _, used = stored
        if any(header.get(name) != value for name, value in facts.items()):
            return None
        if used < time.time() - TOUCH_AFTER:
            self.rows.touch(key)
        return len(json.dumps(header)) + int(facts["size"])

    def _same_file(self, path: Path, facts: dict[str, Any]) -> int | None:
        """The size of ``path`` when it is a whole entry of exactly these facts (marked used).

        Replacing an entry costs a rename over an existing file, the dearest step of a write
        after creating one; an entry with the same payload checksum, size, kind and block is
        left in place.
        """
        try:
            with path.open("rb") as handle:
                prefix = handle.read(len(MAGIC) + 4)
                header = self._header(prefix, handle)
                start = handle.tell()
                size = os.fstat(handle.fileno()).st_size
        except (OSError, ValueError):
            return None
        if any(header.get(name) != value for name, value in facts.items()) \
                or size != start + facts["size"]:
            return None
        with contextlib.suppress(OSError):
            os.utime(path)
        return size

    def delete(self, key: str) -> None:
        """Remove ``key``'s entry if present."""
        self._forget(key)

    def sweep(self) -> tuple[int, int]:
        """Remove the temporary files of writers that are gone (killed mid-write).

        Returns:
            How many files were removed, and their bytes.
        """
        self._swept = True
        _SWEPT.add(self.root)
        removed = remove_stale_temporaries(self.root)
        if removed[0]:
            logger.info("cache: removed %d unfinished write(s) of stopped processes", removed[0])
        return removed

    def clear(self) -> int:
        """Remove every entry, and what killed writers left; return how many entries."""
        self.sweep()
        removed = self.rows.clear()
        for info in self._files():
            self._discard_file(self.path(info.key))
            removed += 1
        self._total = 0
        return removed

    def entries(self) -> list[EntryInfo]:
        """Every readable entry's facts, most recently used first (payloads are not read)."""
        found = self._files()
        found.extend(EntryInfo.of(*row) for row in self.rows.listing())
        found.sort(key=lambda e: e.used, reverse=True)
        return found

    def _files(self) -> list[EntryInfo]:
        found: list[EntryInfo] = []
        if not self.root.is_dir():
            return found
        for path in self.root.glob(f"*{SUFFIX}"):
            try:
                stat = path.stat()
                with path.open("rb") as handle:
                    header = self._header(handle.read(len(MAGIC) + 4), handle)
            except Exception:
                continue
            found.append(EntryInfo.of(path.name[: -len(SUFFIX)], stat.st_size, stat.st_mtime,
                                      header))
        return found

    def _read(self, path: Path) -> tuple[dict[str, Any], Any]:
        """An entry file's header and payload (bytes, or a view of a private mapping)."""
        with path.open("rb") as handle:
            header = self._header(handle.read(len(MAGIC) + 4), handle)
            start = handle.tell()
            available = os.fstat(handle.fileno()).st_size - start
            if available != header["size"]:
                raise ValueError(f"truncated: {available} of {header['size']} bytes")
            if header.get("buffers") or available >= codec.OUT_OF_BAND_BYTES:
                return header, memoryview(_private_mapping(handle.fileno()))[start:]
            return header, handle.read()

    def _sizes(self) -> int:
        """The bytes the entries take (the folder's listing and the rows' sizes)."""
        total = self.rows.total()
        with contextlib.suppress(OSError), os.scandir(self.root) as listing:
            for item in listing:
                if item.name.endswith(SUFFIX):
                    with contextlib.suppress(OSError):
                        total += item.stat().st_size
        return total

    @staticmethod
    def _header(prefix: bytes, handle: Any) -> dict[str, Any]:
        if prefix[: len(MAGIC)] != MAGIC:
            raise ValueError("not a cache entry")
        (length,) = struct.unpack("<I", prefix[len(MAGIC):])
        header: dict[str, Any] = json.loads(handle.read(length))
        return header

    def _forget(self, key: str) -> None:
        """Remove ``key``'s row and file, whichever it has (a damaged database included)."""
        with contextlib.suppress(Exception):
            self._total_less(self.rows.delete(key))
        self._discard_file(self.path(key))

    def _discard_file(self, path: Path) -> None:
        try:
            size = path.stat().st_size
            path.unlink()
        except OSError:
            return
        self._total_less(size)

    def _total_less(self, size: int) -> None:
        if self._total is not None:
            self._total -= size

    def _account(self, added: int) -> None:
        if self._total is None:
            self._total = self._sizes()
        else:
            self._total += added
        if self._total <= self.max_bytes:
            return
        # Over the bound: rescan (other processes write here too), drop least recently used.
        entries = self.entries()
        self._total = sum(e.size for e in entries)
        for info in reversed(entries[1:]):
            if self._total <= self.max_bytes:
                break
            logger.info("cache: evicting %s (%s bytes)", info.key, info.size)
            self._forget(info.key)


#: Cache folders swept by this process: runs after the first (a backfill's) need not again.
_SWEPT: set[Path] = set()


def _private_mapping(fileno: int) -> mmap.mmap:
    """A copy-on-write mapping of the whole file; it keeps no descriptor open where it can."""
    if sys.version_info >= (3, 13) and os.name == "posix":
        return mmap.mmap(fileno, 0, access=mmap.ACCESS_COPY, trackfd=False)
    return mmap.mmap(fileno, 0, access=mmap.ACCESS_COPY)
