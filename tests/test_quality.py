"""Static checks of the package: the layers of ARCHITECTURE.md, ruff, and mypy in strict mode."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


@pytest.mark.parametrize("command", [
    ["lint-imports", "--no-cache"],
    ["ruff", "check", "."],
    ["mypy"],
], ids=["layers", "ruff", "mypy"])
def test_static_check_passes(command):
    result = subprocess.run([str(BIN / command[0]), *command[1:]], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
