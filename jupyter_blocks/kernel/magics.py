"""The IPython adapter: ``%%block``, ``%blocks`` and ``%%pipeline``. Parse, call the session.

Bad input (a malformed ``%%block`` line, an unknown upstream, a cycle) is a one-line
``UsageError`` and registers nothing. A failing block raises
:class:`~jupyter_blocks.core.errors.BlockFailed`, whose traceback shows the block's own cell lines
and lists the blocks not run because of it. ``%%block`` takes the grammar shared with the
labextension (``core.block``); ``%blocks`` parses its subcommands with IPython's
``magic_arguments``. ``%%pipeline`` checks the pipeline's settings cell and prints its summary
(runs and exports read the cell from the notebook file).
"""

from __future__ import annotations

import datetime as dt
import re
import sys
from typing import Any

from IPython.core import magic_arguments
from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class, no_var_expand
from IPython.display import display

from jupyter_blocks.core.errors import BlockFailed, BlocksError, BlockSpecError, did_you_mean
from jupyter_blocks.core.grammar import help_text, parse_cell
from jupyter_blocks.kernel.display import CellStatus, blocks_table, mermaid_bundle
from jupyter_blocks.kernel.session import Session
from jupyter_blocks.runner.events import RunResult

_COMMANDS = ("list", "run", "dag", "cache", "help")
_FLAGS = ("--downstream", "--all", "--force")
_BLOCKS_HELP = """%blocks [list]                         list blocks: type, upstreams, state
%blocks run [NAME] [--downstream|--all] [--force]
                                       run NAME with its upstreams (or NAME and everything
                                       downstream of it, or the whole pipeline)
%blocks dag                            draw the DAG
%blocks cache ls | clear               list or empty the output cache"""


def _with_doc(doc: str) -> Any:
    def apply(function: Any) -> Any:
        function.__doc__ = doc
        return function

    return apply


def _suggesting(error: UsageError) -> UsageError:
    """Argparse's error with the near option named, as every message of ours does."""
    message = str(error)
    match = re.search(r"unrecognized arguments: (.+)", message)
    if match:
        for word in match.group(1).split():
            if word.startswith("-"):
                return UsageError(f"unknown option `{word}` for %blocks"
                                  + did_you_mean(word, _FLAGS) + "; try %blocks help")
    return UsageError(f"%blocks: {message}; try %blocks help")


