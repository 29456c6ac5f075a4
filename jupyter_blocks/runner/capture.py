"""Capturing what each block prints and logs while it runs in this process, for the run store.

What belongs here: :func:`block_output`, which the runner enters in the thread that runs a
block's body, and :class:`OutputCapture`, a runner subscriber that, for the duration of a run,
routes ``sys.stdout``, ``sys.stderr`` and log records to the buffer of the block whose thread
wrote them (and, unless told to be silent, on to the terminal as before).

Blocks may run at once (``--executor threads``), so output is attributed by thread, not by time.
Output from a thread that is running no block (a thread a block started itself, a library's
worker) goes to the only running block when there is exactly one, and to the terminal alone
otherwise.
"""

from __future__ import annotations

import io
import logging
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO

_ENDS = {"block_finished", "block_failed", "block_cached", "block_skipped", "block_retrying"}
_running = threading.local()


@contextmanager
def block_output(block: str) -> Iterator[None]:
    """Attribute what this thread prints and logs to ``block`` while the context is open."""
    previous = getattr(_running, "block", None)
    _running.block = block
    try:
        yield
    finally:
        _running.block = previous


def current_block() -> str | None:
    """The block this thread is running, if any."""
    block: str | None = getattr(_running, "block", None)
    return block


_worker_capture: OutputCapture | None = None
_worker_lock = threading.Lock()


@contextmanager
def worker_output(key: str) -> Iterator[Callable[[], str]]:
    """In an executor's worker process: capture what the thread attributed to ``key`` writes.

    Yields a function returning the text captured so far. The worker's streams stay routed for
    the life of the process (blocks on other threads of the worker get buffers of their own);
    nothing is echoed there, the process running the pipeline shows the output.
    """
    global _worker_capture
    with _worker_lock:
        if _worker_capture is None:
            _worker_capture = OutputCapture(echo=False)
        capture = _worker_capture
    capture.open(key)
    try:
        yield lambda: capture.peek(key)
    finally:
        capture.take(key)


class _Router(io.TextIOBase):
    """A stream that writes to the buffer of the writing thread's block, and echoes."""

    def __init__(self, capture: OutputCapture, original: TextIO) -> None:
        self.capture = capture
        self.original = original

    def write(self, text: str) -> int:
        buffer = self.capture.buffer_for_this_thread()
        if buffer is not None:
            buffer.write(text)
        if buffer is None or self.capture.echo:
            redact = self.capture.redact
            self.original.write(redact(text) if redact is not None else text)
        return len(text)

    def flush(self) -> None:
        self.original.flush()

    # What libraries ask of sys.stdout is answered by the stream it stands in for.
    @property
    def encoding(self) -> str:  # type: ignore[override]
        return str(getattr(self.original, "encoding", None) or "utf-8")

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        errors: str | None = getattr(self.original, "errors", None)
        return errors

    def isatty(self) -> bool:
        return bool(self.original.isatty())

    def fileno(self) -> int:
        return self.original.fileno()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.original, name)


class _RoutingHandler(logging.Handler):
    """A logging handler that writes records to the buffer of the logging thread's block."""

    def __init__(self, capture: OutputCapture) -> None:
        super().__init__()
        self.capture = capture
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        buffer = self.capture.buffer_for_this_thread()
        if buffer is not None:
            try:
                buffer.write(self.format(record) + "\n")
            except Exception:
                self.handleError(record)


class OutputCapture:
    """Per-block captured stdout, stderr and logging, for blocks running one at a time or at once.

    Args:
        echo: Also pass the output on to the original streams.
        redact: Applied to what is echoed (known secrets hidden); the buffers keep the text.
    """

    def __init__(self, echo: bool = True, redact: Callable[[str], str] | None = None) -> None:
        self.echo = echo
        self.redact = redact
        self.outputs: dict[str, str] = {}
        self._buffers: dict[str, io.StringIO] = {}
        self._lock = threading.Lock()
        self._installed: tuple[TextIO, TextIO, logging.Handler] | None = None

    def __call__(self, event: Any) -> None:
        """Open a block's buffer at ``block_started``; close it at the block's end.

        A block that ran in another process brings its output in the end event: it is kept
        for the block, and echoed.
        """
        if event.event == "block_started" and event.block is not None:
            self.open(event.block)
        elif event.event in _ENDS and event.block is not None:
            self._close(event.block)
            remote = getattr(event, "output", None)
            if remote:
                with self._lock:
                    self.outputs[event.block] = self.outputs.get(event.block, "") + remote
                if self.echo:
                    stream = self._installed[0] if self._installed else sys.stdout
                    stream.write(self.redact(remote) if self.redact is not None else remote)
                    stream.flush()
        elif event.event == "run_finished":
            for block in list(self._buffers):
                self._close(block)
            self._uninstall()

    def open(self, block: str) -> None:
        """Start a buffer for ``block`` (routing the streams if not yet done)."""
        self._install()
        with self._lock:
            self._buffers.setdefault(block, io.StringIO())

    def peek(self, block: str) -> str:
        """What ``block`` has written so far, its buffer left open."""
        with self._lock:
            buffer = self._buffers.get(block)
            return self.outputs.get(block, "") + (buffer.getvalue() if buffer else "")

    def take(self, block: str) -> str:
        """The output captured for ``block`` (empty when none)."""
        self._close(block)
        with self._lock:
            return self.outputs.pop(block, "")

    def buffer_for_this_thread(self) -> io.StringIO | None:
        """The buffer of the block the calling thread runs (or of the only running block)."""
        block = current_block()
        with self._lock:
            if block is not None and block in self._buffers:
                return self._buffers[block]
            if len(self._buffers) == 1:
                return next(iter(self._buffers.values()))
        return None

    def _close(self, block: str) -> None:
        with self._lock:
            buffer = self._buffers.pop(block, None)
            if buffer is not None:
                self.outputs[block] = self.outputs.get(block, "") + buffer.getvalue()

    def _install(self) -> None:
        if self._installed is not None:
            return
        handler = _RoutingHandler(self)
        self._installed = (sys.stdout, sys.stderr, handler)
        sys.stdout = _Router(self, sys.stdout)
        sys.stderr = _Router(self, sys.stderr)
        logging.getLogger().addHandler(handler)

    def _uninstall(self) -> None:
        if self._installed is None:
            return
        out, err, handler = self._installed
        self._installed = None
        sys.stdout, sys.stderr = out, err
        logging.getLogger().removeHandler(handler)
