"""The ``jupyter-blocks`` command line: click commands that parse options and call the library.

What belongs here: the command group and what every command shares (exit codes, one ``error:``
line for bad input, the console). The commands live in ``run`` (``run``), ``projects``
(``export``, ``import``, ``dag``), ``history`` (``runs``, ``cache``) and ``orchestrate``
(``schedule``, ``backfill``); the output layer in
``terminal``, papermill mode in ``papermill``, DAG pictures in ``pictures``. No run logic here.
Exit codes: 0 success, 1 a block failed, 2 bad input, 130 interrupted.
"""

from __future__ import annotations

import gc

import click

from jupyter_blocks.cli.common import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK
from jupyter_blocks.cli.history import cache, runs
from jupyter_blocks.cli.orchestrate import backfill, schedule
from jupyter_blocks.cli.projects import dag, export, import_
from jupyter_blocks.cli.run import run


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="jupyter-blocks")
@click.pass_context
def cli(context: click.Context) -> None:
    """Mage-style data pipelines built inside Jupyter notebooks."""
    if context.invoked_subcommand != "run":
        gc.enable()  # see main(); ``run`` turns it back on when its blocks start


for command in (run, dag, export, import_, runs, cache, schedule, backfill):
    cli.add_command(command)


def main() -> None:
    """Entry point of the ``jupyter-blocks`` console script.

    The cyclic garbage collector is off while the process starts: the imports of a run
    (pandas, pyarrow, the notebook's own) make objects by the hundred thousand and almost no
    garbage cycles, and collecting through them cost about 15% of a small run. ``run`` turns
    it back on, with what exists by then frozen, when its first block starts; other commands
    at once.
    """
    gc.disable()
    cli(prog_name="jupyter-blocks")


__all__ = ["EXIT_BAD_INPUT", "EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_OK", "cli", "main"]
