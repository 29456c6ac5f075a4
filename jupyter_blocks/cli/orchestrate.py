"""``schedule`` and ``backfill``: a pipeline's runs in time, from the command line.

What belongs here: the options of these commands, turned into a ``schedule.Scheduler`` or a
``schedule.backfill`` call, and what they print (log lines or JSON lines; tables and the
backfill's progress bar from ``orchestrate_views``). No scheduling logic.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import threading
from pathlib import Path
from typing import Any

import click

from jupyter_blocks.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_OK,
    DefaultGroup,
    allow_unused_vars,
    check_given_variables,
    console,
    errors_as_exit_codes,
)
from jupyter_blocks.core.errors import ConfigError

_store_option = click.option("--store", envvar="JUPYTER_BLOCKS_STORE", metavar="URL",
                             help="Run store (SQLAlchemy URL; default: each pipeline's "
                             ".jupyter_blocks/runs.sqlite).")
_executor_options = [
    click.option("--executor", type=click.Choice(["inline", "threads", "processes", "dask"]),
                 default="inline", show_default=True,
                 help="Where each run's blocks run, as for `run`."),
    click.option("--workers", type=click.IntRange(min=1), metavar="N",
                 help="Blocks at once per run (threads, processes, local Dask workers)."),
    click.option("--scheduler", "dask_scheduler", envvar="DASK_SCHEDULER_ADDRESS",
                 metavar="ADDRESS", help="With --executor dask: the Dask scheduler."),
]


def _executor(function: Any) -> Any:
    for option in reversed(_executor_options):
        function = option(function)
    return function


@click.group(cls=DefaultGroup, default="start")
def schedule() -> None:
    r"""Run pipelines' time triggers until stopped, or list them.

    \b
    jupyter-blocks schedule TARGET...         run due triggers until SIGTERM or Ctrl-C
    jupyter-blocks schedule TARGET... --once  run what is due now, wait for it, exit
    jupyter-blocks schedule list TARGET...    every trigger, its next fire time, its last run
    """


@schedule.command("start", hidden=True)
@click.argument("targets", nargs=-1, required=True, type=click.Path())
@click.option("--once", is_flag=True,
              help="Run what is due now, wait for it and exit (for cron, systemd timers, "
              "Kubernetes CronJobs); exit code 1 when a run failed.")
@click.option("--api", "api_port", type=click.IntRange(0, 65535), metavar="PORT",
              help="Also serve the API trigger on PORT (bearer token from "
              "$JUPYTER_BLOCKS_API_TOKEN).")
@click.option("--api-host", default="127.0.0.1", show_default=True,
              help="Address the API listens on.")
@click.option("--json", "as_json", is_flag=True, help="Log JSON lines.")
@click.option("--poll", type=click.FloatRange(min=0.01), default=1.0, show_default=True,
              metavar="SECONDS", help="How often triggers and the pipelines' files are read.")
@click.option("--lead", type=click.FloatRange(min=0.0), default=2.0, show_default=True,
              metavar="SECONDS", help="How long before its tick a run's process starts "
              "(imports and loading done by the tick).")
@click.option("--grace", type=click.FloatRange(min=0.0), default=30.0, show_default=True,
              metavar="SECONDS", help="How long stopped runs have to end before they are killed.")
@_store_option
@_executor
@errors_as_exit_codes
def schedule_start(targets: tuple[str, ...], once: bool, api_port: int | None, api_host: str,
                   as_json: bool, poll: float, lead: float, grace: float, store: str | None,
                   executor: str, workers: int | None, dask_scheduler: str | None) -> None:
    """Run the due triggers of TARGET... (notebooks, project folders) until stopped."""
    from jupyter_blocks.schedule.scheduler import Scheduler, install_stop_signals

    token = os.environ.get("JUPYTER_BLOCKS_API_TOKEN", "")
    if api_port is not None and not token.strip():
        raise ConfigError("--api needs a token: set JUPYTER_BLOCKS_API_TOKEN (callers send it "
                          "as Authorization: Bearer <token>)")
    if api_port is not None and once:
        raise click.UsageError("--api serves until stopped; --once exits when its runs end: "
                               "drop one of them")
    scheduler = Scheduler(list(targets), store=store, executor=executor, workers=workers,
                          scheduler=dask_scheduler if executor == "dask" else None,
                          lead=lead, grace=grace, log=_logger(as_json))
    if once:
        sys.exit(EXIT_OK if scheduler.once() else EXIT_FAILED)
    stop = threading.Event()
    install_stop_signals(stop)
    server = None
    if api_port is not None:
        from jupyter_blocks.schedule.api import PREFIX, serve_api

        try:
            server = serve_api(scheduler, api_port, token.strip(), api_host)
        except OSError as exc:
            raise ConfigError(f"--api {api_port}: cannot listen on {api_host}: "
                              f"{exc.strerror or exc}") from None
        host, port = str(server.server_address[0]), server.server_address[1]
        scheduler.say("api_listening", url=f"http://{host}:{port}{PREFIX}")
    try:
        scheduler.serve(stop, poll=poll)
    finally:
        if server is not None:
            server.shutdown()
    sys.exit(EXIT_OK)


@schedule.command("list")
@click.argument("targets", nargs=-1, required=True, type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")
@_store_option
@errors_as_exit_codes
def schedule_list(targets: tuple[str, ...], as_json: bool, store: str | None) -> None:
    """Every trigger of TARGET...: its schedule, next fire time and last run's status."""
    from jupyter_blocks.schedule.scheduler import Scheduler

    rows = Scheduler(list(targets), store=store).listing()
    if as_json:
        for row in rows:
            click.echo(json.dumps(row, default=str))
        return
    from jupyter_blocks.cli.orchestrate_views import triggers_table

    console().print(triggers_table(rows, dt.datetime.now().astimezone().tzinfo))


