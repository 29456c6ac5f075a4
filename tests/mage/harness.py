"""Running a project under real Mage 0.9.80 (``.venvs/mage``) and reading back what it wrote.

``scripts/setup_mage.sh`` makes the virtualenv (``scripts/test.sh`` runs it). Runs keep
everything Mage writes under the test's own ``MAGE_DATA_DIR``: its database, each block's
outputs (``pipelines/<p>/.variables/<block>/output_0/data.json`` or ``data.parquet``; a dynamic
child's under ``<block>/<index>/``) and its logs (``pipelines/<p>/.logs/<block>.log``, one
JSON record per line).
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
MAGE_VENV = REPO_ROOT / ".venvs" / "mage"
MAGE_PYTHON = MAGE_VENV / "bin" / "python"
TRIGGER_RUN = REPO_ROOT / "scripts" / "mage_trigger_run.py"
MAGE_VERSION = "0.9.80"
#: Seconds a Mage run may take here before the test gives up on it.
RUN_TIMEOUT = 300


def mage_problem() -> str | None:
    """Why Mage's virtualenv cannot run the tests, or None when it can."""
    if not MAGE_PYTHON.is_file():
        return f"{MAGE_VENV} does not exist"
    check = subprocess.run(
        [str(MAGE_PYTHON), "-c",
         "import importlib.metadata as m, jupyter_blocks; print(m.version('mage-ai')); "
         "print(jupyter_blocks.__file__)"],
        capture_output=True, text=True, timeout=60)
    if check.returncode != 0:
        return f"{MAGE_PYTHON} cannot import mage_ai and jupyter_blocks: {check.stderr[-300:]}"
    version, module = check.stdout.split()
    if version != MAGE_VERSION:
        return f"{MAGE_VENV} has mage-ai {version}, not {MAGE_VERSION}"
    if Path(module).resolve().parents[1] != REPO_ROOT:
        return f"the jupyter_blocks of {MAGE_VENV} is {module}, not this checkout's"
    return None


@dataclass
class MageRun:
    """A finished Mage run: its exit code, block run statuses, and where it wrote."""

    project: Path
    pipeline: str
    data: Path
    returncode: int
    statuses: dict[str, str]
    stdout: str
    stderr: str

    @property
    def folder(self) -> Path:
        """Mage's folder for this pipeline (an absolute MAGE_DATA_DIR gets the project name)."""
        return self.data / self.project.name / "pipelines" / self.pipeline

    def output(self, block: str, child: int | None = None) -> Any:
        """A block's output as Mage stored it (a dynamic child's with ``child``)."""
        folder = self.folder / ".variables" / block.replace("/", "_")
        if child is not None:
            folder = folder / str(child)
        outputs = sorted(folder.glob("output_*"), key=lambda p: int(p.name.split("_")[1]))
        values = [_read(path) for path in outputs]
        if not values:
            raise AssertionError(f"Mage stored no output for {block} in {folder}")
        return values[0] if len(values) == 1 else values

    def messages(self) -> list[str]:
        """Every log message of the run, from all block logs."""
        found = []
        for path in sorted((self.folder / ".logs").glob("*.log")):
            for line in path.read_text(encoding="utf-8").splitlines():
                start = line.find("{")
                if start < 0:
                    continue
                try:
                    found.append(str(json.loads(line[start:]).get("message", "")))
                except json.JSONDecodeError:
                    found.append(line)
        return found


def _read(folder: Path) -> Any:
    if (folder / "data.parquet").is_file():
        import pandas as pd

        return pd.read_parquet(folder / "data.parquet")
    return json.loads((folder / "data.json").read_text(encoding="utf-8"))


def _environment(data: Path) -> dict[str, str]:
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith(("VIRTUAL_ENV", "PYTHON", "MAGE_", "JUPYTER_BLOCKS_"))}
    environment["MAGE_DATA_DIR"] = str(data)
    environment["PATH"] = f"{MAGE_VENV / 'bin'}{os.pathsep}{environment.get('PATH', '')}"
    return environment


def run_trigger(project: Path, pipeline: str, data: Path, cwd: Path,
                runtime_vars: dict[str, Any] | None = None) -> MageRun:
    """Run ``pipeline`` as a Mage trigger does (``scripts/mage_trigger_run.py``), from ``cwd``."""
    command = [str(MAGE_PYTHON), str(TRIGGER_RUN), str(project), pipeline, "--json"]
    if runtime_vars is not None:
        command += ["--runtime-vars", json.dumps(runtime_vars)]
    done = subprocess.run(command, cwd=cwd, env=_environment(data), capture_output=True,
                          text=True, timeout=RUN_TIMEOUT)
    start = done.stdout.rfind('{\n  "pipeline_run_id"')
    if start < 0:
        raise AssertionError(f"mage_trigger_run.py printed no result:\n{done.stdout[-3000:]}\n"
                             f"{done.stderr[-3000:]}")
    report = json.loads(done.stdout[start:])
    statuses = {row["block_uuid"]: row["status"].rsplit(".", 1)[-1].lower()
                for row in report["block_runs"]}
    return MageRun(project, pipeline, data, report["mage_run_exit_code"], statuses,
                   done.stdout, done.stderr)


def run_plain(project: Path, pipeline: str, data: Path, cwd: Path) -> MageRun:
    """``mage run PROJECT PIPELINE``, from ``cwd`` (no trigger: Mage's plain path)."""
    done = subprocess.run([str(MAGE_VENV / "bin" / "mage"), "run", str(project), pipeline],
                          cwd=cwd, env=_environment(data), capture_output=True, text=True,
                          timeout=RUN_TIMEOUT)
    return MageRun(project, pipeline, data, done.returncode, {}, done.stdout, done.stderr)
