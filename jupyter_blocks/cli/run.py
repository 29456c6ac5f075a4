"""``jupyter-blocks run``: a notebook or a project pipeline, headless, in this process.

What belongs here: the options of ``run``, turned into a request to the run assembly (or, with
``--output``, to papermill mode), and the report of the finished run.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable
from typing import Any

import click

from jupyter_blocks.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    allow_unused_vars,
    check_given_variables,
    collect_from_run_start,
    console,
    errors_as_exit_codes,
)


@click.command()
@click.argument("target", type=click.Path())
@click.option("--pipeline", help="Pipeline name, when TARGET is a project folder.")
@click.option("--var", "var", multiple=True, metavar="NAME=VALUE",
              help="A variable (value read as YAML: 3, true, 2020-10-01, text). Repeatable.")
@click.option("-p", "--parameter", "parameters", multiple=True, nargs=2,
              metavar="NAME VALUE", help="A variable, papermill style. Repeatable.")
@click.option("--runtime-vars", metavar="JSON",
              help="Variables as one JSON object, as Mage spells it: '{\"months\": 3}'.")
@click.option("--execution-date", help="The run's execution_date (2020-10-01[T06:00]).")
@click.option("--only", metavar="BLOCK", help="Run BLOCK; its upstreams come from the cache "
              "when fresh and run when not.")
@click.option("--from", "start", metavar="BLOCK", help="Run BLOCK and everything downstream.")
@click.option("--incremental", is_flag=True,
              help="Reuse fresh cache entries (default: run every selected block).")
@click.option("--json", "as_json", is_flag=True, help="Print events as JSON lines.")
@click.option("-q", "--quiet", is_flag=True, help="Print only failures.")
@click.option("--store", envvar="JUPYTER_BLOCKS_STORE", metavar="URL",
              help="Run store (SQLAlchemy URL; default: .jupyter_blocks/runs.sqlite).")
@click.option("--output", type=click.Path(), metavar="OUT.ipynb",
              help="Papermill mode: run in a real kernel and write the executed notebook.")
@click.option("--resume", metavar="RUN_ID",
              help="Finish an interrupted or failed run without re-running completed blocks.")
@click.option("--executor", type=click.Choice(["inline", "threads", "processes", "dask"]),
              default="inline", show_default=True,
              help="inline: one block at a time, in this process; threads/processes: "
              "independent branches at once; dask: on a Dask cluster.")
@click.option("--workers", type=click.IntRange(min=1), metavar="N",
              help="Blocks at once: threads (default 16), processes or local Dask workers "
              "(default: the CPUs).")
@click.option("--scheduler", envvar="DASK_SCHEDULER_ADDRESS", metavar="ADDRESS",
              help="With --executor dask: the scheduler (default: a local cluster for the run).")
@allow_unused_vars
@errors_as_exit_codes
def run(target: str, pipeline: str | None, var: tuple[str, ...],
        parameters: tuple[tuple[str, str], ...], runtime_vars: str | None,
        execution_date: str | None, only: str | None,
        start: str | None, incremental: bool, as_json: bool, quiet: bool, store: str | None,
        resume: str | None, output: str | None, executor: str, workers: int | None,
        scheduler: str | None, allow_unused_vars: bool) -> None:
    """Run a notebook or a project pipeline headless, in this process.

    TARGET is a notebook, a project folder (with --pipeline) or a pipeline folder.
    """
    from jupyter_blocks.runner.values import parse_assignments, parse_json_object, parse_value
    from jupyter_blocks.runner.variables import as_datetime

    variables: dict[str, Any] = {}
    given: dict[str, str] = {}  # each variable as the message names it: `--var months`
    for option, values in (
            ("--runtime-vars",
             parse_json_object(runtime_vars, "--runtime-vars") if runtime_vars else {}),
            ("--var", parse_assignments(var)),
            ("-p", {name: parse_value(value) for name, value in parameters})):
        variables.update(values)
        given.update((name, f"{option} {name}") for name in values)
    source = click.get_current_context().get_parameter_source("scheduler")
    if scheduler and executor != "dask" and source == click.core.ParameterSource.COMMANDLINE:
        raise click.UsageError("--scheduler: a Dask scheduler's address goes with --executor dask")
    when = as_datetime(execution_date, "--execution-date") if execution_date else None
    if output:
        from jupyter_blocks.cli.papermill import run_in_kernel

        gc.enable()  # no blocks run in this process (see ``main``)

        if executor != "inline":
            raise click.UsageError(f"--executor {executor} runs headless blocks; --output runs "
                                   "the notebook's cells in order in a kernel: drop one of them")
        from jupyter_blocks.project.loading import load_pipeline

        # Not every check of a headless run: in a kernel, blocks may read scratch cells' names.
        notebook = load_pipeline(target, pipeline, check=False).require_blocks()
        notebook.dag.validate()
        check_given_variables(notebook, given, allow_unused_vars)
        if when is not None:
            variables["execution_date"] = when
        written = run_in_kernel(target, output, variables, progress=not quiet and not as_json)
        if not quiet:
            click.echo(f"wrote {written}")
        return
    from jupyter_blocks.project.loading import load_pipeline
    from jupyter_blocks.runner.run import RunRequest
    from jupyter_blocks.runner.selection import Selection

    loaded = load_pipeline(target, pipeline)
    check_given_variables(loaded, given, allow_unused_vars)
    request = RunRequest(
        loaded, Selection.for_command(loaded.dag, only=only, start=start,
                                      incremental=incremental),
        variables=variables, execution_date=when, store=store, resume=resume,
        echo=not (as_json or quiet), executor=executor, workers=workers,
        scheduler=scheduler if executor == "dask" else None)
    try:
        code = run_and_report(request, as_json=as_json, quiet=quiet)
    finally:
        gc.enable()  # also when the run ended before its first block
    sys.exit(code)


def run_and_report(request: Any, *, as_json: bool, quiet: bool) -> int:
    """Run ``request`` with progress on stdout and the failure report on stderr; the exit code.

    Rich is imported only to draw: not with ``--quiet`` or ``--json``.
    """
    from jupyter_blocks.cli import progress
    from jupyter_blocks.runner.run import run as run_pipeline

    out = sys.stdout
    shown = None if as_json or quiet else console(out)
    subscribers: list[Callable[[Any], None]] = [collect_from_run_start]
    live: Any = None
    if as_json:
        subscribers.append(progress.json_lines(out))
    elif shown is not None and shown.is_terminal:
        from jupyter_blocks.cli.terminal import LiveProgress

        live = LiveProgress(shown)
        subscribers.append(live)
    elif shown is not None:
        subscribers.append(progress.PlainProgress(out))
    try:
        finished = run_pipeline(request, subscribers=subscribers)
    finally:
        if live is not None:
            live.close()
    result = finished.result
    if shown is not None:
        from jupyter_blocks.cli.terminal import summary_table

        shown.print(summary_table(result))
    if not as_json:
        report = progress.failure_report(result, finished.resume)
        if report:
            out.flush()
            sys.stderr.write("".join(finished.redact(line) + "\n" for line in report))
            sys.stderr.flush()
    return EXIT_OK if result.ok else EXIT_FAILED
