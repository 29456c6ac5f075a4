"""Bad input to the CLI: one ``error:`` line, exit code 2, nothing written."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from jupyter_blocks.cli import cli

NOTEBOOKS = Path(__file__).parents[1] / "notebooks"


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def tree(folder: Path) -> dict[str, bytes | None]:
    """Every path under ``folder`` with its content (None for a folder)."""
    return {str(path.relative_to(folder)): None if path.is_dir() else path.read_bytes()
            for path in sorted(folder.rglob("*"))}


def one_error_line(result, *words: str) -> None:  # type: ignore[no-untyped-def]
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for word in words:
        assert word in lines[0], lines[0]


@pytest.fixture
def chain(tmp_path: Path) -> Path:
    notebook = tmp_path / "chain.ipynb"
    shutil.copy(NOTEBOOKS / "chain.ipynb", notebook)
    return notebook


def test_export_onto_a_file(tmp_path, chain):
    (tmp_path / "afile").write_text("mine")
    before = tree(tmp_path)
    result = invoke("export", str(chain), "--project", str(tmp_path / "afile"))
    one_error_line(result, "--project", str(tmp_path / "afile"), "is a file")
    assert tree(tmp_path) == before


@pytest.mark.parametrize("folder", ["transformers", "pipelines", "pipelines/chain"])
def test_export_into_a_project_whose_folder_is_a_file(tmp_path, chain, folder):
    project = tmp_path / "p"
    (project / folder).parent.mkdir(parents=True, exist_ok=True)
    (project / folder).write_text("mine")
    before = tree(tmp_path)
    result = invoke("export", str(chain), "--project", str(project))
    one_error_line(result, str(project / folder), "is a file")
    assert tree(tmp_path) == before


@pytest.fixture
def project(tmp_path: Path, chain: Path) -> Path:
    exported = invoke("export", str(chain), "--project", str(tmp_path / "proj"))
    assert exported.exit_code == 0, exported.output
    return tmp_path / "proj"


def test_import_onto_a_folder(tmp_path, project):
    (tmp_path / "out").mkdir()
    before = tree(tmp_path)
    result = invoke("import", str(project), "-o", str(tmp_path / "out"))
    one_error_line(result, "-o", str(tmp_path / "out"), "is a folder")
    assert tree(tmp_path) == before


def test_import_under_a_file(tmp_path, project):
    (tmp_path / "afile").write_text("mine")
    before = tree(tmp_path)
    result = invoke("import", str(project), "-o", str(tmp_path / "afile" / "chain.ipynb"))
    one_error_line(result, str(tmp_path / "afile"), "is a file")
    assert tree(tmp_path) == before


def test_run_where_the_state_folder_is_a_file(tmp_path, chain):
    (tmp_path / ".jupyter_blocks").write_text("mine")
    before = tree(tmp_path)
    result = invoke("run", str(chain))
    one_error_line(result, str(tmp_path / ".jupyter_blocks"), "is a file")
    assert "load" not in result.stdout
    assert tree(tmp_path) == before


SQL_ON_POSTGRES = (
    '%%block load\nimport pandas as pd\nprint("load ran")\npd.DataFrame({"a": [1, 2]})',
    '%%block doubled --upstream load\nprint("doubled ran")\nload * 2',
    "%%block total --lang sql --profile {profile} --connector postgres --upstream doubled\n"
    "SELECT SUM(a) AS s FROM doubled",
)

PROFILES_OK = "dev:\n  POSTGRES_HOST: 127.0.0.1\n  POSTGRES_PORT: 5432\n"


@pytest.mark.parametrize(("profile", "config", "words"), [
    ("dev", "dev:\n  POSTGRES_HOST: [127.0.0.1\n", ["is not valid YAML at line 3", "profile 'dev'"]),
    ("dve", PROFILES_OK, ["profile 'dve' is not in", "did you mean `dev`?"]),
    ("dev", PROFILES_OK + "  POSTGRES_PASSWORD: \"{{ env_var('JB_TEST_UNSET_PASSWORD') }}\"\n",
     ["dev.POSTGRES_PASSWORD", "JB_TEST_UNSET_PASSWORD is not set"]),
    ("dev", "dev:\n  POSTGRES_HOST: 127.0.0.1\n  POSTGRES_PORT: abc\n",
     ["dev.POSTGRES_PORT: expected an integer, got 'abc'"]),
])
def test_a_profile_problem_is_found_before_any_block_runs(tmp_path, monkeypatch, profile,
                                                          config, words):
    from tests.helpers.notebooks import write_notebook

    monkeypatch.delenv("JB_TEST_UNSET_PASSWORD", raising=False)
    (tmp_path / "io_config.yaml").write_text(config)
    notebook = write_notebook(tmp_path / "sql.ipynb", *SQL_ON_POSTGRES[:2],
                              SQL_ON_POSTGRES[2].format(profile=profile))
    result = invoke("run", str(notebook))
    one_error_line(result, "block `total` (cell 3)", str(tmp_path / "io_config.yaml"), *words)
    assert "ran" not in result.stdout


def test_a_profile_problem_is_a_usage_error_in_the_notebook(tmp_path, monkeypatch):
    from IPython.core.error import UsageError
    from IPython.testing import globalipapp

    import jupyter_blocks

    monkeypatch.chdir(tmp_path)
    (tmp_path / "io_config.yaml").write_text(PROFILES_OK)
    globalipapp.start_ipython()
    shell = globalipapp.get_ipython()
    shell.reset(new_session=False)
    jupyter_blocks._session = None
    jupyter_blocks.load_ipython_extension(shell)
    try:
        shell.run_cell_magic("block", "load", "[1, 2]")
        with pytest.raises(UsageError, match=r"profile 'dve' is not in .*did you mean `dev`"):
            shell.run_cell_magic("block", "total --lang sql --profile dve --connector postgres "
                                 "-u load", "SELECT 1")
    finally:
        jupyter_blocks._session = None


@pytest.mark.parametrize(("args", "named"), [
    (["--var", "facter=3"], "--var facter"),
    (["-p", "facter", "3"], "-p facter"),
    (["--runtime-vars", '{"facter": 3}'], "--runtime-vars facter"),
    (["--output", "out.ipynb", "-p", "facter", "3"], "-p facter"),
])
def test_a_variable_no_block_reads_is_an_error(tmp_path, chain, monkeypatch, args, named):
    monkeypatch.chdir(tmp_path)
    before = tree(tmp_path)
    result = invoke("run", str(chain), *args)
    one_error_line(result, f"{named}: no block of `chain` reads it (did you mean `factor`?)",
                   "--allow-unused-vars")
    assert tree(tmp_path) == before


def test_unused_variables_run_when_allowed_and_built_ins_are_read(tmp_path, chain):
    allowed = invoke("run", str(chain), "--var", "facter=3", "--allow-unused-vars", "-q")
    assert allowed.exit_code == 0, allowed.output
    built_in = invoke("run", str(chain), "--var", "execution_date=2020-10-01", "-p", "factor",
                      "3", "-q")
    assert built_in.exit_code == 0, built_in.output


def test_backfill_checks_variables_the_same_way(tmp_path, chain):
    args = ["backfill", str(chain), "--start", "2020-10-01", "--end", "2020-10-02",
            "--interval", "day", "--var", "facter=3"]
    one_error_line(invoke(*args), "--var facter: no block of `chain` reads it "
                   "(did you mean `factor`?)", "--allow-unused-vars")
    allowed = invoke(*args, "--allow-unused-vars")
    assert allowed.exit_code == 0, allowed.output


@pytest.mark.parametrize("command", [["run"], ["run", "--output", "out.ipynb"]])
def test_runs_of_a_cycle(tmp_path, monkeypatch, command):
    monkeypatch.chdir(tmp_path)
    shutil.copy(NOTEBOOKS / "cycle.ipynb", tmp_path / "cycle.ipynb")
    before = tree(tmp_path)
    result = invoke(command[0], str(tmp_path / "cycle.ipynb"), *command[1:])
    one_error_line(result, "cycle between blocks a (cell 2) -> b (cell 3) -> c (cell 4) -> a")
    assert tree(tmp_path) == before


def test_dag_of_a_cycle(tmp_path):
    shutil.copy(NOTEBOOKS / "cycle.ipynb", tmp_path / "cycle.ipynb")
    before = tree(tmp_path)
    result = invoke("dag", str(tmp_path / "cycle.ipynb"), "-o", str(tmp_path / "dag.svg"),
                    "--format", "svg")
    one_error_line(result, "cycle between blocks a (cell 2) -> b (cell 3) -> c (cell 4) -> a")
    assert tree(tmp_path) == before


@pytest.mark.parametrize("command", [
    ["dag"], ["run"], ["run", "--output", "out.ipynb"],
    ["backfill", "--start", "2020-10-01", "--end", "2020-10-03", "--interval", "day"]])
def test_a_notebook_without_blocks(tmp_path, monkeypatch, command):
    from tests.helpers.notebooks import write_notebook

    monkeypatch.chdir(tmp_path)
    notebook = write_notebook(tmp_path / "scratch.ipynb", "import pandas as pd", "x = 1")
    before = tree(tmp_path)
    result = invoke(command[0], str(notebook), *command[1:])
    one_error_line(result, f"{notebook} has no %%block cell", "%%block NAME")
    assert result.stdout == ""
    assert tree(tmp_path) == before
