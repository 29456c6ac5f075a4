import xml.etree.ElementTree as ET

from click.testing import CliRunner

from jupyter_blocks.cli import cli
from jupyter_blocks.cli.pictures import to_dot, to_svg
from jupyter_blocks.core.grammar import parse_cell
from jupyter_blocks.core.graph import Dag
from tests.helpers.kernels import NOTEBOOKS

SVG = "{http://www.w3.org/2000/svg}"


def dag(*cells):
    return Dag.of(parse_cell(c) for c in cells)


def test_svg_draws_every_block_and_edge_in_layers():
    graph = dag("%%block load\n1", "%%block a -u load\n1", "%%block b -u load\n1",
                "%%block join -u a b\n1")
    root = ET.fromstring(to_svg(graph, {"load": "data_loader"}))
    titles = [t.text for t in root.iter(f"{SVG}title")]
    assert titles == ["load", "a", "b", "join"]
    rects = {t: r for t, r in zip(titles, root.iter(f"{SVG}rect"), strict=True)}
    y = {name: float(rect.get("y")) for name, rect in rects.items()}
    assert y["load"] < y["a"] == y["b"] < y["join"]
    assert len(list(root.iter(f"{SVG}path"))) == 1 + 4  # the arrow marker and 4 edges


def test_missing_upstream_is_dashed_and_red():
    svg = to_svg(dag("%%block a -u ghost\n1"))
    assert "ghost" in svg and 'stroke="#c62828" stroke-dasharray' in svg
    assert '"ghost" [label="ghost (missing)", color=red]' in to_dot(dag("%%block a -u ghost\n1"))


def test_cli_writes_svg(tmp_path):
    out = tmp_path / "dag.svg"
    result = CliRunner().invoke(cli, ["dag", str(NOTEBOOKS / "chain.ipynb"), "--format", "svg",
                                      "-o", str(out)])
    assert result.exit_code == 0, result.output
    root = ET.parse(out).getroot()
    assert [t.text for t in root.iter(f"{SVG}title")] == ["load", "clean", "total"]