@magics_class
class BlockMagics(Magics):
    """``%%block`` and ``%blocks``."""

    def __init__(self, shell: Any, session: Session) -> None:
        super().__init__(shell)
        self.session = session

    @cell_magic
    @no_var_expand  # the line means what it means headless: `{{ profile }}` stays as written
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
            result = self.session.run_cell(spec, subscribers=[CellStatus(display, [spec.name])])
        except BlocksError as exc:  # bad input: one line, nothing run
            raise UsageError(str(exc)) from None
        for name in outside:
            print(f"warning: block `{spec.name}` reads `{name}`, which is defined outside "
                  "blocks; a headless run will not have it (make it a block, pass it as a "
                  "variable through kwargs, or import it)", file=sys.stderr)
        self._raise_failures(result)
        return result.outputs.get(spec.name)

    @cell_magic
    def pipeline(self, line: str, cell: str) -> None:
        """``%%pipeline``: the pipeline's settings in Mage's YAML (triggers, alerts, Mage's keys).

        Checked here (every problem as one ``UsageError``) and summarised.
        """
        from jupyter_blocks.core.errors import ConfigError
        from jupyter_blocks.project.settings import parse_pipeline_cell
        from jupyter_blocks.schedule.summary import summary

        try:
            settings = parse_pipeline_cell(cell)
        except ConfigError as exc:
            raise UsageError(str(exc)) from None
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        print(summary(settings, now, dt.datetime.now().astimezone().tzinfo or dt.timezone.utc))

    @line_magic
    @magic_arguments.magic_arguments()
    @magic_arguments.argument("command", nargs="?", default="list",
                              help="list (the default), run, dag, cache or help")
    @magic_arguments.argument("name", nargs="?",
                              help="run: the block to run; cache: ls or clear")
    @magic_arguments.argument("--downstream", action="store_true",
                              help="run: the block and everything downstream of it")
    @magic_arguments.argument("--all", action="store_true", help="run: the whole pipeline")
    @magic_arguments.argument("--force", action="store_true",
                              help="run: run even the blocks the cache has")
    def blocks(self, line: str) -> Any:
        """List, run and draw the notebook's blocks; list or empty the output cache.

        %blocks [list]                            blocks with their type, upstreams and state
        %blocks run NAME [--downstream] [--force] NAME with its upstreams (or downstream)
        %blocks run --all [--force]               the whole pipeline
        %blocks dag                               the DAG as a Mermaid picture
        %blocks cache ls | clear                  the output cache
        """
        try:
            args = magic_arguments.parse_argstring(self.blocks, line)
        except UsageError as exc:
            raise _suggesting(exc) from None
        command = args.command
        if command == "list":
            display(blocks_table(self.session.states()), raw=True)
        elif command == "run":
            return self._run(args.name, downstream=args.downstream, everything=args.all,
                             force=args.force)
        elif command == "dag":
            states = self.session.states()
            mermaid = self.session.dag().to_mermaid({s.name: s.state for s in states},
                                                    {s.name: s.type for s in states})
            display(mermaid_bundle(mermaid), raw=True)
        elif command == "cache":
            self._cache(args.name or "ls")
        elif command == "help":
            print(_BLOCKS_HELP)
        else:
            raise UsageError(f"unknown %blocks command `{command}`"
                             + did_you_mean(command, _COMMANDS) + "; try %blocks help")
        return None

    def _run(self, name: str | None, *, downstream: bool, everything: bool, force: bool
             ) -> None:
        if (name is None) == (not everything) or (downstream and name is None):
            raise UsageError("usage: %blocks run NAME [--downstream] [--force] | "
                             "%blocks run --all [--force]")
        dag = self.session.dag()
        targets: list[str] | None = None
        if name is not None:
            if name not in dag:
                raise UsageError(f"no block named `{name}`" + did_you_mean(name, dag.names))
            targets = list(dag.downstream_of(name).names) if downstream else [name]
        forced = (targets or list(dag.names)) if force else []
        command = " ".join(["%blocks run", *([name] if name else []),
                            *(["--downstream"] if downstream else []),
                            *(["--all"] if everything else []), *(["--force"] if force else [])])
        try:
            result = self.session.run(targets, force=forced,
                                      subscribers=[CellStatus(display, targets)],
                                      trigger=f"notebook · {command}")
        except BlocksError as exc:  # bad input: one line, nothing run
            raise UsageError(str(exc)) from None
        self._raise_failures(result)

    def _cache(self, action: str) -> None:
        cache = self.session.cache
        where = f" from {cache.location}" if cache.location else ""
        if action == "clear":
            removed = self.session.clear_cache()
            print(f"removed {removed} cache entries{where}")
        elif action in ("ls", "list"):
            entries = cache.entries()
            total = sum(e.size for e in entries)
            print(f"{len(entries)} entries, {total / 1e6:.1f} MB in {cache.location or '-'}")
            for entry in entries:
                shape = f"{entry.rows} rows" if entry.rows is not None else entry.type
                print(f"  {entry.key[:12]}  {entry.block or '?':<24} {shape:<14} "
                      f"{entry.size / 1e6:8.2f} MB")
        else:
            raise UsageError(f"unknown %blocks cache command `{action}`"
                             + did_you_mean(action, ["ls", "clear"]))

    def _origin(self, name: str, cell: str) -> str:
        """``cell N``: the cell's position among all cells, as the DAG and the CLI say it.

        The cell is the notebook's block of that name (the one cell of that name, or the one
        with this very source); a cell the kernel cannot place is named by its prompt.
        """
        structure = self.session.structure()
        if structure is not None:
            named = [spec for spec in structure.blocks if spec.name == name]
            same = [spec for spec in named if spec.source.strip() == cell.strip()]
            if same or len(named) == 1:
                return str((same or named)[0].origin)
        count = getattr(self.shell, "execution_count", None)
        return f"cell In[{count}]" if count else "cell"

    @staticmethod
    def _raise_failures(result: RunResult) -> None:
        failed = result.failed
        if not failed:
            return
        # The status lines above already name the blocks not run because of it.
        tracebacks = [o.traceback.rstrip() for o in failed if o.traceback]
        first = failed[0]
        message = first.error or f"block `{first.name}` failed"
        if len(failed) > 1:
            message += f" (and {len(failed) - 1} more failed)"
        raise BlockFailed(message, "\n".join(tracebacks), attempts=first.attempts,
                          seconds=first.seconds)


def load(ipython: Any) -> Session:
    """Register the magics (and the labextension comm) on ``ipython``; return the session."""
    session = Session(ipython.user_ns)
    session.find_notebook()
    ipython.register_magics(BlockMagics(ipython, session))
    from jupyter_blocks.kernel import comm

    comm.register(session)
    _hide_secrets_in_displays(ipython, session)
    return session


def _hide_secrets_in_displays(ipython: Any, session: Session) -> None:
    """What the kernel displays (a cell's value, ``display()``) has the known secrets hidden.

    Printed output and errors are hidden where a run captures them; a block's value, shown as
    the cell's result, is hidden here, in every text form it is shown in.
    """
    formatter = getattr(ipython, "display_formatter", None)
    if formatter is None or getattr(formatter, "_jupyter_blocks_hides", False):
        return
    shown = formatter.format

    def format(obj: Any, include: Any = None, exclude: Any = None) -> Any:
        from jupyter_blocks.history.redact import Redactor  # not at %load_ext: it reads configs

        data, metadata = shown(obj, include=include, exclude=exclude)
        redactor = Redactor.cached_for_directory(session.directory)
        if redactor.hides_nothing:
            return data, metadata
        return {mime: redactor.text(value) if isinstance(value, str) else value
                for mime, value in data.items()}, metadata

    formatter.format = format
    formatter._jupyter_blocks_hides = True
