"""The in-memory cache layer: live output objects of this process, LRU-bounded by count."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any


class MemoryStore:
    """Keeps the most recently used outputs of this process by key.

    Args:
        max_entries: How many outputs to keep before dropping the least recently used.
    """

    def __init__(self, max_entries: int = 256) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[str, Any] = OrderedDict()

    def __contains__(self, key: str) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> tuple[bool, Any]:
        """``(True, value)`` on a hit, ``(False, None)`` on a miss."""
        if key not in self._entries:
            return False, None
        self._entries.move_to_end(key)
        return True, self._entries[key]

    def put(self, key: str, value: Any) -> None:
        """Store ``value`` under ``key``, evicting the least recently used beyond the bound."""
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def delete(self, key: str) -> None:
        """Forget ``key`` if present."""
        self._entries.pop(key, None)

    def clear(self) -> None:
        """Forget everything."""
        self._entries.clear()
