"""A Mage project imported and exported back comes back unchanged, Mage-only keys included.

The fixtures are written as Mage 0.9 writes them (``tests/golden/mage_control_flow``,
``mage_project``, ``mage_triggers``). What a block's ``%%block`` options cannot hold is kept in
the notebook's ``%%pipeline`` cell (``mage_block_keys``, Mage's pipeline keys, triggers).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from jupyter_blocks.project.importer import import_project
from jupyter_blocks.project.mage import body_of_block_file
from jupyter_blocks.project.writer import export_notebook
from jupyter_blocks.runner.run import run_target

GOLDEN = Path(__file__).parents[1] / "golden"
PIPELINES = [("mage_control_flow", "control_flow"), ("mage_control_flow", "control_flow_failure"),
             ("mage_project", "taxi_etl")]


def files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and ".jupyter_blocks" not in p.parts and "mage_data" not in p.parts}


def cells(notebook: Path) -> list[str]:
    return ["".join(c["source"]) for c in json.loads(notebook.read_text())["cells"]]


def copy(tmp_path: Path, fixture: str) -> Path:
    project = tmp_path / "proj"
    shutil.copytree(GOLDEN / fixture, project,
                    ignore=shutil.ignore_patterns("mage_data", "__pycache__"))
    return project


@pytest.mark.parametrize(("fixture", "pipeline"), PIPELINES)
def test_import_then_export_into_the_project_changes_no_file(tmp_path, fixture, pipeline):
    project = copy(tmp_path, fixture)
    before = files(project)
    notebook = tmp_path / "notebooks" / f"{pipeline}.ipynb"
    import_project(project, pipeline, notebook)
    result = export_notebook(notebook, project)
    assert result.written == []
    assert files(project) == before


@pytest.mark.parametrize(("fixture", "pipeline"), PIPELINES)
def test_export_to_a_new_folder_writes_the_same_metadata(tmp_path, fixture, pipeline):
    project = copy(tmp_path, fixture)
    notebook = tmp_path / "notebooks" / f"{pipeline}.ipynb"
    import_project(project, pipeline, notebook)
    again = tmp_path / "again"
    export_notebook(notebook, again)
    metadata = f"pipelines/{pipeline}/metadata.yaml"
    assert (again / metadata).read_bytes() == (project / metadata).read_bytes()
    # Block files: the same code, with our decorator guards instead of Mage's (and the Mage
    # adapter where a block reads variables or fans out).
    for relative, text in files(again).items():
        if relative.endswith(".py"):
            written = (project / relative).read_text()
            assert body_of_block_file(text.decode()) == body_of_block_file(written), relative
    assert (again / "io_config.yaml").read_bytes() == (project / "io_config.yaml").read_bytes()


def test_triggers_and_pipeline_keys_round_trip(tmp_path):
    project = tmp_path / "proj"
    folder = project / "pipelines" / "taxi_etl"
    folder.mkdir(parents=True)
    for name in ("metadata.yaml", "triggers.yaml"):
        shutil.copy(GOLDEN / "mage_triggers" / name, folder / name)
    notebook = tmp_path / "taxi_etl.ipynb"
    import_project(project, "taxi_etl", notebook)
    settings = cells(notebook)[1]
    assert settings.startswith("%%pipeline\n")
    for key in ("triggers:", "notification_config:", "concurrency_config:", "retry_config:",
                "tags:", "variables_dir:", "created_at:"):
        assert key in settings
    again = tmp_path / "again"
    export_notebook(notebook, again)
    for name in ("metadata.yaml", "triggers.yaml"):
        assert (again / "pipelines/taxi_etl" / name).read_bytes() == (folder / name).read_bytes()


def test_mage_only_block_keys_are_kept_in_the_pipeline_cell(tmp_path):
    project = copy(tmp_path, "mage_project")
    notebook = tmp_path / "taxi_etl.ipynb"
    import_project(project, "taxi_etl", notebook)
    sources = cells(notebook)
    settings = yaml.safe_load(sources[1].split("\n", 1)[1])
    assert settings["mage_block_keys"] == {
        "load_trips": {"status": "executed"},
        "clean_trips": {"status": "executed"},
    }
    assert settings["variables_dir"] == "/home/src/mage_data/demo"
    assert any(s.startswith("%%block clean_trips --type transformer --upstream load_trips "
                            "--retries 1 --retry-delay 0\n") for s in sources)
    assert "mage_ai" not in notebook.read_text()
    # The notebook runs as the project does.
    assert run_target(str(notebook)).result.outputs["export_trips"] == {"rows": 3}


@pytest.mark.parametrize("retry", [
    {"retries": 1, "delay": 5},
    {},
    {"delay": 1, "exponential_backoff": True, "max_delay": 10, "retries": 2},
    {"retries": 2, "delay": 1.5},
])
def test_retry_config_keeps_exactly_the_keys_written(tmp_path, retry):
    project = copy(tmp_path, "mage_project")
    metadata = project / "pipelines/taxi_etl/metadata.yaml"
    document = yaml.safe_load(metadata.read_text())
    document["blocks"][1]["retry_config"] = retry
    metadata.write_text(yaml.safe_dump(document))
    notebook = tmp_path / "taxi_etl.ipynb"
    import_project(project, "taxi_etl", notebook)
    assert export_notebook(notebook, project).written == []
    written = yaml.safe_load(metadata.read_text())["blocks"][1]["retry_config"]
    assert written == retry
    assert {k: type(v) for k, v in written.items()} == {k: type(v) for k, v in retry.items()}


def test_an_edited_option_wins_over_the_kept_spelling(tmp_path):
    project = copy(tmp_path, "mage_project")
    notebook = tmp_path / "taxi_etl.ipynb"
    import_project(project, "taxi_etl", notebook)
    text = notebook.read_text().replace("--retries 1 --retry-delay 0", "--retries 3")
    notebook.write_text(text)
    export_notebook(notebook, project)
    block = yaml.safe_load((project / "pipelines/taxi_etl/metadata.yaml").read_text())["blocks"][1]
    assert block["retry_config"] == {"retries": 3}
    assert block["status"] == "executed"  # a key our options do not hold is still kept


def test_unknown_configuration_keys_and_a_display_name_are_kept(tmp_path):
    project = copy(tmp_path, "mage_project")
    metadata = project / "pipelines/taxi_etl/metadata.yaml"
    document = yaml.safe_load(metadata.read_text())
    document["blocks"][2]["configuration"] = {"export_write_policy": "append", "limit": 10}
    document["blocks"][2]["name"] = "Export trips"
    document["blocks"][2]["color"] = "#ff0000"
    text = yaml.safe_dump(document)
    metadata.write_text(text)
    notebook = tmp_path / "taxi_etl.ipynb"
    import_project(project, "taxi_etl", notebook)
    export_notebook(notebook, project)
    assert metadata.read_text() == text


def test_a_markdown_block_is_named_not_dropped_silently(tmp_path):
    project = copy(tmp_path, "mage_project")
    metadata = project / "pipelines/taxi_etl/metadata.yaml"
    document = yaml.safe_load(metadata.read_text())
    note = dict(document["blocks"][0], uuid="read_me", name="read_me", type="markdown",
                downstream_blocks=[], language="markdown")
    document["blocks"].append(note)
    metadata.write_text(yaml.safe_dump(document))
    result = import_project(project, "taxi_etl", tmp_path / "taxi_etl.ipynb")
    assert "blocks[3] `read_me` (markdown) is not a pipeline block: not imported (an export " \
        "does not write it back)" in result.notes
