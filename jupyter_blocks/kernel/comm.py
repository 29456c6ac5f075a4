"""The ``jupyter_blocks`` comm: live block state for the JupyterLab extension.

The kernel opens the comm itself when the extension loads (``%load_ext``): its open message goes
out on IOPub at once, so the frontend hears from the kernel even while its own messages wait
behind queued cells (a first Run All). A frontend can also open it (a page reloaded onto a kernel
that has the extension). Either way the frontend sends a ``sync`` of the notebook's cells; the
kernel answers with a ``state`` and, during runs, pushes an ``event`` for every runner event and
a new ``state`` when a run finishes (the messages are :mod:`~jupyter_blocks.kernel.protocol`'s).
The channel is a subscriber of the session's runs, so the run assembly hides known secrets in
what it sends.
"""

from __future__ import annotations

import logging
from typing import Any

from jupyter_blocks.kernel import protocol
from jupyter_blocks.kernel.session import Session
from jupyter_blocks.runner.events import Event

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
        self._keep(comm)
        received = protocol.read_message(message)
        if received is not None and received.type == protocol.SYNC:
            self.session.sync(received.cells, notebook=received.path)
        self.send_state([comm])

    def announce(self, create: Any) -> None:
        """Open a comm from the kernel, carrying the current state (``create`` makes it).

        The state leaves out the run store's times of cached outputs (the store is not opened
        while the extension loads); the state answering the frontend's sync has them.
        """
        try:
            message = protocol.state_message(self.session.states(history=False))
        except Exception:
            logger.exception("cannot compute block states")
            message = protocol.state_message([])
        try:
            comm = create(target_name=TARGET, data=message)
        except Exception:
            logger.debug("cannot open the comm from the kernel", exc_info=True)
            return
        self._keep(comm)

    def _keep(self, comm: Any) -> None:
        self.comms.append(comm)
        comm.on_msg(lambda msg: self.on_message(comm, msg))
        comm.on_close(lambda msg: self.comms.remove(comm) if comm in self.comms else None)

    def on_message(self, comm: Any, message: dict[str, Any]) -> None:
        """Handle a frontend message (``sync`` or ``request_state``)."""
        received = protocol.read_message(message)
        if received is None:
            return
        if received.type == protocol.SYNC:
            self.session.sync(received.cells, notebook=received.path)
        self.send_state([comm])

    def on_event(self, event: Event) -> None:
        """Forward a runner event (the new state follows when the run is recorded)."""
        self._send(protocol.event_message(event))

    def send_state(self, comms: list[Any] | None = None) -> None:
        """Send every block's state."""
        try:
            message = protocol.state_message(self.session.states())
        except Exception:
            logger.exception("cannot compute block states")
            return
        self._send(message, comms)

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
    try:
        from comm import create_comm
    except ImportError:
        return channel
    channel.announce(create_comm)
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
