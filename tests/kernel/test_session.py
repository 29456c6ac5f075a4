"""The kernel session without IPython: cell runs through the run assembly, and what they show."""

import json

import pytest

from jupyter_blocks.core import body
from jupyter_blocks.core.errors import GraphError
from jupyter_blocks.core.grammar import parse_cell
from jupyter_blocks.kernel.comm import CommChannel
from jupyter_blocks.kernel.display import CellStatus
from jupyter_blocks.kernel.session import Session
from jupyter_blocks.kernel.structure import KernelNotebook
from tests.helpers.comms import RecordingComm

CELLS = [
    {"cell_id": "c1", "source": "%%block load\n[1, 2, 3]"},
    {"cell_id": "c2", "source": "%%block clean -u load\n[x for x in load if x > 1]"},
    {"cell_id": "c3", "source": "%%block total -u clean\n@transformer\n"
                                "def total(clean, **kwargs):\n    return sum(clean)"},
]


class Shown:
    """``IPython.display.display`` stand-in: keeps every bundle shown or updated."""

    def __init__(self):
        self.bundles = []

    def __call__(self, bundle, raw=True, display_id=None):
        self.bundles.append(bundle)
        return self

    def update(self, bundle, raw=True):
        self.bundles.append(bundle)


def cell(number: int) -> object:
    source = CELLS[number - 1]
    return parse_cell(source["source"], origin=f"cell {number}", cell_id=source["cell_id"])


def test_a_cell_run_analyses_each_body_once_and_builds_the_dag_once(tmp_path, monkeypatch):
    session = Session({}, directory=tmp_path)
    session.sync(CELLS)
    channel = CommChannel(session)  # sends the state after the run, as in JupyterLab
    channel.comms.append(RecordingComm())
    analysed: list[str] = []
    real_analyze = body.analyze
    monkeypatch.setattr(body, "analyze", lambda spec: (analysed.append(spec.name),
                                                       real_analyze(spec))[1])
    builds: list[int] = []
    real_build = KernelNotebook._build
    monkeypatch.setattr(KernelNotebook, "_build",
                        lambda self, *a, **k: (builds.append(1), real_build(self, *a, **k))[1])

    spec = cell(3)
    session.outside_names(spec)  # the magic's warning check
    result = session.run_cell(spec)

    assert result.ok and result.outputs["total"] == 5
    assert channel.comms[0].sent[-1]["type"] == "state"
    assert sorted(analysed) == ["clean", "load", "total"]
    assert len(builds) == 1


def test_the_unknown_upstream_of_a_cell_suggests_the_near_name(tmp_path):
    session = Session({}, directory=tmp_path)
    session.sync([*CELLS, {"cell_id": "c9", "source": "%%block typo_user -u claen\nclaen"}])
    spec = parse_cell("%%block typo_user -u claen\nclaen", origin="cell 4", cell_id="c9")
    with pytest.raises(GraphError) as info:
        session.run_cell(spec)
    unknown = info.value.of_kind("unknown_upstream")
    assert unknown[0].suggestion == "clean"
    assert str(info.value).startswith("block `typo_user` (cell 4) has unknown upstream `claen` "
                                      "(did you mean `clean`?)")
    assert "typo_user" not in session.notebook.registered


SECRET = "pg-pass-7c1e9d"


def test_a_secret_never_reaches_the_comm_the_cell_status_or_the_error(tmp_path, capsys):
    (tmp_path / "io_config.yaml").write_text(
        f"default:\n  POSTGRES_HOST: db\n  POSTGRES_PASSWORD: {SECRET}\n")
    session = Session({}, directory=tmp_path)
    leaking = [
        {"cell_id": "a", "source": "%%block connect\n"
                                   f"print('connecting as postgres:{SECRET}@db')\n"
                                   f"raise ConnectionError('could not connect as "
                                   f"postgres:{SECRET}@db')"},
        {"cell_id": "b", "source": "%%block after -u connect\nconnect"},
    ]
    channel = CommChannel(session)
    comm = RecordingComm()
    channel.open(comm, {"content": {"data": {"type": "sync", "cells": leaking}}})
    shown = Shown()
    result = session.run(["after"], subscribers=[CellStatus(shown)])

    assert result.outcomes["connect"].status == "failed"
    messages = json.dumps(comm.sent)
    assert "event" in messages and "block_failed" in messages
    assert SECRET not in messages
    assert "postgres:***@db" in messages
    assert SECRET not in json.dumps(shown.bundles)
    assert SECRET not in result.outcomes["connect"].error
    assert SECRET not in (result.outcomes["connect"].traceback or "")
    states = {s.name: s for s in session.states()}
    assert SECRET not in (states["connect"].error or "")
    printed = capsys.readouterr()
    assert "connecting as postgres:***@db" in printed.out
    assert SECRET not in printed.out + printed.err
