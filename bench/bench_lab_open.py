"""From opening a notebook in JupyterLab to its badges, measured in Debian's Chromium.

Runs the Playwright test ``labextension/ui-tests/tests/open_time.spec.ts`` (it starts its own
JupyterLab on loopback, fills the disk cache with a headless run, and opens the notebook with
a new kernel, then again with the kernel running) and prints its figures: milliseconds from
navigation to the first badge (the structure, parsed from the cells) and to the kernel's states
(cached outputs shown as cached). Needs ``bash labextension/scripts/setup.sh``.

Usage: PATH=$PWD/.venv/bin:$PATH python bench/bench_lab_open.py
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LABEXTENSION = ROOT / "labextension"
FIGURES = LABEXTENSION / "ui-tests" / "artifacts" / "bench-open.json"


def main() -> None:
    jlpm = shutil.which("jlpm", path=os.pathsep.join([str(Path(sys.executable).parent),
                                                      os.environ.get("PATH", "")]))
    if jlpm is None:
        sys.exit("jlpm not found: put the virtualenv's bin on PATH")
    env = {**os.environ, "JUPYTER_BLOCKS_PYTHON": sys.executable, "CI": "1"}
    FIGURES.unlink(missing_ok=True)
    subprocess.run([jlpm, "ui-test", "ui-tests/tests/open_time.spec.ts"], cwd=LABEXTENSION,
                   env=env, check=True, stdout=subprocess.DEVNULL)
    figures = json.loads(FIGURES.read_text())
    for kernel in ("new_kernel", "running_kernel"):
        times = figures[kernel]
        print(f"{kernel.replace('_', ' '):15} badges shown {times['badges_ms']:6d} ms   "
              f"kernel states shown {times['kernel_states_ms']:6d} ms")


if __name__ == "__main__":
    main()
