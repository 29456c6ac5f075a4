"""DAG pictures for the CLI: Graphviz dot text, and a self-contained SVG.

The SVG needs no system binary: blocks are placed in layers by their longest upstream path,
ordered within a layer by notebook order and then by the mean position of their upstreams, and
edges are drawn as curves from an upstream's bottom to a downstream's top. Upstreams that do not
exist are drawn dashed and red.
"""

from __future__ import annotations

from html import escape

from jupyter_blocks.core.graph import Dag

_WIDTH, _HEIGHT, _GAP_X, _GAP_Y, _MARGIN = 170, 46, 30, 60, 20
_COLOURS = {"data_loader": "#e8f1fb", "transformer": "#eef7ee", "data_exporter": "#fdf3e6",
            "sensor": "#f3eefb", "condition": "#fbeef3", "custom": "#f4f4f4"}


def to_dot(dag: Dag, types: dict[str, str | None] | None = None) -> str:
    """The DAG in Graphviz dot; missing upstreams drawn dashed and red."""
    lines = ["digraph pipeline {", "    rankdir=TB;", "    node [shape=box, style=rounded];"]
    for block in dag:
        kind = (types or {}).get(block.name) or block.type or "block"
        lines.append(f'    "{block.name}" [label="{block.name}\\n{kind}"];')
    for block in dag:
        for parent in block.upstream:
            if parent in dag:
                lines.append(f'    "{parent}" -> "{block.name}";')
            else:
                lines.append(f'    "{parent}" [label="{parent} (missing)", color=red];')
                lines.append(f'    "{parent}" -> "{block.name}" [style=dashed];')
    lines.append("}")
    return "\n".join(lines)


def to_svg(dag: Dag, types: dict[str, str | None] | None = None) -> str:
    """The DAG as a standalone SVG document (missing upstreams are drawn; cycles are errors)."""
    missing = sorted({u for b in dag for u in b.upstream if u not in dag})
    order = Dag(dag.blocks, dag.external | set(missing)).order()
    layer: dict[str, int] = {name: 0 for name in missing}
    for name in order:
        layer[name] = max((layer[u] + 1 for u in dag[name].upstream), default=0)
    layers: dict[int, list[str]] = {}
    for name in [*missing, *order]:
        layers.setdefault(layer[name], []).append(name)
    x: dict[str, float] = {}
    for depth in sorted(layers):
        row = layers[depth]
        if depth:
            def mean_parent(name: str) -> float:
                parents = [x[u] for u in dag[name].upstream if u in x]
                return sum(parents) / len(parents) if parents else 0.0

            row.sort(key=mean_parent)
        for index, name in enumerate(row):
            x[name] = index
    widest = max(len(row) for row in layers.values())
    width = _MARGIN * 2 + widest * _WIDTH + (widest - 1) * _GAP_X
    height = _MARGIN * 2 + len(layers) * _HEIGHT + (len(layers) - 1) * _GAP_Y

    def box(name: str) -> tuple[float, float]:
        row = layers[layer[name]]
        row_width = len(row) * _WIDTH + (len(row) - 1) * _GAP_X
        left = (width - row_width) / 2 + x[name] * (_WIDTH + _GAP_X)
        return left, _MARGIN + layer[name] * (_HEIGHT + _GAP_Y)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="sans-serif" font-size="13">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker>'
        '</defs>',
    ]
    for block in dag:
        for parent in block.upstream:
            (px, py), (cx, cy) = box(parent), box(block.name)
            x1, y1, x2, y2 = px + _WIDTH / 2, py + _HEIGHT, cx + _WIDTH / 2, cy
            middle = (y1 + y2) / 2
            dash = ' stroke-dasharray="5,4"' if parent in missing else ""
            parts.append(f'<path d="M{x1:.1f},{y1:.1f} C{x1:.1f},{middle:.1f} {x2:.1f},'
                         f'{middle:.1f} {x2:.1f},{y2:.1f}" fill="none" stroke="#555"{dash} '
                         'marker-end="url(#arrow)"/>')
    for name in [*missing, *order]:
        left, top = box(name)
        kind = "missing" if name in missing else (types or {}).get(name) or dag[name].type
        fill = "#fdecea" if name in missing else _COLOURS.get(kind or "", "#ffffff")
        stroke = ' stroke="#c62828" stroke-dasharray="5,4"' if name in missing else \
            ' stroke="#555"'
        parts.append(f'<g><title>{escape(name)}</title><rect x="{left:.1f}" y="{top:.1f}" '
                     f'width="{_WIDTH}" height="{_HEIGHT}" rx="8" fill="{fill}"{stroke}/>')
        parts.append(f'<text x="{left + _WIDTH / 2:.1f}" y="{top + 20:.1f}" '
                     f'text-anchor="middle" font-weight="bold">{escape(name)}</text>')
        parts.append(f'<text x="{left + _WIDTH / 2:.1f}" y="{top + 36:.1f}" '
                     f'text-anchor="middle" fill="#666" font-size="11">{escape(kind or "")}'
                     '</text></g>')
    parts.append("</svg>")
    return "\n".join(parts)
