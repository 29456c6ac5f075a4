"""`jupyter-blocks run --executor`: independent branches at once, output kept per block."""

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from jupyter_blocks.cli import cli
from jupyter_blocks.core.errors import ConfigError
from jupyter_blocks.history.store import RunStore
from jupyter_blocks.runner.executors import EXECUTORS, make_executor
from jupyter_blocks.runner.run import FinishedRun, run_target
from tests.helpers.notebooks import write_notebook

RENDEZVOUS = """
import os
import threading

BARRIER = threading.Barrier(2, timeout=float(os.environ.get("RENDEZVOUS_TIMEOUT", "20")))
"""


@pytest.fixture
def rendezvous(tmp_path, monkeypatch):
    """A module whose barrier two blocks can only pass when they run at the same time."""
    (tmp_path / "rendezvous_point.py").write_text(RENDEZVOUS)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    sys.modules.pop("rendezvous_point", None)


def fan_out(tmp_path: Path) -> Path:
    branch = (
        "%%block {name} -u source\n"
        "import logging\n"
        "import rendezvous_point\n"
        "rendezvous_point.BARRIER.wait()\n"
        "for i in range(50):\n"
        "    print('{name} line', i)\n"
        "    logging.getLogger('taxi').warning('{name} log %d', i)\n"
        "rendezvous_point.BARRIER.wait()\n"
        "len(source)"
    )
    return write_notebook(
        tmp_path / "fan.ipynb",
        "%load_ext jupyter_blocks",
        "%%block source\n[1, 2, 3]",
        branch.format(name="left"),
        branch.format(name="right"),
        "%%block joined -u left right\nleft + right",
    )


def test_threads_run_independent_branches_at_once_and_keep_each_blocks_output(tmp_path, rendezvous):
    notebook = fan_out(tmp_path)
    finished = run_target(str(notebook), echo=False, executor="threads")
    assert finished.result.ok, [o.error for o in finished.result.outcomes.values()]
    assert finished.result.outputs["joined"] == 6
    store = RunStore.for_directory(tmp_path)
    for name, other in (("left", "right"), ("right", "left")):
        logs = store.block_logs(finished.result.run_id, name)
        assert logs.count(f"{name} line") == 50
        assert logs.count(f"{name} log") == 50
        assert other not in logs


def test_a_thread_a_block_starts_is_captured_for_that_block(tmp_path):
    notebook = write_notebook(
        tmp_path / "spawn.ipynb",
        "%load_ext jupyter_blocks",
        "%%block spawn\n"
        "import threading\n"
        "worker = threading.Thread(target=lambda: print('from the worker thread'))\n"
        "worker.start()\n"
        "worker.join()\n"
        "1",
    )
    finished = run_target(str(notebook), echo=False)
    logs = RunStore.for_directory(tmp_path).block_logs(finished.result.run_id, "spawn")
    assert "from the worker thread" in logs


def test_inline_runs_one_block_at_a_time(tmp_path, rendezvous, monkeypatch):
    monkeypatch.setenv("RENDEZVOUS_TIMEOUT", "0.5")
    finished = run_target(str(fan_out(tmp_path)), echo=False)
    assert not finished.result.ok
    assert "BrokenBarrierError" in finished.result.failed[0].error


def test_the_resume_command_keeps_the_executor(tmp_path):
    notebook = write_notebook(
        tmp_path / "broken.ipynb",
        "%load_ext jupyter_blocks",
        "%%block ok\n1",
        "%%block broken -u ok\n1 / 0",
    )
    finished = run_target(str(notebook), echo=False, executor="threads")
    assert finished.resume is not None and finished.resume.endswith("--executor threads")


def test_cli_executor_choices(tmp_path, rendezvous):
    runner = CliRunner()
    notebook = fan_out(tmp_path)
    threads = runner.invoke(cli, ["run", str(notebook), "--executor", "threads", "-q"])
    assert threads.exit_code == 0, threads.output
    unknown = runner.invoke(cli, ["run", str(notebook), "--executor", "ray"])
    assert unknown.exit_code == 2
    assert "'ray' is not one of" in unknown.stderr
    papermill = runner.invoke(
        cli, ["run", str(notebook), "--executor", "threads", "--output", str(tmp_path / "o.ipynb")]
    )
    assert papermill.exit_code == 2 and "--output runs the notebook's cells" in papermill.stderr


def test_executor_names():
    assert EXECUTORS == ("inline", "threads", "processes", "dask")
    with pytest.raises(ConfigError, match="did you mean `threads`"):
        make_executor("thread")


def test_workers_bound_the_blocks_running_at_once(tmp_path, rendezvous, monkeypatch):
    monkeypatch.setenv("RENDEZVOUS_TIMEOUT", "0.5")
    one_worker = run_target(str(fan_out(tmp_path)), echo=False, executor="threads", workers=1)
    assert not one_worker.result.ok  # the barrier needs both branches at once
    assert one_worker.resume is not None
    assert one_worker.resume.endswith("--executor threads --workers 1")
    runner = CliRunner()
    inline = runner.invoke(cli, ["run", str(tmp_path / "fan.ipynb"), "--workers", "4"])
    assert inline.exit_code == 2 and "add --executor threads" in inline.stderr
    zero = runner.invoke(
        cli, ["run", str(tmp_path / "fan.ipynb"), "--executor", "threads", "--workers", "0"]
    )
    assert zero.exit_code == 2


