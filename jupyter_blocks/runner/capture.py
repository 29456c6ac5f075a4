"""Capturing what each block prints and logs while it runs in this process, for the run store.

What belongs here: :func:`block_output`, which the runner enters in the thread that runs a
block's body, and :class:`OutputCapture`, a runner subscriber that keeps, for one run, a buffer
per running block. While any block buffer is open in the process, ``sys.stdout``, ``sys.stderr``
and the root logger are routed (once for the whole process) to the buffer of the block whose
thread wrote them, and on to the terminal as before unless that block's capture is silent; when
the last one closes, the streams are what they were.

Blocks may run at once (``--executor threads``), and so may runs (a backfill's intervals, the
scheduler's runs in one process), so output is attributed by thread, under a key naming the run
and the block (``<run_id>/<block>``), not by time. Output from a thread that is running no
block (a thread a block started itself, a library's worker) goes to the only running block when
there is exactly one in the process, and to the terminal alone otherwise.
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


def output_key(run_id: str | None, block: str) -> str:
    """The key a block's output is kept under in a run (the block's name outside a run)."""
    return f"{run_id}/{block}" if run_id else block


@contextmanager
def block_output(key: str) -> Iterator[None]:
    """Attribute what this thread prints and logs to ``key`` while the context is open."""
    previous = getattr(_running, "block", None)
    _running.block = key
    try:
        yield
    finally:
        _running.block = previous


def current_block() -> str | None:
    """The output key of the block this thread is running, if any."""
    block: str | None = getattr(_running, "block", None)
    return block


class _Routing:
    """The process's routed streams, and every block buffer open in the process."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.buffers: dict[str, tuple[OutputCapture, io.StringIO]] = {}
        self.users = 0
        self.installed: tuple[TextIO, TextIO, logging.Handler] | None = None
        self.routers: tuple[_Router, ...] = ()

    def acquire(self) -> None:
        with self.lock:
            self.users += 1
            if self.installed is None:
                handler = _RoutingHandler()
                self.installed = (sys.stdout, sys.stderr, handler)
                self.routers = (_Router(sys.stdout), _Router(sys.stderr))
                sys.stdout, sys.stderr = self.routers
                logging.getLogger().addHandler(handler)

    def release(self) -> None:
        with self.lock:
            self.users = max(self.users - 1, 0)
            if self.users or self.installed is None:
                return
            out, err, handler = self.installed
            self.installed, self.routers = None, ()
            sys.stdout, sys.stderr = out, err
            logging.getLogger().removeHandler(handler)

    def open(self, key: str, capture: OutputCapture) -> bool:
        """Open a buffer under ``key`` for ``capture``; False if one is open there already."""
        with self.lock:
            if key in self.buffers:
                return False
            self.acquire()
            self.buffers[key] = (capture, io.StringIO())
            return True

    def close(self, key: str, capture: OutputCapture) -> str | None:
        """Close ``capture``'s buffer under ``key``; its text (None when there was none)."""
        with self.lock:
            found = self.buffers.get(key)
            if found is None or found[0] is not capture:
                return None
            del self.buffers[key]
            for router in self.routers:
                router.end_line(found)
            self.release()
            return found[1].getvalue()

    def for_this_thread(self) -> tuple[OutputCapture, io.StringIO] | None:
        key = current_block()
        with self.lock:
            if key is not None and key in self.buffers:
                return self.buffers[key]
            if len(self.buffers) == 1:
                return next(iter(self.buffers.values()))
        return None

    def original_stdout(self) -> TextIO:
        return self.installed[0] if self.installed else sys.stdout


_routing = _Routing()


class _Router(io.TextIOBase):
    """A stream that writes to the buffer of the writing thread's block, and echoes.

    A block's output is echoed in whole lines, each ended by a newline or by the carriage
    return of a progress bar redrawing its line (the rest when the block ends), so lines of
    blocks running at once and the run's progress lines never run into one another.
    """

    def __init__(self, original: TextIO) -> None:
        self.original = original
        self.partial: dict[int, str] = {}
        self.lock = threading.Lock()

    def write(self, text: str) -> int:
        found = _routing.for_this_thread()
        if found is None:
            self.original.write(text)
            return len(text)
        capture, buffer = found
        buffer.write(text)
        if capture.echo:
            with self.lock:
                pending = self.partial.pop(id(buffer), "") + text
                # A line ends at \n, or at \r for a progress bar redrawing its line.
                end = max(pending.rfind("\n"), pending.rfind("\r")) + 1
                if end < len(pending):
                    self.partial[id(buffer)] = pending[end:]
                if end:
                    self._echo(capture, pending[:end])
        return len(text)

    def end_line(self, found: tuple[OutputCapture, io.StringIO]) -> None:
        """A block's buffer closes: echo what it wrote after its last line end, as a line."""
        with self.lock:
            rest = self.partial.pop(id(found[1]), "")
            if rest:
                self._echo(found[0], rest + "\n")

    def _echo(self, capture: OutputCapture, text: str) -> None:
        self.original.write(capture.redact(text) if capture.redact is not None else text)

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

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        found = _routing.for_this_thread()
        if found is not None:
            try:
                found[1].write(self.format(record) + "\n")
            except Exception:
                self.handleError(record)


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


class OutputCapture:
    """Per-block captured stdout, stderr and logging of one run, blocks at once or not.

    Args:
        echo: Also pass the output on to the original streams.
        redact: Applied to what is echoed (known secrets hidden); the buffers keep the text.
    """

    def __init__(self, echo: bool = True, redact: Callable[[str], str] | None = None) -> None:
        self.echo = echo
        self.redact = redact
        self.run_id: str | None = None
        self.outputs: dict[str, str] = {}
        self._keys: set[str] = set()

    def __call__(self, event: Any) -> None:
        """Open a block's buffer at ``block_started``; close it at the block's end.

        A block that ran in another process brings its output in the end event: it is kept
        for the block, and echoed.
        """
        if self.run_id is None:
            self.run_id = getattr(event, "run_id", None)
        block = getattr(event, "block", None)
        if event.event == "block_started" and block is not None:
            self.open(self._key(block))
        elif event.event in _ENDS and block is not None:
            key = self._key(block)
            self._close(key)
            remote = getattr(event, "output", None)
            if remote:
                with _routing.lock:
                    self.outputs[key] = self.outputs.get(key, "") + remote
                if self.echo:
                    stream = _routing.original_stdout()
                    stream.write(self.redact(remote) if self.redact is not None else remote)
                    stream.flush()
        elif event.event == "run_finished":
            for key in list(self._keys):
                self._close(key)

    def _key(self, block: str) -> str:
        return output_key(self.run_id, block)

    def open(self, key: str) -> None:
        """Start a buffer under ``key`` (routing the streams while any buffer is open)."""
        if _routing.open(key, self):
            self._keys.add(key)

    def peek(self, key: str) -> str:
        """What ``key`` has written so far, its buffer left open."""
        with _routing.lock:
            found = _routing.buffers.get(key)
            return self.outputs.get(key, "") + (found[1].getvalue() if found else "")

    def take(self, block: str) -> str:
        """The output captured for ``block`` in this run (a key outside a run; empty if none)."""
        key = block if block in self._keys or block in self.outputs else self._key(block)
        self._close(key)
        with _routing.lock:
            return self.outputs.pop(key, "")

    def _close(self, key: str) -> None:
        with _routing.lock:
            text = _routing.close(key, self)
            if text is not None:
                self.outputs[key] = self.outputs.get(key, "") + text
            self._keys.discard(key)
