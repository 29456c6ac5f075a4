"""The notebook's edit-run loop through the comm and the session, as the labextension drives it.

The frontend syncs every code cell (its source as on screen, its position among all cells, its
tags) and runs cells; these tests do the same with a recording comm and check that every run
uses the code on screen, and that the states and labels the kernel reports are the true ones.
"""

from __future__ import annotations

from typing import Any

import pytest

from jupyter_blocks.core.errors import GraphError
from jupyter_blocks.core.grammar import parse_cell
from jupyter_blocks.kernel.comm import CommChannel
from jupyter_blocks.kernel.display import CellStatus
from jupyter_blocks.kernel.session import Session
from tests.helpers.comms import RecordingComm, message


class Notebook:
    """A notebook as the labextension sees it: cells (markdown included) with ids and tags."""

    def __init__(self, *cells: tuple[str, str] | tuple[str, str, list[str]]) -> None:
        self.cells = [list(c) if len(c) == 3 else [*c, []] for c in cells]

    def edit(self, cell_id: str, source: str) -> None:
        for cell in self.cells:
            if cell[0] == cell_id:
                cell[1] = source

    def sync(self) -> dict[str, Any]:
        """The labextension's sync: every code cell with its index among all cells."""
        return {"type": "sync", "cells": [
            {"cell_id": cell_id, "source": source, "tags": tags, "index": index}
            for index, (cell_id, source, tags) in enumerate(self.cells)
            if not cell_id.startswith("md")]}

    def source(self, cell_id: str) -> str:
        return next(c[1] for c in self.cells if c[0] == cell_id)


def run_cell(session: Session, notebook: Notebook, cell_id: str, **options: Any):
    """What executing a block cell does: the magic's spec of the code on screen, then a run."""
    spec = parse_cell(notebook.source(cell_id), cell_id=cell_id)
    structure = session.structure()
    origin = next(s.origin for s in structure.blocks if s.name == spec.name)
    return session.run_cell(spec.replace(origin=origin), **options)


def events(comm: RecordingComm) -> list[tuple[str, str | None]]:
    return [(m["event"]["event"], m["event"].get("block")) for m in comm.sent
            if m["type"] == "event"]


def last_state(comm: RecordingComm) -> dict[str, dict[str, Any]]:
    state = next(m for m in reversed(comm.sent) if m["type"] == "state")
    return {b["name"]: b for b in state["blocks"]}


@pytest.fixture
def loop(tmp_path):
    session = Session({}, directory=tmp_path)
    channel = CommChannel(session)
    comm = RecordingComm()
    notebook = Notebook(
        ("md1", "# Title"),
        ("setup", "%load_ext jupyter_blocks"),
        ("load", "%%block load\n[1, 2, 3]"),
        ("md2", "Some notes"),
        ("double", "%%block double -u load\n[x * 2 for x in load]"),
        ("total", "%%block total -u double\nsum(double)"),
    )
    channel.open(comm, message(notebook.sync()))
    return session, comm, notebook


def test_running_downstream_after_editing_an_upstream_runs_the_code_on_screen(loop):
    session, comm, notebook = loop
    for cell_id in ("load", "double", "total"):
        run_cell(session, notebook, cell_id)
    assert session.namespace["total"] == 12

    # Edit the upstream (not run), sync as the frontend does, run the downstream cell.
    notebook.edit("double", "%%block double -u load\n[x * 10 for x in load]")
    comm.handlers["msg"](message(notebook.sync()))
    assert last_state(comm)["double"]["state"] == "stale"
    assert last_state(comm)["double"]["reason"] == "code"
    comm.sent.clear()
    result = run_cell(session, notebook, "total")

    assert ("block_finished", "double") in events(comm)  # it ran again, with the new code
    assert ("block_cached", "load") in events(comm)
    assert result.outputs["total"] == 60 and session.namespace["double"] == [10, 20, 30]
    assert {n: b["state"] for n, b in last_state(comm).items()} == {
        "load": "fresh", "double": "fresh", "total": "fresh"}


def test_blocks_run_and_a_whole_pipeline_run_use_the_code_on_screen_too(loop):
    session, comm, notebook = loop
    session.run(None)
    notebook.edit("load", "%%block load\n[5]")
    comm.handlers["msg"](message(notebook.sync()))
    assert session.run(["total"]).outputs["total"] == 10
    notebook.edit("load", "%%block load\n[7]")
    comm.handlers["msg"](message(notebook.sync()))
    assert session.run(None, trigger="notebook · %blocks run --all").outputs["total"] == 14


