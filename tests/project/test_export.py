import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from jupyter_blocks.cli import cli
from jupyter_blocks.core.errors import BlockSpecError, ConfigError
from jupyter_blocks.project.importer import import_pipeline
from jupyter_blocks.project.reader import load_project_pipeline
from jupyter_blocks.project.writer import export_notebook
from jupyter_blocks.runner.run import run_target

TESTS = Path(__file__).parents[1]
NOTEBOOKS = TESTS / "notebooks"
GOLDEN = TESTS / "golden"


def files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and ".jupyter_blocks" not in p.parts}


def export(tmp_path: Path, notebook: str, project: Path, **options) -> None:
    source = tmp_path / notebook
    if not source.exists():
        shutil.copy(NOTEBOOKS / notebook, source)
    export_notebook(source, project, **options)


@pytest.mark.parametrize("notebook", ["headless_params", "chain"])
def test_export_matches_golden_files(tmp_path, notebook):
    export(tmp_path, f"{notebook}.ipynb", tmp_path / "proj")
    written = files(tmp_path / "proj")
    written.pop("io_config.yaml")
    assert written == files(GOLDEN / f"export_{notebook}")


def test_export_import_export_is_byte_identical(tmp_path):
    export(tmp_path, "headless_params.ipynb", tmp_path / "proj")
    first = files(tmp_path / "proj")
    import_pipeline(tmp_path / "proj", "headless_params", tmp_path / "back.ipynb")
    again = tmp_path / "again"
    export_notebook(tmp_path / "back.ipynb", again, "headless_params")
    assert files(again) == first


def test_exported_pipeline_gives_the_notebooks_outputs(tmp_path):
    export(tmp_path, "headless_params.ipynb", tmp_path / "proj")
    from_notebook = run_target(str(tmp_path / "headless_params.ipynb"))
    from_project = run_target(str(tmp_path / "proj"),
                                                    pipeline="headless_params")
    assert from_project.result.ok
    assert from_project.result.outputs == from_notebook.result.outputs
    folder = run_target(str(tmp_path / "proj/pipelines/headless_params"))
    assert folder.result.outputs == from_notebook.result.outputs


def test_io_config_created_only_when_missing(tmp_path):
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj/io_config.yaml").write_text("mine: {}\n")
    export(tmp_path, "chain.ipynb", tmp_path / "proj")
    assert (tmp_path / "proj/io_config.yaml").read_text() == "mine: {}\n"
    export(tmp_path, "chain.ipynb", tmp_path / "other")
    assert "version:" in (tmp_path / "other/io_config.yaml").read_text()


def test_shared_block_file_refused_then_detached(tmp_path):
    project = tmp_path / "proj"
    export(tmp_path, "chain.ipynb", project)
    shutil.copy(NOTEBOOKS / "headless_params.ipynb", tmp_path / "other.ipynb")
    before = files(project)
    with pytest.raises(ConfigError, match=r"data_loaders/load.py \(used by chain\).*--detach"):
        export_notebook(tmp_path / "other.ipynb", project)
    assert files(project) == before  # nothing written half-way
    export_notebook(tmp_path / "other.ipynb", project, detach=True)
    assert (project / "data_loaders/other/load.py").is_file()
    assert files(project)["data_loaders/load.py"] == before["data_loaders/load.py"]
    other = run_target(str(project), pipeline="other")
    assert other.result.outputs["clean"] == [3, 4, 9]
    assert run_target(str(project), pipeline="chain").result.ok


def test_outside_name_is_an_export_error(tmp_path):
    with pytest.raises(BlockSpecError, match="uses `helper`, which is defined outside blocks"):
        export(tmp_path, "headless_outside.ipynb", tmp_path / "proj")
    assert not (tmp_path / "proj").exists()


def test_mage_project_imports_and_runs(tmp_path):
    project = tmp_path / "mage"
    shutil.copytree(GOLDEN / "mage_project", project)
    finished = run_target(str(project))
    assert finished.result.ok
    assert finished.result.outputs["export_trips"] == {"rows": 3}
    notebook = import_pipeline(project, "taxi_etl", tmp_path / "taxi.ipynb")
    from_notebook = run_target(str(notebook))
    assert from_notebook.result.outputs["export_trips"] == {"rows": 3}
    assert "mage_ai" not in notebook.read_text()