def meeting_notebook(tmp_path: Path, extra_cells: tuple[str, ...] = ()) -> Path:
    """Two branches that each wait until the other has started: they pass only side by side."""
    branch = (
        "%%block {name} -u source\n"
        "here = Path(kwargs['meet'])\n"
        "(here / '{name}').write_text(str(os.getpid()))\n"
        "deadline = time.monotonic() + 60\n"
        "while not (here / '{other}').exists():\n"
        "    assert time.monotonic() < deadline, 'the other branch never ran at the same time'\n"
        "    time.sleep(0.01)\n"
        "print('{name} printed')\n"
        "logging.getLogger('taxi').warning('{name} logged')\n"
        "os.getpid()"
    )
    (tmp_path / "meet").mkdir()
    return write_notebook(
        tmp_path / "meet.ipynb",
        "%load_ext jupyter_blocks\nimport logging\nimport os\nimport time\nfrom pathlib import Path",
        "%%block source\nlist(range(3))",
        branch.format(name="left", other="right"),
        branch.format(name="right", other="left"),
        "%%block joined -u left right\n[left, right]",
        *extra_cells,
    )


def meet(tmp_path: Path) -> dict[str, str]:
    return {"meet": str(tmp_path / "meet")}


def check_side_by_side(tmp_path: Path, finished: FinishedRun) -> None:
    import os

    assert finished.result.ok, [o.error for o in finished.result.outcomes.values()]
    left, right = finished.result.outputs["joined"]
    assert len({left, right, os.getpid()}) == 3  # two worker processes, neither this one
    store = RunStore.for_directory(tmp_path)
    for name, other in (("left", "right"), ("right", "left")):
        logs = store.block_logs(finished.result.run_id, name)
        assert f"{name} printed" in logs and f"{name} logged" in logs
        assert other not in logs


def test_processes_run_branches_in_worker_processes(tmp_path):
    finished = run_target(
            str(meeting_notebook(tmp_path)),
            echo=False,
            executor="processes",
            workers=2,
            variables=meet(tmp_path),
        )
    check_side_by_side(tmp_path, finished)


def test_a_failure_in_a_worker_process_points_at_the_cell(tmp_path):
    notebook = meeting_notebook(
        tmp_path,
        (
            "%%block broken -u source\nprint('about to fail')\nsource[10]",
            "%%block after -u broken\nbroken",
        ),
    )
    finished = run_target(
            str(notebook), echo=False, executor="processes", workers=2, variables=meet(tmp_path)
        )
    outcomes = finished.result.outcomes
    assert outcomes["broken"].status == "failed"
    assert outcomes["broken"].error == (
        "block `broken` (cell 6) failed: IndexError: list index out of range"
    )
    assert 'File "<block `broken` (cell 6)>", line 3' in outcomes["broken"].traceback
    assert outcomes["after"].status == "skipped"
    logs = RunStore.for_directory(tmp_path).block_logs(finished.result.run_id, "broken")
    assert "about to fail" in logs


@pytest.mark.timeout(180)
def test_dask_runs_branches_on_a_local_cluster(tmp_path):
    pytest.importorskip("distributed")
    finished = run_target(
            str(meeting_notebook(tmp_path)),
            echo=False,
            executor="dask",
            workers=2,
            variables=meet(tmp_path),
        )
    check_side_by_side(tmp_path, finished)


@pytest.mark.timeout(180)
def test_dask_runs_on_the_scheduler_given(tmp_path):
    distributed = pytest.importorskip("distributed")
    notebook = meeting_notebook(tmp_path)
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        result = CliRunner().invoke(
            cli,
            [
                "run",
                str(notebook),
                "--executor",
                "dask",
                "--scheduler",
                cluster.scheduler_address,
                "--var",
                f"meet={tmp_path / 'meet'}",
                "-q",
            ],
        )
        assert result.exit_code == 0, result.output
        with distributed.Client(cluster) as client:
            assert sum(client.run(lambda: 1).values()) == 2
    store = RunStore.for_directory(tmp_path)
    run_id = store.list_runs()[0]["run_id"]
    assert "left printed" in store.block_logs(run_id, "left")


def test_scheduler_goes_with_dask_only(tmp_path):
    notebook = write_notebook(tmp_path / "one.ipynb", "%load_ext jupyter_blocks", "%%block a\n1")
    result = CliRunner().invoke(cli, ["run", str(notebook), "--scheduler", "tcp://127.0.0.1:1"])
    assert result.exit_code == 2 and "goes with --executor dask" in result.stderr
    with pytest.raises(ConfigError, match="has its own workers"):
        make_executor("dask", workers=2, scheduler="tcp://127.0.0.1:1")


def test_a_value_that_cannot_reach_a_worker_fails_its_block_with_a_hint(tmp_path):
    notebook = write_notebook(
        tmp_path / "gen.ipynb",
        "%load_ext jupyter_blocks",
        "%%block numbers\n(i for i in range(3))",
        "%%block total -u numbers\nsum(numbers)",
        "%%block fine\n41 + 1",
    )
    finished = run_target(str(notebook), echo=False, executor="processes", workers=2)
    outcomes = finished.result.outcomes
    assert outcomes["numbers"].status == "failed"
    assert outcomes["numbers"].error == (
        "block `numbers` (cell 2) could not run in the executor: TypeError: cannot pickle "
        "'generator' object; with worker processes or Dask a block's inputs and output must "
        "pickle: run it with the inline or threads executor"
    )
    assert outcomes["total"].error == "not run because numbers failed"
    assert finished.result.outputs["fine"] == 42
