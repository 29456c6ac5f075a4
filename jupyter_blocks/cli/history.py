"""``runs`` and ``cache``: the run history and the output cache of a notebook or project folder.

What belongs here: the options of these commands, finding the folder a target names, and what
they print (tables from ``terminal``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from jupyter_blocks.cli.common import console, errors_as_exit_codes
from jupyter_blocks.core.errors import ConfigError


def folder_of(target: str | Path) -> Path:
    """The folder of a notebook, or the project folder a target names."""
    path = Path(target)
    if path.is_file():
        path = path.parent
    if not path.is_dir():
        raise ConfigError(f"{target} is neither a notebook nor a folder")
    return path.resolve()


def store_for(target: str | Path, url: str | None = None) -> Any:
    """The run store of a notebook's folder or a project folder (or ``url``)."""
    from jupyter_blocks.history.store import RunStore

    return RunStore.for_directory(folder_of(target), url)


def cache_for(target: str | Path) -> Any:
    """The cache of a notebook's folder or a project folder."""
    from jupyter_blocks.cache import Cache

    return Cache.beside(folder_of(target))


@click.group()
def runs() -> None:
    """Run history: list runs, show one, print a block's captured output."""


_store_option = click.option("--store", envvar="JUPYTER_BLOCKS_STORE", metavar="URL",
                             help="Run store (SQLAlchemy URL).")
_target_argument = click.argument("target", type=click.Path(), default=".")


@runs.command("list")
@_target_argument
@click.option("--pipeline", help="Only runs of this pipeline.")
@click.option("--status", type=click.Choice(["running", "success", "failed", "interrupted"]))
@click.option("--limit", type=int, default=50, show_default=True)
@_store_option
@errors_as_exit_codes
def runs_list(target: str, pipeline: str | None, status: str | None, limit: int,
              store: str | None) -> None:
    """List runs, newest first."""
    from jupyter_blocks.cli import terminal

    found = store_for(target, store).list_runs(pipeline, status, limit)
    console().print(terminal.runs_table(found))


@runs.command("show")
@click.argument("run_id")
@_target_argument
@_store_option
@errors_as_exit_codes
def runs_show(run_id: str, target: str, store: str | None) -> None:
    """Show a run: its blocks with a text Gantt of their timings."""
    from jupyter_blocks.cli import terminal

    console().print(terminal.run_table(store_for(target, store).get_run(run_id)))


@runs.command("logs")
@click.argument("run_id")
@click.argument("block")
@_target_argument
@_store_option
@errors_as_exit_codes
def runs_logs(run_id: str, block: str, target: str, store: str | None) -> None:
    """Print what a block printed and logged in a run (known secrets shown as ***)."""
    from jupyter_blocks.history.redact import Redactor

    logs = store_for(target, store).block_logs(run_id, block)
    click.echo(Redactor.for_directory(folder_of(target)).text(logs), nl=False)


@click.group()
def cache() -> None:
    """List or empty the output cache of a notebook or project folder."""


@cache.command("ls")
@click.argument("target", type=click.Path(), default=".")
@errors_as_exit_codes
def cache_ls(target: str) -> None:
    """List cache entries, most recently used first."""
    from jupyter_blocks.cli import terminal

    console().print(terminal.cache_table(cache_for(target).entries()))


@cache.command("clear")
@click.argument("target", type=click.Path(), default=".")
@errors_as_exit_codes
def cache_clear(target: str) -> None:
    """Remove every cache entry, and what runs killed while writing one left."""
    found = cache_for(target)
    files, size = found.sweep()
    removed = found.clear()
    message = f"removed {removed} cache {'entry' if removed == 1 else 'entries'}"
    if files:
        message += (f" and {files} unfinished write{'' if files == 1 else 's'} "
                    f"({size / 1024**2:.1f} MB) of stopped processes")
    click.echo(message)