def test_project_traceback_shows_block_file_and_line(tmp_path):
    project = tmp_path / "mage"
    shutil.copytree(GOLDEN / "mage_project", project)
    path = project / "transformers/clean_trips.py"
    path.write_text(path.read_text().replace("return data[", "return 1 / 0 + data["))
    result = CliRunner().invoke(cli, ["run", str(project)])
    assert result.exit_code == 1
    assert f'File "{path.resolve()}", line 9, in transform' in result.stderr
    assert "not run because clean_trips failed: export_trips" in result.stderr


@pytest.mark.parametrize(("edit", "message"), [
    (lambda t: t.replace("  has_callback: false\n", "  has_callback: false\n  colour: red\n", 1),
     "blocks[0].colour: unknown key (did you mean `color`?)"),
    (lambda t: t.replace("  upstream_blocks:\n  - clean_trips\n", "  upstream_blocks: 3\n"),
     "blocks[2].upstream_blocks: input should be a valid list"),
    (lambda t: t.replace("uuid: export_trips", "uuid: export_rides"),
     "blocks[2]: block file data_exporters/export_rides.py does not exist"),
    (lambda t: t + "schedule: daily\n", "schedule: unknown key"),
])
def test_bad_metadata_is_one_line_with_yaml_path(tmp_path, edit, message):
    project = tmp_path / "mage"
    shutil.copytree(GOLDEN / "mage_project", project)
    metadata = project / "pipelines/taxi_etl/metadata.yaml"
    metadata.write_text(edit(metadata.read_text()))
    with pytest.raises(ConfigError) as caught:
        load_project_pipeline(project)
    assert message in str(caught.value)
    result = CliRunner().invoke(cli, ["run", str(project)])
    assert result.exit_code == 2 and len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize(("body", "message"), [
    ("x = 1\n", "has no decorated block function"),
    ("@transformer\ndef a(d):\n    return d\n\n@transformer\ndef b(d):\n    return d\n",
     "has 2 decorated block functions"),
])
def test_bad_block_file(tmp_path, body, message):
    project = tmp_path / "mage"
    shutil.copytree(GOLDEN / "mage_project", project)
    (project / "transformers/clean_trips.py").write_text(body)
    result = CliRunner().invoke(cli, ["run", str(project)])
    assert result.exit_code == 2 and message in result.stderr


def test_cli_export_and_import(tmp_path):
    shutil.copy(NOTEBOOKS / "chain.ipynb", tmp_path / "chain.ipynb")
    runner = CliRunner()
    done = runner.invoke(cli, ["export", str(tmp_path / "chain.ipynb"), "--project",
                               str(tmp_path / "proj"), "--pipeline", "etl"])
    assert done.exit_code == 0 and "wrote pipelines/etl/metadata.yaml" in done.output
    back = runner.invoke(cli, ["import", str(tmp_path / "proj"), "--pipeline", "etl", "-o",
                               str(tmp_path / "etl.ipynb")])
    assert back.exit_code == 0
    missing = runner.invoke(cli, ["import", str(tmp_path / "proj"), "--pipeline", "ettl", "-o",
                                  str(tmp_path / "x.ipynb")])
    assert missing.exit_code == 2 and "did you mean `etl`?" in missing.stderr


def test_shared_block_files_error_lists_files_and_pipelines_and_pickles(tmp_path):
    import pickle

    from jupyter_blocks.core.errors import SharedFilesError

    project = tmp_path / "proj"
    export(tmp_path, "chain.ipynb", project)
    shutil.copy(NOTEBOOKS / "headless_params.ipynb", tmp_path / "other.ipynb")
    with pytest.raises(SharedFilesError) as refused:
        export_notebook(tmp_path / "other.ipynb", project)
    assert refused.value.conflicts == (("data_loaders/load.py", ("chain",)),
                                       ("transformers/clean.py", ("chain",)))
    again = pickle.loads(pickle.dumps(refused.value))
    assert again.conflicts == refused.value.conflicts and str(again) == str(refused.value)
    result = export_notebook(tmp_path / "other.ipynb", project, detach=True)
    assert result.detached == ["data_loaders/other/load.py", "transformers/other/clean.py"]