def test_a_failed_block_whose_code_changes_is_stale_and_its_downstream_skipped_until_it_succeeds(
        loop):
    session, comm, notebook = loop
    notebook.edit("double", "%%block double -u load\n1/0")
    comm.handlers["msg"](message(notebook.sync()))
    result = run_cell(session, notebook, "total")
    assert result.outcomes["double"].status == "failed"
    states = last_state(comm)
    assert states["double"]["state"] == "failed"
    assert (states["total"]["state"], states["total"]["error"], states["total"]["cause"]) == (
        "skipped", "not run because double failed", "double")

    notebook.edit("double", "%%block double -u load\n[x * 2 for x in load]")
    comm.handlers["msg"](message(notebook.sync()))
    states = last_state(comm)
    assert (states["double"]["state"], states["double"]["reason"]) == ("stale", "code")
    assert states["total"]["state"] != "skipped"

    result = run_cell(session, notebook, "total")
    assert result.outputs["total"] == 12  # the deleted 1/0 does not run again
    assert {n: b["state"] for n, b in last_state(comm).items()} == {
        "load": "fresh", "double": "fresh", "total": "fresh"}


def test_cells_are_named_by_their_position_among_all_cells(loop):
    session, comm, notebook = loop
    assert [(b.name, b.origin) for b in session.dag()] == [
        ("load", "cell 3"), ("double", "cell 5"), ("total", "cell 6")]
    assert last_state(comm)["double"]["origin"] == "cell 5"
    notebook.edit("double", "%%block double -u load\n1/0")
    comm.handlers["msg"](message(notebook.sync()))
    result = run_cell(session, notebook, "double")
    failure = result.outcomes["double"]
    assert failure.error == "block `double` (cell 5) failed: ZeroDivisionError: division by zero"
    assert 'File "<block `double` (cell 5)>", line 2' in failure.traceback


def test_block_names_keep_their_case(tmp_path):
    session = Session({}, directory=tmp_path)
    session.sync([{"cell_id": "a", "source": "%%block LoadTrips\n1/0", "index": 0},
                  {"cell_id": "b", "source": "%%block Report -u LoadTrips\nLoadTrips",
                   "index": 1}])
    session.run(["Report"])
    states = {s.name: s for s in session.states()}
    assert states["Report"].error == "not run because LoadTrips failed"
    assert "block `LoadTrips` (cell 1) failed" in states["LoadTrips"].error


def test_the_parameters_cell_is_known_from_the_sync_and_its_defaults_apply(tmp_path):
    session = Session({}, directory=tmp_path)
    session.sync([{"cell_id": "p", "source": "factor = 3", "tags": ["parameters"], "index": 0},
                  {"cell_id": "b", "source": "%%block scaled\nkwargs['factor'] * 2",
                   "index": 1}])
    assert session.parameter_names() == ("factor",)
    # Not run yet in this kernel: the cell's value, as a headless run has it.
    assert session.run(["scaled"]).outputs["scaled"] == 6
    session.namespace["factor"] = 5
    assert session.run(["scaled"]).outputs["scaled"] == 10


def test_a_new_kernel_shows_cached_outputs_with_the_time_and_rows_of_the_run_that_made_them(
        tmp_path):
    cells = [{"cell_id": "a", "source": "%%block rows\nlist(range(4))", "index": 0},
             {"cell_id": "b", "source": "%%block total -u rows\nsum(rows)", "index": 1}]
    first = Session({}, directory=tmp_path)
    first.sync(cells)
    first.run(None)
    ran = {s.name: s for s in first.states()}

    restarted = Session({}, directory=tmp_path)
    restarted.sync(cells)
    quick = {s.name: s.state for s in restarted.states(history=False)}
    assert quick == {"rows": "cached", "total": "cached"}
    states = {s.name: s for s in restarted.states()}
    assert states["rows"].state == "cached" and states["rows"].rows == 4
    assert states["rows"].seconds == pytest.approx(ran["rows"].seconds, abs=1e-6)
    assert states["rows"].finished == pytest.approx(ran["rows"].finished, abs=1.0)

    # Served from the cache here: cached, with the time of the run that made it, not 0 s.
    restarted.run(["total"])
    after = {s.name: s for s in restarted.states()}
    assert after["rows"].state == "cached"
    assert after["rows"].seconds == pytest.approx(ran["rows"].seconds, abs=1e-6)


