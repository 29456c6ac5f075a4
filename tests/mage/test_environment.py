"""jupyter-blocks installed into Mage 0.9.80's environment leaves Mage working.

``scripts/setup_mage.sh`` installs mage-ai, then jupyter-blocks with its dependencies resolved
against Mage's pins. Our floors (``ipykernel>=6.15``, ``ipython>=8.10``) let pip keep Mage's
ipykernel, ipython, jupyter_client and tornado; jupyter_client 8, which newer floors pulled in,
makes ``mage start`` accept connections and never answer its API.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from tests.mage.harness import MAGE_PYTHON, MAGE_VENV, REPO_ROOT

#: What mage-ai 0.9.80 pins, which our dependencies must leave as they are.
MAGE_PINS = {"ipykernel": "6.15.0", "ipython": "8.10.0", "jupyter_client": "7.4.4",
             "tornado": "6.4.2", "typing_extensions": "4.11.0", "psutil": "5.9.8"}
#: Mage's own frontend's client id, which its API takes as ``api_key``.
API_KEY = "zkWlN0PkIKSN0C11CfUHUj84OT5XOJ6tDZ6bDRO2"


def test_our_dependencies_keep_mages_pins(mage):
    shown = subprocess.run(
        [str(MAGE_PYTHON), "-c", "import importlib.metadata as m, sys; "
         "print(' '.join(f'{p}={m.version(p)}' for p in sys.argv[1:]))", *MAGE_PINS],
        capture_output=True, text=True, check=True)
    assert dict(item.split("=") for item in shown.stdout.split()) == MAGE_PINS
    check = subprocess.run([str(MAGE_PYTHON), "-m", "pip", "check"], capture_output=True,
                           text=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_mage_start_answers_with_jupyter_blocks_installed(mage, tmp_path):
    project = tmp_path / "proj"
    (project / "pipelines").mkdir(parents=True)
    with _mage_start(project, tmp_path) as base:
        _wait_for(f"{base}/", deadline=120)
        for path in ("/api/statuses", "/api/pipelines"):
            with urllib.request.urlopen(f"{base}{path}?api_key={API_KEY}", timeout=15) as reply:
                assert reply.status == 200
                assert reply.read()


@contextlib.contextmanager
def _mage_start(project: Path, tmp_path: Path) -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith(("VIRTUAL_ENV", "PYTHON", "MAGE_"))}
    environment["MAGE_DATA_DIR"] = str(tmp_path / "mage_data")
    log = (tmp_path / "mage_start.log").open("w")
    server = subprocess.Popen(
        [str(MAGE_VENV / "bin" / "mage"), "start", str(project), "--host", "127.0.0.1",
         "--port", str(port)], cwd=REPO_ROOT, env=environment, stdout=log,
        stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        # Mage starts its scheduler in child processes: stop the whole session it leads.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)
        log.close()


def _wait_for(url: str, deadline: float) -> None:
    until = time.monotonic() + deadline
    problem: Exception | None = None
    while time.monotonic() < until:
        try:
            with urllib.request.urlopen(url, timeout=5) as reply:
                if reply.status == 200:
                    return
        except OSError as exc:
            problem = exc
        time.sleep(0.5)
    raise AssertionError(f"mage start did not answer {url} within {deadline} s: {problem}")
