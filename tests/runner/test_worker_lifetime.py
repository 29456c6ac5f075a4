"""No worker outlives its run: ``kill -9`` of ``jupyter-blocks run`` ends the workers too."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers.notebooks import write_notebook

SLEEPER = (
    "%%block sleeper_{n} -u start\n"
    "import os, time\n"
    "from pathlib import Path\n"
    "Path(kwargs['pids']).joinpath(str(os.getpid())).write_text('')\n"
    "time.sleep(300)\n"
    "start"
)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (ended, not yet reaped by its new parent) has stopped running.
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "\nState:\tZ" in status.read_text())


@pytest.mark.timeout(120)
@pytest.mark.skipif(sys.platform == "win32", reason="kill -9 is POSIX")
@pytest.mark.parametrize(("executor", "timeout"), [
    ("processes", False), ("dask", False), ("threads", True), ("processes", True)])
def test_kill_9_of_the_run_ends_its_workers(tmp_path, executor, timeout):
    """Worker processes, and the processes of timed attempts (``--timeout``), end with it."""
    if executor == "dask":
        pytest.importorskip("distributed")
    sleeper = SLEEPER.replace(" -u start", " -u start --timeout 300") if timeout else SLEEPER
    notebook = write_notebook(tmp_path / "sleepers.ipynb", "%%block start\n1",
                              sleeper.format(n=1), sleeper.format(n=2))
    pids = tmp_path / "pids"
    pids.mkdir()
    run = subprocess.Popen([sys.executable, "-m", "jupyter_blocks.cli", "run", str(notebook),
                            "--executor", executor, "--workers", "2", "--var", f"pids={pids}",
                            "-q"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 90
    while len(list(pids.iterdir())) < 2:
        assert run.poll() is None and time.monotonic() < deadline, "the blocks did not start"
        time.sleep(0.05)
    workers = [int(path.name) for path in pids.iterdir()]
    assert all(pid != run.pid for pid in workers)
    os.kill(run.pid, signal.SIGKILL)
    run.wait()
    deadline = time.monotonic() + 15
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [pid for pid in workers if _alive(pid)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, f"workers {left} outlived the run"
