"""The R worker processes: starting them, one exchange with one, and the pool that reuses them.

What belongs here: :class:`RWorker` (an ``Rscript worker.R`` child with its own request and
response pipes), :func:`checkout` (a worker for the calling thread, reused across calls and
never shared by two threads at once) and :func:`stop_workers`. The wire format lives in
``worker.R``, ``_to_r`` and ``_from_r``.

While a call is in flight the calling thread itself reads the worker's stdout and stderr and
writes them to *its* ``sys.stdout``/``sys.stderr``, as it goes, so the project's output capture
(which routes by thread) files R's output under the block that runs it. A worker that timed
out, was interrupted or broke the protocol is killed, never reused: a subprocess can be stopped
where in-process R could not.
"""

from __future__ import annotations

import atexit
import codecs
import json
import logging
import os
import selectors
import struct
import subprocess
import sys
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from importlib import resources
from typing import Any

logger = logging.getLogger(__name__)

#: Seconds R may take to start and load jsonlite.
STARTUP_TIMEOUT = 60.0
#: Idle workers kept per process for later calls; more are stopped.
MAX_IDLE = 4
_READ_SIZE = 1 << 20
_LENGTHS = struct.Struct("<dd")


class WorkerError(Exception):
    """The worker could not answer: it timed out, died or broke the protocol."""


def worker_script() -> str:
    """The path of ``worker.R`` in the installed package."""
    return str(resources.files("jupyter_blocks.io.r").joinpath("worker.R"))


def _environment() -> dict[str, str]:
    environment = dict(os.environ)
    # Naive datetimes cross as POSIXct without a time zone: with TZ=UTC, R shows and computes
    # them as the wall-clock times they are in pandas.
    environment["TZ"] = "UTC"
    locale = " ".join(environment.get(name, "") for name in ("LC_ALL", "LC_CTYPE", "LANG"))
    if "UTF-8" not in locale.upper() and "UTF8" not in locale.upper():
        environment["LC_ALL"] = "C.UTF-8"
    return environment


class _Stream:
    """One of the worker's output streams, written out up to the end-of-exchange marker."""

    def __init__(self, marker: bytes) -> None:
        self.marker = marker
        self.buffer = b""
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.done = False

    def feed(self, data: bytes, write: Callable[[str], Any]) -> bytes:
        """Write ``data`` up to the marker; return what follows it (the next exchange's)."""
        self.buffer += data
        found = self.buffer.find(self.marker)
        if found >= 0:
            text, rest = self.buffer[:found], self.buffer[found + len(self.marker):]
            self.buffer = b""
            self.done = True
            self._write(text, write, final=True)
            return rest
        # Hold back only a tail that may be the start of the marker, so output streams live.
        start = self.buffer.rfind(self.marker[:1], max(0, len(self.buffer) - len(self.marker)))
        held = start if start >= 0 and self.marker.startswith(self.buffer[start:]) else len(
            self.buffer)
        text, self.buffer = self.buffer[:held], self.buffer[held:]
        self._write(text, write, final=False)
        return b""

    def end(self, write: Callable[[str], Any]) -> None:
        """The stream closed: write what is left."""
        self._write(self.buffer, write, final=True)
        self.buffer = b""
        self.done = True

    def _write(self, data: bytes, write: Callable[[str], Any], final: bool) -> None:
        text = self.decoder.decode(data, final=final)
        if text:
            write(text)


