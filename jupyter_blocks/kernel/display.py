"""Notebook display: status lines for runner events, the ``%blocks`` table, DAG pictures.

What belongs here: turning events and block states into text and HTML, and a subscriber that
shows live status lines in the cell that runs: one per block the cell asked for and per upstream
it had to run, and one line summing up the upstreams it merely took from the cache. A failed
block's line says that it failed; its error and traceback are the cell's error, shown once. No
run logic.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Collection, Sequence
from typing import Any

from jupyter_blocks.kernel.freshness import BlockState
from jupyter_blocks.runner import events as ev
from jupyter_blocks.runner.events import Event, shape_text

_COLOURS = {"ok": "#1e7e34", "failed": "#c82333", "skipped": "#6c757d", "running": "#0069d9"}
_STALE_TEXT = {"code": "code changed", "upstream": "upstream changed",
               "variables": "variables changed"}


def status_line(event: Event) -> tuple[str, str] | None:
    """(mark, text) of the one-line status of a block event, or None for other events."""
    name = event.block
    if isinstance(event, ev.BlockStarted):
        return "running", f"▶ {name} · running…"
    if isinstance(event, ev.BlockCached):
        parts = [f"✓ {name}", f"cached ({event.layer})", shape_text(event.rows, event.cols)]
        return "ok", " · ".join(p for p in parts if p)
    if isinstance(event, ev.BlockFinished):
        parts = [f"✓ {name}", f"ran in {event.seconds or 0:.2f} s",
                 shape_text(event.rows, event.cols)]
        if event.tests_total:
            parts.append(f"tests {event.tests_passed}/{event.tests_total} passed")
        return "ok", " · ".join(p for p in parts if p)
    if isinstance(event, ev.BlockFailed):
        # The error itself is the cell's error (with its traceback): said once, there.
        return "failed", f"✗ {name} · failed after {event.seconds or 0:.2f} s"
    if isinstance(event, ev.BlockSkipped):
        return "skipped", f"– {name} · {event.reason}"
    if isinstance(event, ev.BlockWaiting):
        left = max(event.next_poke - event.time, 0.0)
        return "running", f"⏳ {name} · waiting · poke {event.poke} · next in {left:.0f} s"
    if isinstance(event, ev.BlockRetrying):
        return "failed", (f"↻ {name} · attempt {event.attempt} failed: {event.error} · "
                          f"retrying in {event.delay or 0:g} s")
    return None


def children_line(block: str, tally: list[int]) -> tuple[str, str]:
    """The status line of a block that fanned out: ``per_zone ×265 · 263 ran · 2 failed``."""
    total, ran, failed, skipped = tally
    parts = [f"{block} ×{total}"]
    parts += [f"{count} {word}" for count, word in ((ran, "ran"), (failed, "failed"),
                                                   (skipped, "skipped")) if count]
    settled = ran + failed + skipped
    if settled < total:
        parts.append("running…")
    mark = "failed" if failed else ("running" if settled < total else "ok")
    sign = "✗" if failed else ("▶" if settled < total else "✓")
    return mark, f"{sign} " + " · ".join(parts)


def cached_summary(names: Sequence[str]) -> str:
    """``✓ 2 upstreams cached (load, clean)``."""
    count = len(names)
    return f"✓ {count} upstream{'s' if count != 1 else ''} cached ({', '.join(names)})"


def _bundle(mark: str, text: str) -> dict[str, str]:
    colour = _COLOURS.get(mark, "inherit")
    return {"text/plain": text,
            "text/html": f'<div class="jupyter-blocks-status" style="font-family: monospace; '
                         f'color: {colour}">{html.escape(text)}</div>'}


class CellStatus:
    """A subscriber that shows and updates the status lines of the current cell.

    Args:
        display: ``IPython.display.display``-like callable (``raw=True``, ``display_id``).
        asked: The blocks the cell asked for (every block when None): each gets its own line;
            upstreams get one only when they run, the cached ones share a summary line.
    """

    def __init__(self, display: Callable[..., Any], asked: Collection[str] | None = None) -> None:
        self._display = display
        self._asked = set(asked) if asked is not None else None
        self._handles: dict[str, Any] = {}
        self._children: dict[str, list[int]] = {}
        self._cached: list[str] = []

    def __call__(self, event: Event) -> None:
        """Show or update the status line of ``event``'s block (a child's counts on its block)."""
        if event.block is None:
            return
        if isinstance(event, ev.ChildrenStarted):
            self._children[event.block] = [len(event.children), 0, 0, 0]
            self._show(event.block, children_line(event.block, self._children[event.block]))
            return
        block = event.block.split(":", 1)[0]
        if block != event.block and block in self._children:
            tally = self._children[block]
            if isinstance(event, ev.BlockFinished | ev.BlockCached):
                tally[1] += 1
            elif isinstance(event, ev.BlockFailed):
                tally[2] += 1
            elif isinstance(event, ev.BlockSkipped):
                tally[3] += 1
            else:
                return
            self._show(block, children_line(block, tally))
            return
        line = status_line(event)
        if line is None:
            return
        upstream = self._asked is not None and event.block not in self._asked
        if upstream and isinstance(event, ev.BlockCached) and event.block not in self._handles:
            self._cached.append(event.block)
            self._show("cached upstreams", ("ok", cached_summary(self._cached)))
            return
        self._show(event.block, line)

    def _show(self, slot: str, line: tuple[str, str]) -> None:
        bundle = _bundle(*line)
        handle = self._handles.get(slot)
        if handle is not None:
            handle.update(bundle, raw=True)
        else:
            self._handles[slot] = self._display(bundle, raw=True, display_id=True)


def state_text(state: BlockState) -> str:
    """``fresh``, ``stale (code changed)``, ``failed``, ``never run``, ..."""
    if state.state == "stale" and state.error:
        return f"stale ({state.error})"
    if state.state == "stale":
        return f"stale ({_STALE_TEXT.get(state.reason or '', state.reason or 'changed')})"
    return state.state.replace("_", " ")


def blocks_table(states: Sequence[BlockState]) -> dict[str, str]:
    """The ``%blocks`` listing as a text/plain + text/html bundle."""
    if not states:
        text = "No blocks yet: start a cell with %%block NAME"
        return {"text/plain": text, "text/html": f"<p>{html.escape(text)}</p>"}
    header = ("block", "type", "upstream", "state", "last run")
    rows = []
    for state in states:
        last = ""
        if state.seconds is not None:
            last = f"{state.seconds:.2f} s"
            shape = shape_text(state.rows, state.cols)
            last += f", {shape}" if shape else ""
        status = state_text(state)
        if state.error and state.state != "stale":
            status += f": {state.error}"
        rows.append((state.name, state.type or "", ", ".join(state.upstream) or "—", status,
                     last))
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
             for r in [header, *rows]]
    cells = "".join(
        "<tr>" + "".join(f"<td style='text-align:left'>{html.escape(str(c))}</td>" for c in r)
        + "</tr>" for r in rows)
    head = "".join(f"<th style='text-align:left'>{h}</th>" for h in header)
    return {"text/plain": "\n".join(lines),
            "text/html": f"<table class='jupyter-blocks-list'><thead><tr>{head}</tr></thead>"
                         f"<tbody>{cells}</tbody></table>"}


def mermaid_bundle(mermaid: str) -> dict[str, str]:
    """A Markdown bundle JupyterLab renders as a Mermaid diagram (text stays readable)."""
    return {"text/markdown": f"```mermaid\n{mermaid}\n```", "text/plain": mermaid}
