import json
from pathlib import Path

import pytest

from jupyter_blocks.core.block import BlockSpec
from jupyter_blocks.core.errors import BlockSpecError
from jupyter_blocks.core.grammar import help_text, parse_cell, parse_magic_line, render_magic_line

VECTORS = json.loads((Path(__file__).parents[1] / "data" / "magic_lines.json").read_text())


@pytest.mark.parametrize("case", VECTORS["cases"], ids=lambda c: c["line"] or "<empty>")
def test_magic_line_vectors(case):
    if case.get("block") is False:
        assert parse_magic_line(case["line"]) is None
    elif "error" in case:
        with pytest.raises(BlockSpecError) as info:
            parse_magic_line(case["line"])
        assert info.value.code == case["error"]
        assert "\n" not in str(info.value)
    else:
        parsed = parse_magic_line(case["line"])
        assert parsed == case["expected"] | {"name": parsed["name"]}
        assert parsed["name"] == case["expected"]["name"]


def test_vector_defaults_match_spec_defaults():
    spec = BlockSpec(name="x")
    for key, value in VECTORS["defaults"].items():
        expected = tuple(value) if isinstance(value, list) else value
        assert getattr(spec, key) == expected


def test_unknown_option_suggests_near_match():
    with pytest.raises(BlockSpecError, match=r"did you mean `--upstream`"):
        parse_magic_line("%%block a --upstrem b")


def test_parse_cell_keeps_body_and_origin():
    spec = parse_cell("%%block clean -u load\nload.head()\n", origin="cell 3", cell_id="abc")
    assert spec is not None
    assert spec.name == "clean" and spec.upstream == ("load",)
    assert spec.source == "load.head()\n" and spec.first_line == 2
    assert spec.label == "block `clean` (cell 3)" and spec.cell_id == "abc"
    assert parse_cell("x = 1") is None


@pytest.mark.parametrize(
    "line",
    [
        "%%block a",
        "%%block a --type transformer --upstream b c",
        "%%block q --lang sql --profile 'my profile' --connector postgres --retries 2 "
        "--retry-delay 0.5 --timeout 30 --dynamic --reduce --no-cache",
    ],
)
def test_magic_line_round_trips(line):
    spec = parse_cell(line + "\n")
    assert spec is not None
    again = parse_cell(render_magic_line(spec) + "\n")
    assert again == spec


def test_help_lists_every_option():
    text = help_text()
    for flag in ["--type", "--upstream", "--lang", "--profile", "--retries", "--no-cache"]:
        assert flag in text
