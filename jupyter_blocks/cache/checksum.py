"""The checksums of cache entries: CRC-32C, or zlib's CRC-32 where CRC-32C is not compiled.

CRC-32C (``crc32c``) is computed in hardware by google-crc32c, a third of zlib's CRC-32 time.
Entries written with zlib's CRC-32 (``crc32``: older entries, or where google-crc32c has no
compiled code) are checked with it.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any


def for_new_entries() -> tuple[str, Callable[[list[Any]], int]]:
    """The header field and function new entries are checked with."""
    try:
        import google_crc32c
    except ImportError:
        pass
    else:
        if google_crc32c.implementation == "c":
            return "crc32c", crc32c
    return "crc32", crc32


def matches(header: dict[str, Any], payload: Any) -> bool:
    """Whether ``payload`` has the checksum its header records."""
    if "crc32c" in header:
        return bool(crc32c([payload]) == header["crc32c"])
    return bool(crc32([payload]) == header["crc32"])


def crc32c(chunks: list[Any]) -> int:
    """CRC-32C of ``chunks`` one after another."""
    import google_crc32c

    value: int = 0
    for chunk in chunks:
        if isinstance(chunk, memoryview):  # it reads only buffers that need no release
            import pyarrow as pa

            chunk = pa.py_buffer(chunk)
        value = google_crc32c.extend(value, chunk)
    return value


def crc32(chunks: list[Any]) -> int:
    """The CRC-32 of zlib over ``chunks`` one after another."""
    value = 0
    for chunk in chunks:
        value = zlib.crc32(memoryview(chunk), value)
    return value


__all__ = ["crc32", "crc32c", "for_new_entries", "matches"]
