"""The comm protocol the labextension speaks, against a session (the browser tests drive it live)."""

from jupyter_blocks.kernel.comm import CommChannel
from jupyter_blocks.kernel.session import Session
from tests.helpers.comms import RecordingComm, message


def test_sync_state_and_live_events(tmp_path):
    session = Session({}, directory=tmp_path)
    channel = CommChannel(session)
    comm = RecordingComm()
    cells = [{"cell_id": "c1", "source": "%%block load\n[1, 2]"},
             {"cell_id": "c2", "source": "%%block total -u load\nsum(load)"},
             {"cell_id": "c3", "source": "x = 1"}]
    channel.open(comm, message({"type": "sync", "cells": cells}))
    state = comm.sent[-1]
    assert state["type"] == "state"
    assert [(b["name"], b["cell_id"], b["state"]) for b in state["blocks"]] == [
        ("load", "c1", "never_run"), ("total", "c2", "never_run")]

    comm.sent.clear()
    session.run(["total"])
    kinds = [(m["event"]["event"], m["event"].get("block")) for m in comm.sent
             if m["type"] == "event"]
    assert kinds == [("run_started", None), ("block_started", "load"), ("block_finished", "load"),
                     ("block_started", "total"), ("block_finished", "total"),
                     ("run_finished", None)]
    assert comm.sent[-1]["type"] == "state"
    assert {b["name"]: b["state"] for b in comm.sent[-1]["blocks"]} == {
        "load": "fresh", "total": "fresh"}

    cells[0]["source"] = "%%block load\n[1, 2, 3]"
    comm.handlers["msg"](message({"type": "sync", "cells": cells}))
    states = {b["name"]: (b["state"], b["reason"]) for b in comm.sent[-1]["blocks"]}
    assert states == {"load": ("stale", "code"), "total": ("stale", "upstream")}

    comm.handlers["close"]({})
    assert channel.comms == []
