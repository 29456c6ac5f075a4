"""The JupyterLab extension's own suites, run from pytest: jest unit tests and Playwright UI tests.

Both need Node and the packages from ``labextension/scripts/setup.sh``; the UI tests also need
Debian's Chromium. Missing tools skip locally and fail under CI (``tests.helpers.services``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.services import unavailable

ROOT = Path(__file__).resolve().parents[2]
LABEXTENSION = ROOT / "labextension"
BUILT = ROOT / "jupyter_blocks" / "labextension" / "package.json"
CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
SETUP = "PATH=\"$PWD/.venv/bin:$PATH\" bash labextension/scripts/setup.sh"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["JUPYTER_BLOCKS_PYTHON"] = sys.executable
    env.setdefault("CI", "1")
    return env


def _jlpm() -> str:
    if shutil.which("node") is None:
        unavailable("Node.js", "install Node 20 or newer")
    jlpm = shutil.which("jlpm", path=_env()["PATH"])
    if jlpm is None:
        unavailable("jlpm", "install jupyterlab in the test environment")
    if not (LABEXTENSION / "node_modules" / ".bin").is_dir():
        unavailable("the labextension's Node packages", f"run `{SETUP}`")
    return jlpm


def _run(command: list[str], what: str, timeout: float, **env: str) -> str:
    result = subprocess.run(
        command,
        cwd=LABEXTENSION,
        env={**_env(), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"{what} failed (exit {result.returncode}):\n{result.stdout}", pytrace=False)
    return result.stdout


def _build_is_stale() -> bool:
    if not BUILT.exists():
        return True
    built = BUILT.stat().st_mtime
    sources = [LABEXTENSION / "package.json"]
    for folder in ("src", "style", "schema"):
        sources.extend(p for p in (LABEXTENSION / folder).rglob("*") if p.is_file())
    return any(p.stat().st_mtime > built for p in sources)


def test_jest_unit_tests() -> None:
    _run([_jlpm(), "jest", "--ci"], "jest", timeout=300)


@pytest.mark.slow
@pytest.mark.kernel
@pytest.mark.timeout(900)
def test_ui_in_chromium(tmp_path: Path) -> None:
    jlpm = _jlpm()
    if not CHROMIUM.exists():
        unavailable("Chromium", f"run `{SETUP}` (installs Debian's chromium)")
    if not (LABEXTENSION / "node_modules" / "@playwright" / "test").is_dir():
        unavailable("Playwright", f"run `{SETUP}`")
    if _build_is_stale():
        _run([jlpm, "build"], "building the labextension", timeout=600)
    server_log = tmp_path / "jupyterlab.log"
    try:
        _run([jlpm, "ui-test"], "the Playwright UI tests", timeout=840,
             JUPYTER_BLOCKS_UI_LOG=str(server_log))
    finally:
        if server_log.exists():
            tail = "".join(server_log.read_text().splitlines(True)[-100:])
            print(f"JupyterLab log (last 100 lines):\n{tail}")