def _logger(as_json: bool) -> Any:
    from jupyter_blocks.cli.progress import log_line

    def log(record: dict[str, Any]) -> None:
        line = json.dumps(record, default=str) if as_json else log_line(record)
        click.echo(line)
        sys.stdout.flush()

    return log


# -- backfill ---------------------------------------------------------------------------------


@click.group(cls=DefaultGroup, default="start")
def backfill() -> None:
    r"""Run a pipeline once per interval of a stretch of time; list, show or resume backfills.

    \b
    jupyter-blocks backfill TARGET --start 2020-10-01 --end 2021-01-01 --interval day
    jupyter-blocks backfill list [TARGET]
    jupyter-blocks backfill show ID [TARGET]
    jupyter-blocks backfill resume ID [TARGET]

    The intervals are those starting in [--start, --end): the end is excluded (Mage includes
    it; --include-end does too). Intervals that succeeded with the same code are not run
    again, so the same command finishes a backfill that was stopped or failed.
    """


_bounds = [
    click.option("--parallel", type=click.IntRange(min=1), default=1, show_default=True,
                 metavar="N", help="Intervals at once."),
    click.option("--processes", "in_processes", is_flag=True,
                 help="Run each interval in a process of its own (CPU-bound blocks)."),
    click.option("--json", "as_json", is_flag=True, help="Print progress as JSON lines."),
]


def _backfill_options(function: Any) -> Any:
    for option in reversed(_bounds):
        function = option(function)
    return _executor(_store_option(function))


@backfill.command("start", hidden=True)
@click.argument("target", type=click.Path())
@click.option("--pipeline", help="Pipeline name, when TARGET is a project folder.")
@click.option("--start", "start", required=True, metavar="DATE",
              help="The first interval's start (2020-10-01 or 2020-10-01T06:00).")
@click.option("--end", "end", required=True, metavar="DATE",
              help="Intervals start before it (excluded, unless --include-end).")
@click.option("--interval", "every", required=True, metavar="UNIT|CRON",
              help="hour, day, week, month, or a cron expression ('0 5 * * *').")
@click.option("--include-end", is_flag=True, help="Also the interval starting at --end, "
              "as Mage does.")
@click.option("--var", "var", multiple=True, metavar="NAME=VALUE",
              help="A variable of every run (value read as YAML). Repeatable.")
@allow_unused_vars
@_backfill_options
@errors_as_exit_codes
def backfill_start(target: str, pipeline: str | None, start: str, end: str, every: str,
                   include_end: bool, var: tuple[str, ...], parallel: int, in_processes: bool,
                   as_json: bool, store: str | None, executor: str, workers: int | None,
                   dask_scheduler: str | None, allow_unused_vars: bool) -> None:
    """Run TARGET once per interval from --start to --end."""
    from jupyter_blocks.project.loading import load_pipeline
    from jupyter_blocks.runner.values import parse_assignments
    from jupyter_blocks.runner.variables import as_datetime

    first, last = as_datetime(start, "--start"), as_datetime(end, "--end")
    variables = parse_assignments(var)
    loaded = load_pipeline(target, pipeline).require_blocks()
    check_given_variables(loaded, {name: f"--var {name}" for name in variables},
                          allow_unused_vars)
    _run_backfill(loaded, first, last, every, variables, include_end=include_end,
                  parallel=parallel, in_processes=in_processes, as_json=as_json, store=store,
                  executor=executor, workers=workers, dask_scheduler=dask_scheduler)


