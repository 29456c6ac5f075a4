"""The ``jupyter-blocks`` command line: click commands that parse options and call the library.

What belongs here: options, help texts, exit codes and wiring to ``headless``, ``project``,
``store`` and the ``terminal`` output layer; no run logic. Exit codes: 0 success, 1 a block
failed, 2 bad input (one ``error: ...`` line on stderr, no traceback), 130 interrupted.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from jupyter_blocks.errors import BlocksError

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


def _errors_as_exit_codes(function: F) -> F:
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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="jupyter-blocks")
def cli() -> None:
    """Mage-style data pipelines built inside Jupyter notebooks."""


@cli.command()
@click.argument("target", type=click.Path())
@click.option("--pipeline", help="Pipeline name, when TARGET is a project folder.")
@click.option("--var", "var", multiple=True, metavar="NAME=VALUE",
              help="A variable (value read as YAML: 3, true, 2020-10-01, text). Repeatable.")
@click.option("-p", "--parameter", "parameters", multiple=True, nargs=2,
              metavar="NAME VALUE", help="A variable, papermill style. Repeatable.")
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
@_errors_as_exit_codes
def run(target: str, pipeline: str | None, var: tuple[str, ...],
        parameters: tuple[tuple[str, str], ...], execution_date: str | None, only: str | None,
        start: str | None, incremental: bool, as_json: bool, quiet: bool, store: str | None,
        resume: str | None, output: str | None, executor: str, workers: int | None,
        scheduler: str | None) -> None:
    """Run a notebook or a project pipeline headless, in this process.

    TARGET is a notebook, a project folder (with --pipeline) or a pipeline folder.
    """
    from jupyter_blocks import headless

    variables = headless.parse_assignments(var)
    variables.update((name, headless.parse_value(value)) for name, value in parameters)
    source = click.get_current_context().get_parameter_source("scheduler")
    if scheduler and executor != "dask" and source == click.core.ParameterSource.COMMANDLINE:
        raise click.UsageError("--scheduler: a Dask scheduler's address goes with --executor dask")
    if output:
        from jupyter_blocks.kernel_run import run_in_kernel

        if executor != "inline":
            raise click.UsageError(f"--executor {executor} runs headless blocks; --output runs "
                                   "the notebook's cells in order in a kernel: drop one of them")

        if execution_date:
            variables["execution_date"] = headless.as_datetime(execution_date,
                                                               "--execution-date")
        written = run_in_kernel(target, output, variables, progress=not quiet and not as_json)
        if not quiet:
            click.echo(f"wrote {written}")
        return
    request = headless.RunRequest(
        target=target, pipeline=pipeline, variables=variables,
        execution_date=headless.as_datetime(execution_date, "--execution-date")
        if execution_date else None,
        only=only, start=start, incremental=incremental, store=store, resume=resume,
        echo=not as_json, executor=executor, workers=workers,
        scheduler=scheduler if executor == "dask" else None)
    sys.exit(_run_and_report(request, as_json=as_json, quiet=quiet))


def _run_and_report(request: Any, *, as_json: bool, quiet: bool) -> int:
    from jupyter_blocks import headless, terminal

    out = sys.stdout
    console = _console(out)
    errors = _console(sys.stderr)
    subscribers: list[Callable[[Any], None]] = []
    live: terminal.LiveProgress | None = None
    if as_json:
        subscribers.append(terminal.json_lines(out))
    elif console.is_terminal and not quiet:
        live = terminal.LiveProgress(console)
        subscribers.append(live)
    elif not quiet:
        subscribers.append(terminal.PlainProgress(out))
    try:
        finished = headless.run(request, subscribers=subscribers)
    finally:
        if live is not None:
            live.close()
    result = finished.result
    if not as_json and not quiet:
        console.print(terminal.summary_table(result))
    if not as_json:
        for line in terminal.failure_report(result, finished.resume):
            errors.print(finished.redact(line), markup=False)
    return EXIT_OK if result.ok else EXIT_FAILED


@cli.command()
@click.argument("target", type=click.Path())
@click.option("--pipeline", help="Pipeline name, when TARGET is a project folder.")
@click.option("--format", "fmt", type=click.Choice(["mermaid", "dot", "svg"]), default="mermaid",
              show_default=True)
@click.option("-o", "--output", type=click.Path(), help="Write to this file instead of stdout.")
@_errors_as_exit_codes
def dag(target: str, pipeline: str | None, fmt: str, output: str | None) -> None:
    """Print or write the DAG of a notebook or a project pipeline (Mermaid, dot or SVG)."""
    from jupyter_blocks import headless, pictures

    graph, types = headless.load_dag(target, pipeline)
    if fmt == "mermaid":
        text = graph.to_mermaid(types=types)
    elif fmt == "dot":
        text = pictures.to_dot(graph, types)
    else:
        text = pictures.to_svg(graph, types)
    if output:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
    else:
        click.echo(text)


@cli.command("export")
@click.argument("notebook", type=click.Path())
@click.option("--project", type=click.Path(), help="Project folder (default: the notebook's).")
@click.option("--pipeline", help="Pipeline name (default: the notebook's name).")
@click.option("--detach", is_flag=True,
              help="Write this pipeline's own copy of block files other pipelines share.")
@click.option("--force", is_flag=True, help="Overwrite block files other pipelines share.")
@_errors_as_exit_codes
def export(notebook: str, project: str | None, pipeline: str | None, detach: bool,
           force: bool) -> None:
    """Export a notebook to a Mage-layout project: metadata.yaml and block files."""
    from jupyter_blocks.project.writer import export_notebook

    if detach and force:
        raise click.UsageError("--detach and --force cannot be combined")
    result = export_notebook(notebook, project, pipeline, detach=detach, force=force)
    for path in result.written:
        click.echo(f"wrote {path}")
    click.echo(f"exported pipeline `{result.pipeline}` to {result.project} "
               f"({len(result.written)} written, {len(result.unchanged)} unchanged)")


@cli.command("import")
@click.argument("project", type=click.Path())
@click.option("--pipeline", help="Pipeline name (optional when the project has one).")
@click.option("-o", "--output", required=True, type=click.Path(), help="Notebook to write.")
@_errors_as_exit_codes
def import_(project: str, pipeline: str | None, output: str) -> None:
    """Build a notebook of %%block cells from a project pipeline (ours or Mage's)."""
    from jupyter_blocks.project.reader import import_pipeline

    click.echo(f"wrote {import_pipeline(project, pipeline, output)}")


@cli.group()
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
@_errors_as_exit_codes
def runs_list(target: str, pipeline: str | None, status: str | None, limit: int,
              store: str | None) -> None:
    """List runs, newest first."""
    from jupyter_blocks import headless, terminal

    found = headless.store_for(target, store).list_runs(pipeline, status, limit)
    _console().print(terminal.runs_table(found))


@runs.command("show")
@click.argument("run_id")
@_target_argument
@_store_option
@_errors_as_exit_codes
def runs_show(run_id: str, target: str, store: str | None) -> None:
    """Show a run: its blocks with a text Gantt of their timings."""
    from jupyter_blocks import headless, terminal

    _console().print(terminal.run_table(headless.store_for(target, store)
                                                      .get_run(run_id)))


@runs.command("logs")
@click.argument("run_id")
@click.argument("block")
@_target_argument
@_store_option
@_errors_as_exit_codes
def runs_logs(run_id: str, block: str, target: str, store: str | None) -> None:
    """Print what a block printed and logged in a run (known secrets shown as ***)."""
    from jupyter_blocks import headless
    from jupyter_blocks.redact import Redactor

    logs = headless.store_for(target, store).block_logs(run_id, block)
    folder = Path(target).parent if Path(target).is_file() else Path(target)
    click.echo(Redactor.for_directory(folder).text(logs), nl=False)


@cli.group()
def cache() -> None:
    """List or empty the output cache of a notebook or project folder."""


@cache.command("ls")
@click.argument("target", type=click.Path(), default=".")
@_errors_as_exit_codes
def cache_ls(target: str) -> None:
    """List cache entries, most recently used first."""
    from jupyter_blocks import headless, terminal

    entries = headless.cache_for(target).disk
    _console().print(terminal.cache_table(entries.entries() if entries else []))


@cache.command("clear")
@click.argument("target", type=click.Path(), default=".")
@_errors_as_exit_codes
def cache_clear(target: str) -> None:
    """Remove every cache entry."""
    from jupyter_blocks import headless

    removed = headless.cache_for(target).clear()
    click.echo(f"removed {removed} cache entries")


def _console(file: Any = None) -> Any:
    """A rich console; off a terminal, wide enough that tables are not cut."""
    from rich.console import Console

    console = Console(file=file or sys.stdout, highlight=False, soft_wrap=True)
    if not console.is_terminal:
        console.width = max(console.width, 160)
    return console


def main() -> None:
    """Entry point of the ``jupyter-blocks`` console script."""
    cli(prog_name="jupyter-blocks")


if __name__ == "__main__":
    main()
