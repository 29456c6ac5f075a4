"""The disk cache layer: one checksummed file per entry, written atomically, LRU size-bounded.

An entry file is ``MAGIC``, a 4-byte header length, a JSON header (kind, payload size, checksum,
block name, shape, and the payload's layout) padded so the payload starts 64-byte aligned, then
the payload. The checksum is CRC-32C (``crc32c``, computed in hardware by google-crc32c: a third
of zlib's CRC-32 time); entries written with zlib's CRC-32 (``crc32``, older entries, or where
google-crc32c has no compiled code) are checked with it. Writes go to a temp file renamed into
place, so a reader sees a whole entry or none, and two processes writing the same key leave one
whole entry. A truncated or corrupt entry is a miss with a warning (and is removed), never an
exception and never wrong data; an entry pickled under other library versions is a miss too
(logged, and removed). Reads bump the file's mtime, which the size bound uses to evict the least
recently used entries first. What a killed writer left (its temporary file) is removed by the
next process that writes here and by ``clear``. Writing an entry that is already there with the
same payload (a block run again) leaves the file in place.

An entry with out-of-band buffers (a large DataFrame or array) is read through a private
(copy-on-write) memory mapping, checked whole, and its buffers become the value's arrays: loading
copies nothing, and the arrays are writable without touching the file. The mapping lives as long
as the value; entries are only ever replaced by a rename or removed, never rewritten in place, so
a mapped entry's pages stay valid. Other large entries are mapped too (an Arrow table's buffers
are views of the mapping); small ones are read with one ``read``.
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
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupyter_blocks.cache import codec
from jupyter_blocks.core.files import remove_stale_temporaries, write_atomic

logger = logging.getLogger(__name__)

MAGIC = b"JBCACHE1"
SUFFIX = ".jbc"
ALIGN = 64
DEFAULT_MAX_BYTES = 5 * 1024**3


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


class DiskStore:
    """Cache entries as files under ``root``.

    Args:
        root: The cache folder (created on first write).
        max_bytes: Size bound; least recently used entries are evicted beyond it.
    """

    def __init__(self, root: str | Path, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes
        self._total: int | None = None
        self._swept = self.root in _SWEPT

    def path(self, key: str) -> Path:
        """The file of ``key``'s entry."""
        return self.root / f"{key}{SUFFIX}"

    def __contains__(self, key: str) -> bool:
        return self.path(key).exists()

    def get(self, key: str) -> tuple[bool, Any]:
        """``(True, value)`` for a whole, valid entry; ``(False, None)`` otherwise."""
        path = self.path(key)
        try:
            header, payload = self._read(path)
            value = codec.decode(header["kind"], payload, header)
        except FileNotFoundError:
            return False, None
        except codec.StaleEntry as stale:
            logger.info("cache entry %s is stale (%s); it will be recomputed", path.name, stale)
            self._discard(path)
            return False, None
        except Exception as exc:  # any damage is a miss, never an error
            logger.warning("cache entry %s is unreadable (%s); it will be recomputed",
                           path.name, exc)
            self._discard(path)
            return False, None
        with contextlib.suppress(OSError):
            os.utime(path)
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
        algorithm, checksum = _checksum()
        entry = {"kind": payload.kind, "size": payload.size, algorithm: checksum(payload.chunks),
                 "block": block, "rows": facts["rows"], "cols": facts["cols"], **payload.layout}
        path = self.path(key)
        kept = self._same_entry(path, entry)
        if kept is not None:  # a run again of a block that gives the same bytes: nothing to write
            return kept
        header = json.dumps({**entry, "created": time.time()}).encode()
        prefix = len(MAGIC) + 4
        padding = -(prefix + len(header)) % ALIGN
        header += b" " * padding
        write_atomic(path, [MAGIC + struct.pack("<I", len(header)) + header, *payload.chunks])
        size = prefix + len(header) + payload.size
        self._account(size)
        return size

    def _same_entry(self, path: Path, facts: dict[str, Any]) -> int | None:
        """The size of ``path`` when it is a whole entry of exactly these facts (marked used).

        Replacing an entry costs a rename over an existing file, the dearest step of a small
        write; an entry with the same payload checksum, size, kind and block is left in place.
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
        self._discard(self.path(key))

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
        removed = 0
        for info in self.entries():
            self._discard(self.path(info.key))
            removed += 1
        self._total = 0
        return removed

    def entries(self) -> list[EntryInfo]:
        """Every readable entry's facts, most recently used first (payloads are not read)."""
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
            found.append(EntryInfo(path.name[: -len(SUFFIX)], stat.st_size, stat.st_mtime,
                                   header.get("block"), header["kind"], header.get("rows"),
                                   header.get("cols")))
        found.sort(key=lambda e: e.used, reverse=True)
        return found

    def _read(self, path: Path) -> tuple[dict[str, Any], Any]:
        """An entry's header and its checked payload (bytes, or a view of a private mapping)."""
        with path.open("rb") as handle:
            header = self._header(handle.read(len(MAGIC) + 4), handle)
            start = handle.tell()
            available = os.fstat(handle.fileno()).st_size - start
            if available != header["size"]:
                raise ValueError(f"truncated: {available} of {header['size']} bytes")
            if header.get("buffers") or available >= codec.OUT_OF_BAND_BYTES:
                mapping = _private_mapping(handle.fileno())
                payload: Any = memoryview(mapping)[start:]
            else:
                payload = handle.read()
        if "crc32c" in header:
            matches = _crc32c([payload]) == header["crc32c"]
        else:
            matches = _crc32([payload]) == header["crc32"]
        if not matches:
            raise ValueError("checksum mismatch")
        return header, payload

    def _sizes(self) -> int:
        """The bytes the entries take (from the folder's listing: no entry is opened)."""
        total = 0
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

    def _discard(self, path: Path) -> None:
        try:
            size = path.stat().st_size
            path.unlink()
        except OSError:
            return
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
            self._discard(self.path(info.key))


#: Cache folders swept by this process: runs after the first (a backfill's) need not again.
_SWEPT: set[Path] = set()


def _private_mapping(fileno: int) -> mmap.mmap:
    """A copy-on-write mapping of the whole file; it keeps no descriptor open where it can."""
    if sys.version_info >= (3, 13) and os.name == "posix":
        return mmap.mmap(fileno, 0, access=mmap.ACCESS_COPY, trackfd=False)
    return mmap.mmap(fileno, 0, access=mmap.ACCESS_COPY)


def _checksum() -> tuple[str, Callable[[list[Any]], int]]:
    """The checksum new entries get: CRC-32C where it runs compiled, else zlib's CRC-32."""
    try:
        import google_crc32c
    except ImportError:
        pass
    else:
        if google_crc32c.implementation == "c":
            return "crc32c", _crc32c
    return "crc32", _crc32


def _crc32c(chunks: list[Any]) -> int:
    """CRC-32C of ``chunks`` one after another."""
    import google_crc32c

    value: int = 0
    for chunk in chunks:
        if isinstance(chunk, memoryview):  # it reads only buffers that need no release
            import pyarrow as pa

            chunk = pa.py_buffer(chunk)
        value = google_crc32c.extend(value, chunk)
    return value


def _crc32(chunks: list[Any]) -> int:
    """The CRC-32 of zlib over ``chunks`` one after another."""
    value = 0
    for chunk in chunks:
        value = zlib.crc32(memoryview(chunk), value)
    return value
