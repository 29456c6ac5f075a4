"""Plain ``mage run`` of an exported pipeline: detached block files, and the variables it lacks.

Two notebooks share block names with different code: ``chain`` is exported first, then
``mage_plain`` with ``--detach``. Mage must run ``mage_plain``'s own copies (named in each
block's ``configuration.file_path``), and its blocks that read ``ds``, ``execution_date``,
``logger``, ``pipeline`` and ``block`` must work although plain ``mage run`` passes none of them.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from jupyter_blocks.core.errors import SharedFilesError
from jupyter_blocks.project.writer import export_notebook
from jupyter_blocks.runner.run import run_target
from tests.mage.harness import run_plain

NOTEBOOKS = Path(__file__).parents[1] / "notebooks"


def test_detached_pipeline_runs_its_own_files_under_plain_mage_run(mage, tmp_path):
    for name in ("chain.ipynb", "mage_plain.ipynb"):
        shutil.copy(NOTEBOOKS / name, tmp_path / name)
    project = tmp_path / "proj"
    export_notebook(tmp_path / "chain.ipynb", project)
    with pytest.raises(SharedFilesError):
        export_notebook(tmp_path / "mage_plain.ipynb", project)
    exported = export_notebook(tmp_path / "mage_plain.ipynb", project, detach=True)
    assert exported.detached == ["data_loaders/mage_plain/load.py",
                                 "transformers/mage_plain/clean.py"]
    metadata = (project / "pipelines/mage_plain/metadata.yaml").read_text()
    assert "file_path: transformers/mage_plain/clean.py" in metadata

    ours = run_target(str(project), pipeline="mage_plain", echo=False).result
    assert ours.ok, ours.failed
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    mage_run = run_plain(project, "mage_plain", tmp_path / "mage_data", cwd=elsewhere)
    assert mage_run.returncode == 0, mage_run.stdout[-3000:] + mage_run.stderr[-3000:]

    # Mage ran this pipeline's clean ([20, 30] times factor 3), not chain's.
    assert mage_run.output("clean") == ours.outputs["clean"] == [60, 90]
    stamp = mage_run.output("stamp")
    expected = dict(ours.outputs["stamp"])
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", stamp.pop("ds"))
    expected.pop("ds")
    assert stamp == expected
    assert expected == {"total": 150, "is_datetime": True, "pipeline": "mage_plain",
                        "block": "stamp", "pipeline_uuid": "mage_plain", "block_uuid": "stamp",
                        "env_given": True, "repo_is_dir": True}
    # The logger's record reached Mage's output.
    assert "stamping 2 values" in mage_run.stdout + mage_run.stderr + json.dumps(
        mage_run.messages())
    # chain's own files are untouched and still its own.
    assert run_target(str(project), pipeline="chain", echo=False).result.outputs["total"] == 12
