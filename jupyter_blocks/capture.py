"""Capturing what a block prints and logs while it runs in this process, for the run store.

What belongs here: a runner subscriber that, between a block's ``block_started`` event and its
end, sends ``sys.stdout``, ``sys.stderr`` and log records to a per-block buffer (and, unless told
to be silent, on to the terminal as before). It relies on the inline executor running the block
in this thread between those two events.
"""

from __future__ import annotations

import io
import logging
import sys
from typing import Any, TextIO

_ENDS = {"block_finished", "block_failed", "block_cached", "block_skipped"}


class _Tee(io.TextIOBase):
    def __init__(self, buffer: io.StringIO, echo: TextIO | None) -> None:
        self.buffer_ = buffer
        self.echo = echo

    def write(self, text: str) -> int:
        self.buffer_.write(text)
        if self.echo is not None:
            self.echo.write(text)
        return len(text)

    def flush(self) -> None:
        if self.echo is not None:
            self.echo.flush()


class OutputCapture:
    """Per-block captured stdout, stderr and logging.

    Args:
        echo: Also pass the output on to the original streams.
    """

    def __init__(self, echo: bool = True) -> None:
        self.echo = echo
        self.outputs: dict[str, str] = {}
        self._current: tuple[str, io.StringIO, TextIO, TextIO, logging.Handler] | None = None

    def __call__(self, event: Any) -> None:
        """Start capturing at ``block_started``; stop at the block's end."""
        if event.event == "block_started" and event.block is not None:
            self._stop()
            buffer = io.StringIO()
            handler = logging.StreamHandler(buffer)
            handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: "
                                                   "%(message)s"))
            logging.getLogger().addHandler(handler)
            old_out, old_err = sys.stdout, sys.stderr
            sys.stdout = _Tee(buffer, old_out if self.echo else None)
            sys.stderr = _Tee(buffer, old_err if self.echo else None)
            self._current = (event.block, buffer, old_out, old_err, handler)
        elif event.event in _ENDS or event.event == "run_finished":
            self._stop()

    def take(self, block: str) -> str:
        """The output captured for ``block`` (empty when none)."""
        self._stop()
        return self.outputs.pop(block, "")

    def _stop(self) -> None:
        if self._current is None:
            return
        block, buffer, old_out, old_err, handler = self._current
        self._current = None
        sys.stdout, sys.stderr = old_out, old_err
        logging.getLogger().removeHandler(handler)
        self.outputs[block] = self.outputs.get(block, "") + buffer.getvalue()
