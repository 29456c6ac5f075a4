"""The comm protocol between a kernel and the JupyterLab extension: its messages, as JSON.

What belongs here: building the messages the kernel sends and reading the ones the frontend
sends, so their shapes live in one place (``tests/data/comm_messages.json`` holds vectors that
pytest and the extension's jest tests both check).

- frontend -> kernel: ``{"type": "sync", "path": <notebook>, "cells": [{"cell_id", "source",
  "tags", "index"}]}`` (every code cell as on screen, saved or not; ``index`` is its 0-based
  position among all the notebook's cells, so the kernel names cells as the notebook shows
  them; ``path`` is the notebook's path under the server's root, so the kernel knows its file
  even when its front end does not say) and ``{"type": "request_state"}``.
- kernel -> frontend: ``{"type": "state", "blocks": [BlockState.to_dict(), ...]}`` (also the
  data of the comm's open message when the kernel opens it) and, during runs,
  ``{"type": "event", "event": Event.to_dict()}`` for every runner event (tracebacks left out:
  the cell shows them).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from jupyter_blocks.kernel.freshness import BlockState
from jupyter_blocks.runner.events import Event

SYNC = "sync"
REQUEST_STATE = "request_state"
STATE = "state"
EVENT = "event"


@dataclass(frozen=True)
class FrontendMessage:
    """A message from the frontend: its ``type`` and, for ``sync``, the cells and notebook path."""

    type: str
    cells: tuple[Mapping[str, Any], ...] = field(default=())
    path: str | None = None


def read_message(message: Mapping[str, Any]) -> FrontendMessage | None:
    """The frontend message in a comm message (its ``content.data``), or None if it is none."""
    data = message.get("content", {}).get("data") or {}
    if not isinstance(data, Mapping):
        return None
    kind = data.get("type")
    if kind == SYNC:
        cells = data.get("cells", [])
        path = data.get("path")
        return FrontendMessage(SYNC, tuple(c for c in cells if isinstance(c, Mapping))
                               if isinstance(cells, list) else (),
                               path if isinstance(path, str) and path else None)
    if kind == REQUEST_STATE:
        return FrontendMessage(REQUEST_STATE)
    return None


def state_message(states: Iterable[BlockState]) -> dict[str, Any]:
    """The ``state`` message: every block's state."""
    return {"type": STATE, "blocks": [state.to_dict() for state in states]}


def event_message(event: Event) -> dict[str, Any]:
    """The ``event`` message of a runner event (without its traceback)."""
    payload = event.to_dict()
    payload.pop("traceback", None)
    return {"type": EVENT, "event": payload}
