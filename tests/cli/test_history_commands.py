"""``runs`` and ``cache``: which store they read, without a target too, and reads create nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner

from jupyter_blocks.cli import cli

NOTEBOOKS = Path(__file__).parents[1] / "notebooks"
GOLDEN = Path(__file__).parents[1] / "golden"


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def ran_in(folder: Path) -> tuple[Path, str]:
    """Run ``chain.ipynb`` in ``folder``; its notebook and the run's id."""
    folder.mkdir(parents=True, exist_ok=True)
    notebook = folder / "chain.ipynb"
    shutil.copy(NOTEBOOKS / "chain.ipynb", notebook)
    result = invoke("run", str(notebook), "--json")
    assert result.exit_code == 0, result.output
    run_id = next(line for line in result.output.splitlines() if "run_started" in line)
    return notebook, run_id.split('"run_id": "')[1].split('"')[0]


def test_runs_without_a_target_find_the_store_a_run_below_wrote(tmp_path, monkeypatch):
    # As in the README: `jupyter-blocks run example_notebooks/...` from the repository root.
    _, run_id = ran_in(tmp_path / "example_notebooks")
    monkeypatch.chdir(tmp_path)
    listing = invoke("runs", "list")
    store = tmp_path / "example_notebooks" / ".jupyter_blocks" / "runs.sqlite"
    assert listing.exit_code == 0, listing.output
    assert f"run store: {store}" in listing.output
    assert run_id in listing.output
    shown = invoke("runs", "show", run_id)
    assert shown.exit_code == 0 and "clean" in shown.output
    logs = invoke("runs", "logs", run_id, "load")
    assert logs.exit_code == 0
    assert not (tmp_path / ".jupyter_blocks").exists()


def test_runs_from_a_subfolder_find_the_store_above(tmp_path, monkeypatch):
    _, run_id = ran_in(tmp_path / "nb")
    (tmp_path / "nb" / "data").mkdir()
    monkeypatch.chdir(tmp_path / "nb" / "data")
    listing = invoke("runs", "list")
    assert listing.exit_code == 0 and run_id in listing.output
    assert not (tmp_path / "nb" / "data" / ".jupyter_blocks").exists()


def test_a_read_where_nothing_ran_creates_nothing_and_says_so(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for command in (["runs", "list"], ["runs", "show", "abc"], ["runs", "list", "."]):
        result = invoke(*command)
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith("error: no run store"), result.stderr
        assert str(tmp_path) in result.stderr
    notebook = tmp_path / "chain.ipynb"
    shutil.copy(NOTEBOOKS / "chain.ipynb", notebook)
    result = invoke("runs", "list", str(notebook))
    assert result.exit_code == 2
    assert f"{tmp_path / '.jupyter_blocks' / 'runs.sqlite'}" in result.stderr
    listing = invoke("cache", "ls")
    assert listing.exit_code == 2 and listing.stderr.startswith("error: no cache")
    assert list(tmp_path.iterdir()) == [notebook]


def test_an_unknown_run_names_the_store_it_looked_in(tmp_path):
    notebook, run_id = ran_in(tmp_path)
    result = invoke("runs", "show", run_id[:-1] + "x", str(notebook))
    store = tmp_path / ".jupyter_blocks" / "runs.sqlite"
    assert result.exit_code == 2
    assert f"in the run store {store}" in result.stderr
    assert f"did you mean `{run_id}`?" in result.stderr


def test_two_stores_below_are_named_instead_of_picking_one(tmp_path, monkeypatch):
    ran_in(tmp_path / "a")
    ran_in(tmp_path / "b")
    monkeypatch.chdir(tmp_path)
    result = invoke("runs", "list")
    assert result.exit_code == 2
    assert "a/.jupyter_blocks/runs.sqlite" in result.stderr
    assert "b/.jupyter_blocks/runs.sqlite" in result.stderr
    assert "pass the notebook or project folder" in result.stderr
    assert invoke("runs", "list", "a").exit_code == 0


def test_a_pipeline_folder_reads_its_projects_store_as_run_does(tmp_path, monkeypatch):
    project = tmp_path / "mage"
    shutil.copytree(GOLDEN / "mage_project", project)
    pipeline = next(project.glob("pipelines/*/metadata.yaml")).parent
    result = invoke("run", str(pipeline), "-q")
    assert result.exit_code == 0, result.output
    assert (project / ".jupyter_blocks" / "runs.sqlite").is_file()
    listing = invoke("runs", "list", str(pipeline))
    assert listing.exit_code == 0 and "success" in listing.output
    assert f"run store: {project / '.jupyter_blocks' / 'runs.sqlite'}" in listing.output
    assert not (pipeline / ".jupyter_blocks").exists()


def test_cache_commands_without_a_target_find_the_cache_and_say_which(tmp_path, monkeypatch):
    ran_in(tmp_path / "nb")
    monkeypatch.chdir(tmp_path)
    cache = tmp_path / "nb" / ".jupyter_blocks" / "cache"
    listing = invoke("cache", "ls")
    assert listing.exit_code == 0 and f"cache: {cache}" in listing.output
    assert "clean" in listing.output
    cleared = invoke("cache", "clear")
    assert cleared.exit_code == 0
    assert cleared.output.strip() == f"removed 3 cache entries from {cache}"
    assert not (tmp_path / ".jupyter_blocks").exists()


def test_an_explicit_store_url_is_read_whatever_the_folder(tmp_path, monkeypatch):
    notebook = tmp_path / "chain.ipynb"
    shutil.copy(NOTEBOOKS / "chain.ipynb", notebook)
    url = f"sqlite:///{tmp_path / 'elsewhere.sqlite'}"
    assert invoke("run", str(notebook), "-q", "--store", url).exit_code == 0
    (tmp_path / "empty").mkdir()
    monkeypatch.chdir(tmp_path / "empty")
    listing = invoke("runs", "list", "--store", url)
    assert listing.exit_code == 0 and "chain" in listing.output
    assert f"run store: {tmp_path / 'elsewhere.sqlite'}" in listing.output
    missing = invoke("runs", "list", "--store", f"sqlite:///{tmp_path / 'nothing.sqlite'}")
    assert missing.exit_code == 2 and "no run store at" in missing.stderr
    assert list((tmp_path / "empty").iterdir()) == []
    assert not (tmp_path / "nothing.sqlite").exists()


def test_logs_without_a_target_hide_the_secrets_of_the_folder_whose_store_they_read(
        tmp_path, monkeypatch):
    from tests.helpers.notebooks import write_notebook

    folder = tmp_path / "nb"
    folder.mkdir()
    notebook = write_notebook(folder / "talk.ipynb", "%%block talk\nprint('token hunter22')\n1")
    result = invoke("run", str(notebook), "--json")
    assert result.exit_code == 0, result.output
    run_id = result.output.split('"run_id": "')[1].split('"')[0]
    # The password is set after the run: what the store holds is hidden when it is shown.
    (folder / "io_config.yaml").write_text("dev:\n  POSTGRES_PASSWORD: hunter22\n")
    monkeypatch.chdir(tmp_path)
    logs = invoke("runs", "logs", run_id, "talk")
    assert logs.exit_code == 0, logs.output
    assert "token ***" in logs.output and "hunter22" not in logs.output