def test_a_no_cache_upstream_runs_once_per_pipeline_run_not_once_per_cell(tmp_path, capsys):
    notebook = Notebook(
        ("cfg", "%%block config --no-cache\nprint('reading the config')\n{'scale': 2}"),
        ("a", "%%block a -u config\nconfig['scale'] * 1"),
        ("b", "%%block b -u config a\nconfig['scale'] * a"),
    )
    session = Session({}, directory=tmp_path)
    session.sync(notebook.sync()["cells"])
    for cell_id in ("cfg", "a", "b"):
        run_cell(session, notebook, cell_id)
    assert capsys.readouterr().out.count("reading the config") == 1
    assert session.namespace["b"] == 4

    # Its own cell and a whole-pipeline run run it (once); a changed key runs it again.
    run_cell(session, notebook, "cfg")
    session.run(None)
    assert capsys.readouterr().out.count("reading the config") == 2
    notebook.edit("cfg", "%%block config --no-cache\nprint('reading the config')\n{'scale': 3}")
    session.sync(notebook.sync()["cells"])
    assert run_cell(session, notebook, "b").outputs["b"] == 9
    assert capsys.readouterr().out.count("reading the config") == 1
    assert not any(e.block == "config" for e in session.cache.entries())


class Shown:
    """``IPython.display.display`` stand-in: the current text of every display slot."""

    def __init__(self):
        self.slots: list[list[str]] = []

    def __call__(self, bundle, raw=True, display_id=None):
        slot = [bundle["text/plain"]]
        self.slots.append(slot)
        return _Handle(slot)

    @property
    def lines(self) -> list[str]:
        return [slot[0] for slot in self.slots]


class _Handle:
    def __init__(self, slot):
        self.slot = slot

    def update(self, bundle, raw=True):
        self.slot[0] = bundle["text/plain"]


def test_a_cell_shows_its_block_one_line_for_cached_upstreams_and_a_line_per_upstream_run(
        tmp_path):
    session = Session({}, directory=tmp_path)
    session.sync([{"cell_id": "a", "source": "%%block a\n1", "index": 0},
                  {"cell_id": "b", "source": "%%block b\n2", "index": 1},
                  {"cell_id": "c", "source": "%%block c -u a b\na + b", "index": 2},
                  {"cell_id": "d", "source": "%%block d -u c\nc * 10", "index": 3}])
    session.run(["c"])
    session.sync([{"cell_id": "a", "source": "%%block a\n1", "index": 0},
                  {"cell_id": "b", "source": "%%block b\n2", "index": 1},
                  {"cell_id": "c", "source": "%%block c -u a b\na + b + 1", "index": 2},
                  {"cell_id": "d", "source": "%%block d -u c\nc * 10", "index": 3}])
    shown = Shown()
    session.run(["d"], subscribers=[CellStatus(shown, ["d"])])
    assert shown.lines[0] == "✓ 2 upstreams cached (a, b)"
    assert shown.lines[1].startswith("✓ c · ran in")
    assert shown.lines[2].startswith("✓ d · ran in")
    assert len(shown.lines) == 3


def test_the_kernel_opens_the_comm_itself_with_the_current_state(tmp_path):
    session = Session({}, directory=tmp_path)
    session.sync([{"cell_id": "a", "source": "%%block a\n1", "index": 2}])
    channel = CommChannel(session)
    opened: list[dict[str, Any]] = []
    comm = RecordingComm()

    def create(target_name, data):
        opened.append({"target": target_name, "data": data})
        return comm

    channel.announce(create)
    assert opened[0]["target"] == "jupyter_blocks"
    assert opened[0]["data"]["type"] == "state"
    assert opened[0]["data"]["blocks"][0]["origin"] == "cell 3"
    comm.handlers["msg"](message({"type": "request_state"}))
    assert comm.sent[-1]["type"] == "state"
    session.run(None)
    assert any(m["type"] == "event" for m in comm.sent)


def test_a_block_deleted_from_the_notebook_leaves_the_dag(loop):
    session, comm, notebook = loop
    run_cell(session, notebook, "total")
    notebook.cells = [c for c in notebook.cells if c[0] != "total"]
    comm.handlers["msg"](message(notebook.sync()))
    assert "total" not in session.dag()
    with pytest.raises(GraphError):
        session.run(["total"])


def test_the_sync_names_the_notebook_file_when_the_kernel_does_not_know_it(tmp_path):
    from tests.helpers.notebooks import write_notebook

    write_notebook(tmp_path / "trips.ipynb", "%%block load\n[1]")
    session = Session({}, directory=tmp_path)
    channel = CommChannel(session)
    comm = RecordingComm()
    channel.open(comm, message({"type": "sync", "path": "notes/trips.ipynb",
                                "cells": [{"cell_id": "c0", "source": "%%block load\n[1]",
                                           "index": 0}]}))
    assert session.notebook_path == (tmp_path / "trips.ipynb").resolve()
    assert session.pipeline_name() == "trips"
