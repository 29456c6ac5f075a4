"""``runs`` and ``cache``: the run history and the output cache of a notebook or project folder.

What belongs here: the options of these commands, finding the folder whose store or cache they
read, and what they print (tables from ``terminal``).

A target names its folder as ``run`` does: a notebook, its folder; a project or one of its
``pipelines/<name>`` folders, the project. Without a target the commands look in the current
folder, then the folders above it, then those below it (a few levels, hidden folders and
virtualenvs left out), and say which store or cache they read. Reading never creates anything.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from jupyter_blocks.cli.common import console, errors_as_exit_codes
from jupyter_blocks.core.errors import ConfigError

#: Marks of a folder that has run: its run store and its cache, relative to the folder.
STORE_FILE = Path(".jupyter_blocks") / "runs.sqlite"
CACHE_FOLDER = Path(".jupyter_blocks") / "cache"

#: How many folders deep a search below the current folder goes.
SEARCH_DEPTH = 3
_NOT_SEARCHED = frozenset({"node_modules", "__pycache__", "site-packages"})


def folder_of(target: str | Path) -> Path:
    """The folder whose store ``run TARGET`` writes: a notebook's, or a project's."""
    path = Path(target)
    if path.is_file():
        path = path.parent
    elif path.suffix == ".ipynb":
        raise ConfigError(f"no notebook {target}")
    if not path.is_dir():
        raise ConfigError(f"{target} is neither a notebook nor a folder")
    if (path / "metadata.yaml").is_file() and path.parent.name == "pipelines":
        path = path.parent.parent  # a project's pipeline folder: the project's store
    return path.resolve()


def found_folder(target: str | None, mark: Path, what: str) -> Path:
    """The folder ``target`` names, or without one the folder around here that has ``mark``.

    Raises:
        ConfigError: No folder with ``mark`` here, above or below, or several below.
    """
    if target is not None:
        return folder_of(target)
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / mark).exists():
            return folder
    below = _below(here, mark)
    if len(below) == 1:
        return below[0]
    if below:
        listed = ", ".join(str((folder / mark).relative_to(here)) for folder in below)
        raise ConfigError(f"no {what} in {here} or above it, and {len(below)} below it "
                          f"({listed}): pass the notebook or project folder whose {what} to read")
    raise ConfigError(f"no {what} in {here}, above it or below it: nothing has run here yet "
                      "(pass the notebook or project folder that ran)")


def _below(top: Path, mark: Path) -> list[Path]:
    """Folders under ``top``, up to :data:`SEARCH_DEPTH` deep, that have ``mark``."""
    found = []
    for folder, names, _ in os.walk(top):
        depth = len(Path(folder).relative_to(top).parts)
        if depth and (Path(folder) / mark).exists():
            found.append(Path(folder))
        names[:] = sorted(name for name in names
                          if depth < SEARCH_DEPTH and not name.startswith(".")
                          and name not in _NOT_SEARCHED
                          and not (Path(folder) / name / "pyvenv.cfg").exists())
    return found


def store_for(target: str | None, url: str | None = None) -> Any:
    """The run store to read: ``url``, or the one of the folder :func:`found_folder` finds.

    Raises:
        ConfigError: No such store (nothing is created).
    """
    return store_and_folder(target, url)[0]


def store_and_folder(target: str | None, url: str | None = None) -> tuple[Any, Path]:
    """The run store to read, and the folder whose runs it holds (whose secrets they may show).

    With a store URL, that folder is the target's, or the current one.

    Raises:
        ConfigError: No such store (nothing is created).
    """
    from jupyter_blocks.history.store import STORE_ENV, RunStore

    if url or os.environ.get(STORE_ENV):
        folder = folder_of(target) if target is not None else Path.cwd()
        return RunStore.existing(Path.cwd(), url), folder
    folder = found_folder(target, STORE_FILE, "run store")
    return RunStore.existing(folder), folder


def cache_for(target: str | None) -> Any:
    """The cache to read or clear: the one of the folder :func:`found_folder` finds.

    Raises:
        ConfigError: The folder has no cache (nothing is created).
    """
    from jupyter_blocks.cache import Cache

    folder = found_folder(target, CACHE_FOLDER, "cache")
    if not (folder / CACHE_FOLDER).is_dir():
        raise ConfigError(f"no cache at {folder / CACHE_FOLDER}: no block of {folder} has run")
    return Cache.beside(folder)


@click.group()
def runs() -> None:
    """Run history: list runs, show one, print a block's captured output."""


_store_option = click.option("--store", envvar="JUPYTER_BLOCKS_STORE", metavar="URL",
                             help="Run store (SQLAlchemy URL).")
_target_argument = click.argument("target", type=click.Path(), required=False)


@runs.command("list")
@_target_argument
@click.option("--pipeline", help="Only runs of this pipeline.")
@click.option("--status", type=click.Choice(["running", "success", "failed", "interrupted"]))
@click.option("--trigger", metavar="NAME",
              help="Only runs started by NAME: manual, notebook, api, a trigger's name "
              "(schedule:NAME, api:NAME) or a backfill's id.")
@click.option("--limit", type=int, default=50, show_default=True)
@_store_option
@errors_as_exit_codes
def runs_list(target: str | None, pipeline: str | None, status: str | None,
              trigger: str | None, limit: int, store: str | None) -> None:
    """List runs, newest first.

    TARGET is the notebook or project folder that ran (default: the store found here).
    """
    from jupyter_blocks.cli import terminal

    found = store_for(target, store)
    runs = found.list_runs(pipeline, status, limit, trigger=trigger)
    click.echo(f"run store: {found.where}")
    console().print(terminal.runs_table(runs))


@runs.command("show")
@click.argument("run_id")
@_target_argument
@_store_option
@errors_as_exit_codes
def runs_show(run_id: str, target: str | None, store: str | None) -> None:
    """Show a run: its blocks with a text Gantt of their timings."""
    from jupyter_blocks.cli import terminal

    found = store_for(target, store)
    run = found.get_run(run_id)
    click.echo(f"run store: {found.where}")
    console().print(terminal.run_table(run))


@runs.command("logs")
@click.argument("run_id")
@click.argument("block")
@_target_argument
@_store_option
@errors_as_exit_codes
def runs_logs(run_id: str, block: str, target: str | None, store: str | None) -> None:
    """Print what a block printed and logged in a run (known secrets shown as ***)."""
    from jupyter_blocks.history.redact import Redactor

    found, folder = store_and_folder(target, store)
    logs = found.block_logs(run_id, block)
    click.echo(Redactor.for_directory(folder).text(logs), nl=False)


@click.group()
def cache() -> None:
    """List or empty the output cache of a notebook or project folder."""


@cache.command("ls")
@_target_argument
@errors_as_exit_codes
def cache_ls(target: str | None) -> None:
    """List cache entries, most recently used first.

    TARGET is the notebook or project folder (default: the cache found here).
    """
    from jupyter_blocks.cli import terminal

    found = cache_for(target)
    click.echo(f"cache: {found.location}")
    console().print(terminal.cache_table(found.entries()))


@cache.command("clear")
@_target_argument
@errors_as_exit_codes
def cache_clear(target: str | None) -> None:
    """Remove every cache entry, and what runs killed while writing one left."""
    found = cache_for(target)
    files, size = found.sweep()
    removed = found.clear()
    message = f"removed {removed} cache {'entry' if removed == 1 else 'entries'}"
    if files:
        message += (f" and {files} unfinished write{'' if files == 1 else 's'} "
                    f"({size / 1024**2:.1f} MB) of stopped processes")
    click.echo(f"{message} from {found.location}")