class RWorker:
    """A long-lived ``Rscript worker.R`` process answering one request at a time.

    Args:
        rscript: The ``Rscript`` executable.

    Attributes:
        version: ``R.version.string`` of the worker.
        usable: False once the worker failed in a way that leaves it in doubt; it is then
            stopped instead of reused.
    """

    def __init__(self, rscript: str) -> None:
        self.marker = f"\x1e[jupyter-blocks {uuid.uuid4().hex}]\x1e".encode()
        request_read, self._requests = os.pipe()
        self._responses, response_write = os.pipe()
        try:
            self.process = subprocess.Popen(
                [rscript, worker_script(), str(request_read), str(response_write),
                 self.marker.decode()],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                pass_fds=(request_read, response_write), start_new_session=True,
                env=_environment(),
            )
        except BaseException:
            os.close(self._requests)
            os.close(self._responses)
            raise
        finally:
            os.close(request_read)
            os.close(response_write)
        self.usable = True
        self._closed = False
        _all_workers.add(self)
        for fd in (self._requests, self._responses, self.process.stdout.fileno(),  # type: ignore[union-attr]
                   self.process.stderr.fileno()):  # type: ignore[union-attr]
            os.set_blocking(fd, False)
        startup: list[str] = []
        try:
            hello, _ = self.exchange([], timeout=STARTUP_TIMEOUT, stdout=startup.append,
                                     stderr=startup.append)
        except WorkerError as exc:
            self.kill()
            said = "".join(startup).strip()
            raise WorkerError(f"R did not start: {said or exc}") from None
        if startup:
            logger.debug("R worker said at startup: %s", "".join(startup))
        self.version = str(hello.get("version", "R"))

    def exchange(self, chunks: list[bytes], *, timeout: float | None,
                 stdout: Callable[[str], Any], stderr: Callable[[str], Any]
                 ) -> tuple[dict[str, Any], memoryview]:
        """Send one message (``chunks`` joined; nothing for the startup hello), read the answer.

        What R prints meanwhile is passed to ``stdout`` and ``stderr`` as it arrives, until the
        end-of-exchange marker on each stream.

        Raises:
            WorkerError: No answer within ``timeout`` s, the worker died, or the answer is
                malformed. The worker is then marked unusable.
            BaseException: Anything raised while waiting (``KeyboardInterrupt``) also marks it.
        """
        try:
            return self._exchange(chunks, timeout, stdout, stderr)
        except BaseException:
            self.usable = False
            raise

    def _exchange(self, chunks: list[bytes], timeout: float | None,
                  stdout: Callable[[str], Any], stderr: Callable[[str], Any]
                  ) -> tuple[dict[str, Any], memoryview]:
        assert self.process.stdout is not None and self.process.stderr is not None
        out_fd, err_fd = self.process.stdout.fileno(), self.process.stderr.fileno()
        streams = {out_fd: (_Stream(self.marker), stdout), err_fd: (_Stream(self.marker), stderr)}
        pending = memoryview(b"".join(chunks))
        answer = bytearray()
        expected: int | None = None
        deadline = None if timeout is None else time.monotonic() + timeout
        with selectors.DefaultSelector() as selector:
            if pending:
                selector.register(self._requests, selectors.EVENT_WRITE)
            for fd in (self._responses, out_fd, err_fd):
                selector.register(fd, selectors.EVENT_READ)
            while True:
                answered = expected is not None and len(answer) >= expected
                if answered and all(stream.done for stream, _ in streams.values()):
                    break
                wait = None if deadline is None else deadline - time.monotonic()
                if wait is not None and wait <= 0:
                    raise WorkerError(f"R did not finish within {timeout:g}s")
                for key, _ in selector.select(wait):
                    fd = key.fd
                    if fd == self._requests:
                        try:
                            written = os.write(fd, pending[:_READ_SIZE])
                        except BlockingIOError:
                            continue
                        except BrokenPipeError:
                            selector.unregister(fd)
                            continue
                        pending = pending[written:]
                        if not pending:
                            selector.unregister(fd)
                        continue
                    try:
                        data = os.read(fd, _READ_SIZE)
                    except BlockingIOError:
                        continue
                    if fd == self._responses:
                        if not data:
                            selector.unregister(fd)
                            self._drain(streams)
                            raise WorkerError(self._death())
                        answer += data
                        if expected is None and len(answer) >= _LENGTHS.size:
                            header_size, payload_size = _LENGTHS.unpack_from(answer)
                            expected = _LENGTHS.size + int(header_size) + int(payload_size)
                        continue
                    stream, write = streams[fd]
                    if not data:
                        selector.unregister(fd)
                        stream.end(write)
                    elif not stream.done and stream.feed(data, write):
                        # Only a process the block left running writes after the marker.
                        logger.debug("R output after the end of a call was dropped")
        header_size, _ = _LENGTHS.unpack_from(answer)
        start = _LENGTHS.size
        try:
            header = json.loads(bytes(answer[start: start + int(header_size)]).decode("utf-8"))
        except ValueError as exc:
            raise WorkerError(f"R's answer is not valid JSON: {exc}") from None
        return header, memoryview(answer)[start + int(header_size):]

    def _drain(self, streams: dict[int, tuple[_Stream, Callable[[str], Any]]]) -> None:
        """After the worker died: write what it still had to say."""
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
        for fd, (stream, write) in streams.items():
            if stream.done:
                continue
            os.set_blocking(fd, True)
            rest = b""
            while chunk := os.read(fd, _READ_SIZE):
                rest += chunk
            stream.feed(rest, write)
            if not stream.done:
                stream.end(write)

    def _death(self) -> str:
        code = self.process.poll()
        if code is not None and code < 0:
            return f"R was stopped by signal {-code} while running the block"
        return f"R exited (status {code}) while running the block"

    def kill(self) -> None:
        """Stop the process and close its pipes."""
        if self._closed:
            return
        self._closed = True
        self.usable = False
        if self.process.poll() is None:
            self.process.kill()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:  # pragma: no cover - kill is not refused
            logger.warning("R worker %s did not stop", self.process.pid)
        for fd in (self._requests, self._responses):
            with suppress(OSError):
                os.close(fd)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


_all_workers: weakref.WeakSet[RWorker] = weakref.WeakSet()
_idle: list[RWorker] = []
_idle_lock = threading.Lock()
_owner = os.getpid()


@contextmanager
def checkout(rscript: str) -> Iterator[RWorker]:
    """A worker for the calling thread alone, given back for reuse unless it failed.

    Raises:
        WorkerError: R could not be started.
    """
    worker = _take_idle(rscript)
    if worker is None:
        worker = RWorker(rscript)
    try:
        yield worker
    finally:
        if worker.usable and worker.process.poll() is None:
            _give_back(worker)
        else:
            worker.kill()


def _take_idle(rscript: str) -> RWorker | None:
    global _owner
    with _idle_lock:
        if os.getpid() != _owner:
            # A forked child shares its parent's pipes: start its own workers instead.
            _idle.clear()
            _all_workers.clear()
            _owner = os.getpid()
        while _idle:
            worker = _idle.pop()
            if worker.process.args[0] == rscript and worker.process.poll() is None:  # type: ignore[index]
                return worker
            worker.kill()
    return None


def _give_back(worker: RWorker) -> None:
    with _idle_lock:
        if os.getpid() == _owner and len(_idle) < MAX_IDLE:
            _idle.append(worker)
            return
    worker.kill()


def stop_workers() -> None:
    """Stop every R worker this process started (idle or busy)."""
    with _idle_lock:
        workers = list(_all_workers) if os.getpid() == _owner else []
        _idle.clear()
    for worker in workers:
        worker.kill()


def write_stdout(text: str) -> None:
    """Write to the calling thread's current ``sys.stdout`` (looked up at each write)."""
    sys.stdout.write(text)


def write_stderr(text: str) -> None:
    """Write to the calling thread's current ``sys.stderr``."""
    sys.stderr.write(text)


atexit.register(stop_workers)