@backfill.command("resume")
@click.argument("backfill_id")
@click.argument("target", type=click.Path(), default=".")
@click.option("--pipeline", help="Pipeline name, when TARGET is a project folder.")
@_backfill_options
@errors_as_exit_codes
def backfill_resume(backfill_id: str, target: str, pipeline: str | None, parallel: int,
                    in_processes: bool, as_json: bool, store: str | None, executor: str,
                    workers: int | None, dask_scheduler: str | None) -> None:
    """Finish backfill BACKFILL_ID: run its failed, interrupted and pending intervals."""
    from jupyter_blocks.history.orchestration import moment
    from jupyter_blocks.project.loading import is_notebook_target, load_pipeline

    found = _backfill_record(backfill_id, target, store)
    recorded = found.get("target")
    source = recorded if recorded and Path(recorded).exists() else target
    loaded = load_pipeline(source, None if is_notebook_target(source)
                           else pipeline or found["pipeline"])
    if loaded.name != found["pipeline"]:
        raise ConfigError(f"backfill {backfill_id} is of pipeline `{found['pipeline']}`, not "
                          f"`{loaded.name}`: pass its notebook or project")
    start, end = moment(found["start_at"]), moment(found["end_at"])
    assert start is not None and end is not None
    naive = start.utcoffset() == dt.timedelta(0)
    if naive:  # the bounds were given without an offset: UTC wall-clock time
        start, end = start.replace(tzinfo=None), end.replace(tzinfo=None)
    last = found["intervals"][-1]["starts"] if found["intervals"] else None
    include_end = last is not None and moment(last) == moment(found["end_at"])
    if found["status"] == "success":
        click.echo(f"backfill {backfill_id} has succeeded: nothing to resume")
        sys.exit(EXIT_OK)
    _run_backfill(loaded, start, end, found["every"], found["variables"],
                  include_end=include_end, parallel=parallel, in_processes=in_processes,
                  as_json=as_json, store=store, executor=executor, workers=workers,
                  dask_scheduler=dask_scheduler, resume=backfill_id)


@backfill.command("list")
@click.argument("target", type=click.Path(), default=".")
@click.option("--pipeline", help="Only backfills of this pipeline.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")
@_store_option
@errors_as_exit_codes
def backfill_list(target: str, pipeline: str | None, as_json: bool, store: str | None) -> None:
    """Backfills, newest first, with their intervals counted by status."""
    from jupyter_blocks.cli.history import store_for

    rows = store_for(target, store).orchestration().backfills(pipeline)
    if as_json:
        for row in rows:
            click.echo(json.dumps(row, default=str))
        return
    from jupyter_blocks.cli.orchestrate_views import backfills_table

    console().print(backfills_table(rows))


@backfill.command("show")
@click.argument("backfill_id")
@click.argument("target", type=click.Path(), default=".")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_store_option
@errors_as_exit_codes
def backfill_show(backfill_id: str, target: str, as_json: bool, store: str | None) -> None:
    """A backfill and each of its intervals: status, run, error."""
    found = _backfill_record(backfill_id, target, store)
    if as_json:
        click.echo(json.dumps(found, default=str))
        return
    from jupyter_blocks.cli.orchestrate_views import backfill_table

    console().print(backfill_table(found))


def _backfill_record(backfill_id: str, target: str, store: str | None) -> dict[str, Any]:
    from jupyter_blocks.cli.history import store_for
    from jupyter_blocks.core.errors import did_you_mean

    orchestration = store_for(target, store).orchestration()
    found: dict[str, Any] | None = orchestration.backfill(backfill_id)
    if found is None:
        known = [row["backfill_id"] for row in orchestration.backfills(limit=1000)]
        raise ConfigError(f"no backfill `{backfill_id}` in the run store of {target}"
                          + did_you_mean(backfill_id, known))
    return found


def _run_backfill(pipeline: Any, start: dt.datetime, end: dt.datetime, every: str,
                  variables: dict[str, Any], *, include_end: bool, parallel: int,
                  in_processes: bool, as_json: bool, store: str | None, executor: str,
                  workers: int | None, dask_scheduler: str | None,
                  resume: str | None = None) -> None:
    from jupyter_blocks.schedule.backfill import backfill as run_backfill
    from jupyter_blocks.schedule.backfill import resume_command

    # Kept now: while blocks run in this process, sys.stdout is routed to their output.
    out = sys.stdout
    shown = console(out)
    view: Any
    if as_json:
        def view(record: dict[str, Any]) -> None:
            out.write(json.dumps(record, default=str) + "\n")
            out.flush()
    else:
        from jupyter_blocks.cli.orchestrate_views import BackfillProgress

        view = BackfillProgress(shown, live=shown.is_terminal, stream=out)
    try:
        result = run_backfill(
            pipeline, start, end, every, variables=variables, parallel=parallel,
            mode="processes" if in_processes else "threads", include_end=include_end,
            store=store, executor=executor, workers=workers,
            scheduler=dask_scheduler if executor == "dask" else None, listener=view,
            resume=resume)
    finally:
        if not as_json:
            view.close()
    if not as_json:
        from jupyter_blocks.cli.orchestrate_views import backfill_summary

        for line in backfill_summary(result):
            click.echo(line)
        if not result.ok:
            click.echo(f"resume with: {resume_command(result, pipeline)}", err=True)
    sys.exit(EXIT_OK if result.ok else EXIT_FAILED)


__all__ = ["EXIT_BAD_INPUT", "backfill", "schedule"]
