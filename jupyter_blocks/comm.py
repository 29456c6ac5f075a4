"""The ``jupyter_blocks`` comm: live block state for the JupyterLab extension.

The frontend opens the comm and sends ``{"type": "sync", "cells": [{"cell_id", "source"}]}``
with the notebook's block cells; the kernel answers with ``{"type": "state", "blocks": [...]}``
and, during runs, pushes ``{"type": "event", "event": {...}}`` for every runner event and a new
``state`` when a run finishes.
"""

from __future__ import annotations

import logging
from typing import Any

from jupyter_blocks.runner import Event
from jupyter_blocks.session import Session

logger = logging.getLogger(__name__)

TARGET = "jupyter_blocks"


class CommChannel:
    """Every open comm of one session, and the session subscriber feeding them."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.comms: list[Any] = []
        session.subscribers.append(self.on_event)
        session.after_run.append(self.send_state)

    def open(self, comm: Any, message: dict[str, Any]) -> None:
        """A frontend opened the comm: keep it and send the current state."""
        self.comms.append(comm)
        comm.on_msg(lambda msg: self.on_message(comm, msg))
        comm.on_close(lambda msg: self.comms.remove(comm) if comm in self.comms else None)
        data = message.get("content", {}).get("data") or {}
        if data.get("type") == "sync":
            self.session.sync(data.get("cells", []))
        self.send_state([comm])

    def on_message(self, comm: Any, message: dict[str, Any]) -> None:
        """Handle a frontend message (``sync`` or ``request_state``)."""
        data = message.get("content", {}).get("data") or {}
        if data.get("type") == "sync":
            self.session.sync(data.get("cells", []))
            self.send_state([comm])
        elif data.get("type") == "request_state":
            self.send_state([comm])

    def on_event(self, event: Event) -> None:
        """Forward a runner event (the new state follows when the run is recorded)."""
        payload = event.to_dict()
        payload.pop("traceback", None)
        self._send({"type": "event", "event": payload})

    def send_state(self, comms: list[Any] | None = None) -> None:
        """Send every block's state."""
        try:
            blocks = [s.to_dict() for s in self.session.states()]
        except Exception:
            logger.exception("cannot compute block states")
            return
        self._send({"type": "state", "blocks": blocks}, comms)

    def _send(self, data: dict[str, Any], comms: list[Any] | None = None) -> None:
        for comm in list(comms if comms is not None else self.comms):
            try:
                comm.send(data)
            except Exception:
                logger.debug("dropping a closed comm", exc_info=True)
                if comm in self.comms:
                    self.comms.remove(comm)


def register(session: Session) -> CommChannel | None:
    """Register the comm target in the running kernel; None outside a kernel."""
    manager = _comm_manager()
    if manager is None:
        return None
    channel = CommChannel(session)
    manager.register_target(TARGET, channel.open)
    return channel


def _comm_manager() -> Any:
    try:
        from ipykernel.kernelbase import Kernel
    except ImportError:
        return None
    if not Kernel.initialized():
        return None
    kernel = Kernel.instance()
    manager = getattr(kernel, "comm_manager", None)
    if manager is None:
        try:
            import comm

            manager = comm.get_comm_manager()
        except Exception:
            return None
    return manager
