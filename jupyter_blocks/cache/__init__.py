"""The output cache: an in-memory layer over a disk layer, addressed by sha256 keys.

``Cache`` is the one interface callers use (``get``/``put``/``has``/``delete``/``clear``/
``entries``); the layers live in ``memory`` and ``disk``, keys in ``keys`` and payload encoding in
``codec``. Nothing outside this package reaches into a layer.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupyter_blocks.cache.disk import DEFAULT_MAX_BYTES, DiskStore, EntryInfo
from jupyter_blocks.cache.keys import CACHE_FORMAT_VERSION, KeyParts, block_key, stale_reason
from jupyter_blocks.cache.memory import MemoryStore

logger = logging.getLogger(__name__)

CACHE_DIR = Path(".jupyter_blocks") / "cache"
SIZE_ENV = "JUPYTER_BLOCKS_CACHE_BYTES"


@dataclass(frozen=True)
class Hit:
    """A cache hit: the value and the layer that served it (``memory`` or ``disk``)."""

    value: Any
    layer: str


class Cache:
    """Memory layer over an optional disk layer.

    Args:
        disk: The disk layer, or None for a memory-only cache.
        memory: The memory layer (a new one by default).
    """

    def __init__(self, disk: DiskStore | None = None, memory: MemoryStore | None = None) -> None:
        self.disk = disk
        self.memory = memory if memory is not None else MemoryStore()

    @classmethod
    def beside(cls, directory: str | Path, max_bytes: int | None = None) -> Cache:
        """The cache of a notebook or project folder: ``<directory>/.jupyter_blocks/cache``."""
        if max_bytes is None:
            max_bytes = int(os.environ.get(SIZE_ENV, DEFAULT_MAX_BYTES))
        return cls(DiskStore(Path(directory) / CACHE_DIR, max_bytes))

    def get(self, key: str) -> Hit | None:
        """The value under ``key`` from the first layer that has it, or None."""
        found, value = self.memory.get(key)
        if found:
            return Hit(value, "memory")
        if self.disk is not None:
            found, value = self.disk.get(key)
            if found:
                self.memory.put(key, value)
                return Hit(value, "disk")
        return None

    def put(self, key: str, value: Any, block: str | None = None) -> None:
        """Store ``value`` in every layer; a value the disk cannot hold stays in memory only."""
        self.memory.put(key, value)
        if self.disk is None:
            return
        try:
            self.disk.put(key, value, block)
        except Exception as exc:
            logger.warning("output of block %s is not saved to the disk cache: %s", block, exc)

    def has(self, key: str) -> bool:
        """Whether some layer holds ``key`` (without reading it)."""
        return key in self.memory or (self.disk is not None and key in self.disk)

    @property
    def location(self) -> Path | None:
        """The folder of the disk layer, if there is one."""
        return self.disk.root if self.disk is not None else None

    def entries(self) -> list[EntryInfo]:
        """The disk layer's entries, most recently used first (none for a memory cache)."""
        return self.disk.entries() if self.disk is not None else []

    def delete(self, key: str) -> None:
        """Forget ``key`` in every layer."""
        self.memory.delete(key)
        if self.disk is not None:
            self.disk.delete(key)

    def sweep(self) -> tuple[int, int]:
        """Remove what killed writers left in the disk layer: ``(files, bytes)``."""
        return self.disk.sweep() if self.disk is not None else (0, 0)

    def clear(self) -> int:
        """Empty every layer; return how many disk entries were removed."""
        self.memory.clear()
        return self.disk.clear() if self.disk is not None else 0


__all__ = ["CACHE_FORMAT_VERSION", "Cache", "DiskStore", "EntryInfo", "Hit", "KeyParts",
           "MemoryStore",
           "block_key", "stale_reason"]
