"""The IPython adapter: ``%%block`` and ``%blocks``. Parse the arguments, call the session.

Bad input (a malformed ``%%block`` line, an unknown upstream, a cycle) is a one-line
``UsageError`` and registers nothing. A failing block raises ``BlockRunError``, whose traceback
shows the block's own cell lines and lists the blocks not run because of it.
"""

from __future__ import annotations

import sys
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.display import display

from jupyter_blocks.block import help_text, parse_cell
from jupyter_blocks.display import CellStatus, blocks_table, mermaid_bundle
from jupyter_blocks.errors import BlocksError, BlockSpecError, GraphError, did_you_mean
from jupyter_blocks.runner import RunResult
from jupyter_blocks.session import Session

_SUBCOMMANDS = ("list", "run", "dag", "cache", "help")
_BLOCKS_HELP = """%blocks [list]                         list blocks: type, upstreams, state
%blocks run [NAME] [--downstream|--all] [--force]
                                       run NAME with its upstreams (or NAME and everything
                                       downstream of it, or the whole pipeline)
%blocks dag                            draw the DAG
%blocks cache ls | clear               list or empty the output cache"""


class BlockRunError(BlocksError):
    """A block failed while running from a cell; renders as the block's own traceback."""

    exit_code = 1

    def __init__(self, message: str, details: list[str]) -> None:
        super().__init__(message, details)
        self.message = message
        self.details = details

    def __str__(self) -> str:
        return self.message

    def _render_traceback_(self) -> list[str]:
        return [*self.details, f"\x1b[31m{self.message}\x1b[0m"]


def _with_doc(doc: str) -> Any:
    def apply(function: Any) -> Any:
        function.__doc__ = doc
        return function

    return apply


@magics_class
class BlockMagics(Magics):
    """``%%block`` and ``%blocks``."""

    def __init__(self, shell: Any, session: Session) -> None:
        super().__init__(shell)
        self.session = session

    @cell_magic
    @_with_doc(help_text())
    def block(self, line: str, cell: str) -> Any:  # noqa: D102 (help set by _with_doc)
        try:
            spec = parse_cell(f"%%block {line}\n{cell}")
        except BlockSpecError as exc:
            raise UsageError(str(exc)) from None
        assert spec is not None
        if not self.session.notebook_path:
            self.session.find_notebook(f"%%block {line}\n{cell}")
        spec = spec.replace(origin=self._origin(spec.name, cell))
        try:
            outside = self.session.outside_names(spec)
            result = self.session.run_cell(spec, subscribers=[CellStatus(display)])
        except (BlockSpecError, GraphError) as exc:
            raise UsageError(str(exc)) from None
        for name in outside:
            print(f"warning: block `{spec.name}` reads `{name}`, which is defined outside "
                  "blocks; a headless run will not have it (make it a block, pass it as a "
                  "variable through kwargs, or import it)", file=sys.stderr)
        self._raise_failures(result)
        return result.outputs.get(spec.name)

    @line_magic
    @_with_doc(_BLOCKS_HELP)
    def blocks(self, line: str) -> Any:  # noqa: D102 (help set by _with_doc)
        words = line.split()
        command = words[0] if words else "list"
        rest = words[1:]
        if command == "list":
            display(blocks_table(self.session.states()), raw=True)
        elif command == "run":
            return self._run(rest)
        elif command == "dag":
            states = self.session.states()
            mermaid = self.session.dag().to_mermaid({s.name: s.state for s in states},
                                                    {s.name: s.type for s in states})
            display(mermaid_bundle(mermaid), raw=True)
        elif command == "cache":
            self._cache(rest)
        elif command == "help":
            print(_BLOCKS_HELP)
        else:
            raise UsageError(f"unknown %blocks command `{command}`"
                             + did_you_mean(command, _SUBCOMMANDS)
                             + "; try %blocks help")
        return None

    def _run(self, words: list[str]) -> Any:
        flags = {w for w in words if w.startswith("-")}
        names = [w for w in words if not w.startswith("-")]
        unknown = flags - {"--downstream", "--all", "--force"}
        if unknown:
            flag = sorted(unknown)[0]
            raise UsageError(f"unknown option `{flag}` for %blocks run"
                             + did_you_mean(flag, ["--downstream", "--all", "--force"]))
        if len(names) > 1 or (not names and "--all" not in flags) or (
                names and "--all" in flags):
            raise UsageError("usage: %blocks run NAME [--downstream] [--force] | "
                             "%blocks run --all [--force]")
        dag = self.session.dag()
        targets: list[str] | None = None
        if names:
            name = names[0]
            if name not in dag:
                raise UsageError(f"no block named `{name}`" + did_you_mean(name, dag.names))
            targets = list(dag.downstream_of(name).names) if "--downstream" in flags \
                else [name]
        force = (targets or list(dag.names)) if "--force" in flags else []
        try:
            result = self.session.run(targets, force=force, subscribers=[CellStatus(display)])
        except (BlockSpecError, GraphError) as exc:
            raise UsageError(str(exc)) from None
        self._raise_failures(result)
        return None

    def _cache(self, words: list[str]) -> None:
        action = words[0] if words else "ls"
        if action == "clear":
            removed = self.session.clear_cache()
            print(f"removed {removed} cache entries from {self.session.cache.disk.root}"
                  if self.session.cache.disk else f"removed {removed} cache entries")
        elif action in ("ls", "list"):
            disk = self.session.cache.disk
            entries = disk.entries() if disk else []
            total = sum(e.size for e in entries)
            print(f"{len(entries)} entries, {total / 1e6:.1f} MB in {disk.root if disk else '-'}")
            for entry in entries:
                shape = f"{entry.rows} rows" if entry.rows is not None else entry.kind
                print(f"  {entry.key[:12]}  {entry.block or '?':<24} {shape:<14} "
                      f"{entry.size / 1e6:8.2f} MB")
        else:
            raise UsageError(f"unknown %blocks cache command `{action}`"
                             + did_you_mean(action, ["ls", "clear"]))

    def _origin(self, name: str, cell: str) -> str:
        structure = self.session.structure()
        if structure is not None:
            for spec in structure.blocks:
                if spec.name == name and spec.source.strip() == cell.strip():
                    return spec.origin
        count = getattr(self.shell, "execution_count", None)
        return f"cell In[{count}]" if count else "cell"

    @staticmethod
    def _raise_failures(result: RunResult) -> None:
        failed = result.failed
        if not failed:
            return
        details: list[str] = []
        for outcome in failed:
            if outcome.traceback:
                details.append(outcome.traceback.rstrip())
        skipped = [o for o in result.outcomes.values() if o.status == "skipped"]
        for outcome in skipped:
            details.append(f"{outcome.name}: {outcome.error}")
        first = failed[0]
        message = first.error or f"block `{first.name}` failed"
        if len(failed) > 1:
            message += f" (and {len(failed) - 1} more failed)"
        raise BlockRunError(message, details)


def load(ipython: Any) -> Session:
    """Register the magics (and the labextension comm) on ``ipython``; return the session."""
    session = Session(ipython.user_ns)
    session.find_notebook()
    ipython.register_magics(BlockMagics(ipython, session))
    from jupyter_blocks import comm

    comm.register(session)
    return session
