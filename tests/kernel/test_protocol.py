"""The comm protocol's shared vectors (``tests/data/comm_messages.json``), seen from Python.

The labextension's jest tests read the same file (``labextension/test/protocol.spec.ts``).
"""

import dataclasses
import json
from pathlib import Path

import pytest

from jupyter_blocks.kernel import protocol
from jupyter_blocks.kernel.freshness import BlockState
from jupyter_blocks.project.notebook import from_sources
from jupyter_blocks.runner.events import EVENT_TYPES, event_from_dict

VECTORS = json.loads((Path(__file__).parents[1] / "data" / "comm_messages.json").read_text())


def test_every_kind_of_event_has_a_vector():
    assert {case["event"]["event"] for case in VECTORS["events"]} == set(EVENT_TYPES)


@pytest.mark.parametrize("case", VECTORS["events"], ids=lambda c: c["name"])
def test_event_json_form_round_trips_and_rides_the_comm(case):
    event = event_from_dict(case["event"])
    assert type(event) is EVENT_TYPES[case["event"]["event"]]
    assert event.to_dict() == case["event"]
    expected = {k: v for k, v in case["event"].items() if k not in case.get("message_without", [])}
    assert protocol.event_message(event) == {"type": "event", "event": expected}


@pytest.mark.parametrize("case", VECTORS["frontend"], ids=lambda c: c["name"])
def test_frontend_messages_are_read(case):
    read = protocol.read_message(case["message"])
    if case["read"] is None:
        assert read is None
        return
    assert (read.type, len(read.cells)) == (case["read"]["type"], case["read"]["cells"])
    assert read.path == case["read"].get("path")
    if "blocks" in case["read"]:
        # Cells are named by their position among all cells, markdown included.
        pipeline = from_sources(read.cells)
        assert {b.name: b.origin for b in pipeline.blocks} == case["read"]["blocks"]
        assert list(pipeline.parameter_names) == case["read"]["parameters"]


@pytest.mark.parametrize("case", VECTORS["kernel"], ids=lambda c: c["name"])
def test_kernel_state_messages_are_block_states(case):
    fields = {f.name for f in dataclasses.fields(BlockState)}
    states = []
    for block in case["message"]["blocks"]:
        assert set(block) == fields
        states.append(BlockState(**{**block, "upstream": tuple(block["upstream"])}))
    assert protocol.state_message(states) == case["message"]


def test_an_unknown_event_field_is_an_error():
    with pytest.raises(ValueError, match="no field"):
        event_from_dict({"event": "block_started", "run_id": "r", "block": "b", "colour": 1})
