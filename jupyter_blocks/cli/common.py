"""What every command shares: exit codes, bad input as one ``error:`` line, the console."""

from __future__ import annotations

import functools
import gc
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from jupyter_blocks.core.errors import BlocksError

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130

#: ``--allow-unused-vars``, on every command that takes variables.
allow_unused_vars = click.option(
    "--allow-unused-vars", is_flag=True,
    help="Run even when a variable given is read by no block (nor named by the parameters "
    "cell or the pipeline's variables): by default that is an error, most often a typo.")


def check_given_variables(pipeline: Any, given: dict[str, str], allowed: bool) -> None:
    """Bad input when a variable given (name -> ``--var name``) is read by no block of ``pipeline``.

    Nothing is checked with ``--allow-unused-vars`` (``allowed``).
    """
    if given and not allowed:
        from jupyter_blocks.runner.plan import check_variables_read

        check_variables_read(pipeline, given, hint="--allow-unused-vars runs anyway")


def errors_as_exit_codes(function: F) -> F:
    """Turn ``BlocksError`` into one stderr line and its exit code, Ctrl-C into 130."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except BlocksError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)

    return wrapper  # type: ignore[return-value]


class DefaultGroup(click.Group):
    """A group whose first argument, when it names no subcommand, goes to its ``default`` one.

    ``schedule nb.ipynb`` is ``schedule start nb.ipynb``; ``schedule list nb.ipynb`` lists. A
    target that happens to be named like a subcommand is reached as ``./list``.
    """

    def __init__(self, *args: Any, default: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.default = default

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Put the default subcommand first when the arguments do not start with one."""
        help_names = set(ctx.help_option_names or ["--help"])
        if args and args[0] not in self.commands and args[0] not in help_names:
            args = [self.default, *args]
        return super().parse_args(ctx, args)


def console(file: Any = None) -> Any:
    """A rich console; off a terminal, wide enough that tables are not cut."""
    from rich.console import Console

    made = Console(file=file or sys.stdout, highlight=False, soft_wrap=True)
    if not made.is_terminal:
        made.width = max(made.width, 160)
    return made


def collect_from_run_start(event: Any) -> None:
    """A run subscriber turning garbage collection back on when the run starts (see ``main``).

    What the process made until then (modules, the notebook, the plan) is frozen: it lives
    until the process ends, and later collections need not walk it again. Nothing changes
    where collection is on (a command invoked in-process, as in tests).
    """
    if event.event == "run_started" and not gc.isenabled():
        gc.freeze()
        gc.enable()
