"""Backfills: one run per interval of a stretch of time, resumable, N intervals at once.

What belongs here: :func:`backfill` (cut the stretch into intervals, record them in the run
store, skip those that already succeeded with the same code, run the others through the one run
assembly with each interval's ``execution_date``, ``ds``, ``hr`` and ``interval_*`` variables,
and record how each ended), :func:`pipeline_code` (the code fingerprint that decides "the same
code") and the events a progress display reads.

Bounds: the intervals whose start lies in ``[start, end)`` run, so ``--start 2020-10-01 --end
2021-01-01 --interval day`` is the 92 days of 2020's last quarter (Mage includes the end:
``include_end=True`` does too). See ``intervals``.

Resuming: the intervals live in the store (``jb_backfill_intervals``) with their run and status.
A killed backfill, run again with the same arguments (or ``backfill resume ID``), finishes what
is left: succeeded intervals are not redone, failed and interrupted ones run again (resuming
their run, so their finished blocks are not redone either).
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import hashlib
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from jupyter_blocks.core.errors import BlocksError, ConfigError
from jupyter_blocks.core.pipeline import Pipeline
from jupyter_blocks.schedule.intervals import Interval, intervals

#: Where intervals run when ``parallel`` > 1: threads of this process, or processes of their own.
MODES = ("threads", "processes")
Listener = Callable[[dict[str, Any]], None]


@dataclass
class IntervalOutcome:
    """How one interval of a backfill ended.

    Attributes:
        start: The interval's start (its runs's ``execution_date``).
        end: Its end.
        status: ``success``, ``failed``, ``interrupted``, or ``done before`` (it had succeeded
            with the same code, in this backfill or another).
        run_id: Its run.
        error: The first failed block and its error, in one line.
        seconds: How long its run took.
    """

    start: dt.datetime
    end: dt.datetime | None
    status: str
    run_id: str | None = None
    error: str | None = None
    seconds: float | None = None


@dataclass
class BackfillResult:
    """A finished backfill: its id, whether it resumed an earlier one, and every interval."""

    backfill_id: str
    pipeline: str
    resumed: bool
    intervals: list[IntervalOutcome] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every interval has succeeded (now or before)."""
        return all(i.status in ("success", "done before") for i in self.intervals)

    def count(self, status: str) -> int:
        """How many intervals ended with ``status``."""
        return sum(1 for i in self.intervals if i.status == status)


def pipeline_code(pipeline: Pipeline) -> str:
    """A fingerprint of what the pipeline computes: each block's code, options and upstreams.

    Comments and formatting do not count (as for cache keys), so a reformatted notebook still
    skips the intervals it finished.
    """
    from jupyter_blocks.cache.keys import code_fingerprint

    parts = sorted((spec.name, code_fingerprint(spec, spec.type or ""), list(spec.upstream),
                    list(spec.on)) for spec in pipeline.dag)
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]


def backfill(pipeline: Pipeline, start: dt.datetime, end: dt.datetime, every: str, *,
             variables: Mapping[str, Any] | None = None, parallel: int = 1,
             mode: str = "threads", include_end: bool = False, store: str | None = None,
             executor: str = "inline", workers: int | None = None,
             scheduler: str | None = None, listener: Listener | None = None,
             alerts: bool = True, resume: str | None = None) -> BackfillResult:
    """Run one run of ``pipeline`` per interval of ``[start, end)``, or finish the same backfill.

    Args:
        pipeline: The pipeline (from ``load_pipeline``).
        start: The first interval's start.
        end: Intervals start before it (at it too with ``include_end``).
        every: ``hour``, ``day``, ``week``, ``month`` or a cron expression.
        variables: Variables of every run (over the pipeline's defaults).
        parallel: How many intervals run at once.
        mode: ``threads`` (in this process) or ``processes`` (each run in its own).
        include_end: Also run the interval starting at ``end``, as Mage does.
        store: The run store's URL (None: the pipeline's).
        executor: The executor of each run's blocks (``dask`` with ``scheduler`` sends them to
            a Dask cluster), with ``workers``.
        workers: See ``executor``.
        scheduler: See ``executor``.
        listener: Called with each progress event (a dict with ``event``).
        alerts: Send one alert when the backfill ends with failed intervals, as the pipeline's
            ``notification_config`` asks for failures.
        resume: Finish this backfill (``backfill resume ID``): its succeeded intervals stay,
            even if the code changed since; the others run.

    Raises:
        ConfigError: Bad bounds, interval or mode (nothing runs).
        BlocksError: Bad input found when the first run is put together.
        KeyboardInterrupt: After the intervals in progress are recorded interrupted.
    """
    from jupyter_blocks.history.store import RunStore

    if mode not in MODES:
        raise ConfigError(f"backfill mode `{mode}` is not one of {', '.join(MODES)}")
    if parallel < 1:
        raise ConfigError(f"--parallel must be at least 1, got {parallel}")
    cut = intervals(start, end, every, include_end=include_end)
    if not cut:
        raise ConfigError(f"no interval of {every} starts in [{start.isoformat()}, "
                          f"{end.isoformat()}): pick a later --end")
    values = dict(variables or {})
    opened = RunStore.for_directory(pipeline.directory, store)
    orchestration = opened.orchestration()
    code = pipeline_code(pipeline)
    if resume is not None:
        orchestration.take_over(resume, socket.gethostname(), os.getpid())
        backfill_id, resumed = resume, True
    else:
        backfill_id, resumed = orchestration.open_backfill(
            uuid.uuid4().hex[:12], pipeline.name, _target_of(pipeline),
            start, end, every, values, code, [(i.start, i.end or i.start) for i in cut],
            host=socket.gethostname(), pid=os.getpid())
    plan = _Plan(pipeline, backfill_id, resumed, code, values, cut, opened, store, listener)
    plan.sort(orchestration, keep_own=resume is not None)
    runner = _IntervalRunner(plan, mode, executor, workers, scheduler)
    plan.say("backfill_started", backfill_id=backfill_id, pipeline=pipeline.name,
             resumed=resumed, total=len(cut), to_run=len(plan.todo), done_before=len(plan.done),
             parallel=parallel)
    status = "failed"
    try:
        if parallel == 1:
            for interval in plan.todo:
                runner(interval)
        else:
            with concurrent.futures.ThreadPoolExecutor(parallel, "jupyter-blocks-backfill") as pool:
                futures = [pool.submit(runner, interval) for interval in plan.todo]
                try:
                    for future in concurrent.futures.as_completed(futures):
                        future.result()
                except BaseException:
                    runner.stopping.set()
                    for future in futures:
                        future.cancel()
                    raise
        status = "success" if plan.result.ok else "failed"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        orchestration.backfill_done(backfill_id, status)
        plan.result.intervals.sort(key=lambda i: _key(i.start))
        plan.say("backfill_finished", backfill_id=backfill_id, status=status,
                 succeeded=plan.result.count("success"), failed=plan.result.count("failed"),
                 done_before=plan.result.count("done before"),
                 interrupted=plan.result.count("interrupted"))
    if alerts and not plan.result.ok:
        _alert(plan)
    return plan.result


class _Plan:
    """What a backfill runs and what it has recorded, shared by the threads running it."""

    def __init__(self, pipeline: Pipeline, backfill_id: str, resumed: bool, code: str,
                 variables: dict[str, Any], cut: list[Interval], store: Any,
                 store_url: str | None, listener: Listener | None) -> None:
        self.pipeline, self.backfill_id, self.code = pipeline, backfill_id, code
        self.variables, self.cut, self.store, self.store_url = variables, cut, store, store_url
        self.listener = listener
        self.result = BackfillResult(backfill_id, pipeline.name, resumed)
        self.todo: list[Interval] = []
        self.done: list[Interval] = []
        #: interval start (stamp) -> the run to resume
        self.resume: dict[str, str] = {}
        self.lock = threading.Lock()

    def sort(self, orchestration: Any, *, keep_own: bool = False) -> None:
        """Split the intervals into those done before and those to run (resuming their runs).

        With ``keep_own``, this backfill's succeeded intervals are done whatever the code.
        """
        from jupyter_blocks.history.orchestration import stamp

        recorded = {row["starts"]: row for row in
                    (orchestration.backfill(self.backfill_id) or {}).get("intervals", [])}
        succeeded = orchestration.succeeded_intervals(self.pipeline.name, self.variables,
                                                      self.code)
        for interval in self.cut:
            starts, ends = stamp(interval.start), stamp(interval.end or interval.start)
            row = recorded.get(starts)
            own = keep_own and row is not None and row["status"] in ("success", "done before")
            if own or (starts, ends) in succeeded:
                self.done.append(interval)
                self.result.intervals.append(IntervalOutcome(
                    interval.start, interval.end, "done before",
                    row["run_id"] if row and row["status"] == "success" else None))
                if row is not None and row["status"] != "success":
                    orchestration.interval_done(self.backfill_id, interval.start, "done before",
                                                None, self.code)
                continue
            if row is not None and row["run_id"] and row["code"] == self.code \
                    and row["status"] in ("failed", "interrupted", "running") \
                    and self._recorded(row["run_id"]):
                self.resume[starts] = row["run_id"]
            self.todo.append(interval)

    def _recorded(self, run_id: str) -> bool:
        """Whether the run store has the run (a process killed as it began has none)."""
        try:
            self.store.get_run(run_id)
        except BlocksError:
            return False
        return True

    def say(self, event: str, **fields: Any) -> None:
        if self.listener is not None:
            self.listener({"event": event, "time": time.time(), **fields})


class _IntervalRunner:
    """Runs one interval (in this thread, or in a child process) and records how it ended."""

    def __init__(self, plan: _Plan, mode: str, executor: str, workers: int | None,
                 scheduler: str | None) -> None:
        self.plan, self.mode = plan, mode
        self.executor, self.workers, self.scheduler = executor, workers, scheduler
        self.stopping = threading.Event()

    def __call__(self, interval: Interval) -> None:
        from jupyter_blocks.history.orchestration import stamp

        plan = self.plan
        if self.stopping.is_set():
            return
        orchestration = plan.store.orchestration()
        resume = plan.resume.get(stamp(interval.start))
        run_id = resume or uuid.uuid4().hex[:12]
        orchestration.interval_done(plan.backfill_id, interval.start, "running", run_id,
                                    plan.code)
        plan.say("interval_started", start=interval.start.isoformat(), run_id=run_id,
                 resumed=resume is not None)
        began = time.perf_counter()
        outcome = IntervalOutcome(interval.start, interval.end, "interrupted", run_id)
        try:
            if self.mode == "processes":
                outcome.status, outcome.error = self._in_process(interval, run_id, resume)
            else:
                outcome.status, outcome.error = self._here(interval, run_id, resume)
        except BlocksError as exc:
            outcome.status, outcome.error = "failed", str(exc)
            raise
        finally:
            outcome.seconds = round(time.perf_counter() - began, 3)
            orchestration.interval_done(plan.backfill_id, interval.start, outcome.status,
                                        run_id, plan.code, outcome.error)
            with plan.lock:
                plan.result.intervals.append(outcome)
            plan.say("interval_finished", start=interval.start.isoformat(), run_id=run_id,
                     status=outcome.status, error=outcome.error, seconds=outcome.seconds)

    def _here(self, interval: Interval, run_id: str, resume: str | None
              ) -> tuple[str, str | None]:
        from jupyter_blocks.runner.run import RunRequest, run
        from jupyter_blocks.runner.selection import Selection

        plan = self.plan
        request = RunRequest(
            plan.pipeline, Selection.everything(), variables=plan.variables,
            execution_date=interval.start, interval_end=interval.end,
            trigger=f"backfill:{plan.backfill_id}", run_id=None if resume else run_id,
            resume=resume, store=plan.store, echo=False, executor=self.executor,
            workers=self.workers, scheduler=self.scheduler)
        finished = run(request)
        result = finished.result
        if result.ok:
            return "success", None
        if result.failed:
            first = result.failed[0]
            return "failed", _one_line(f"block `{first.name}`: {first.error or 'failed'}")
        return result.status, None

    def _in_process(self, interval: Interval, run_id: str, resume: str | None
                    ) -> tuple[str, str | None]:
        from jupyter_blocks.schedule.launch import FAILED, SUCCESS, Launch, spawn

        plan = self.plan
        pipeline = plan.pipeline
        project = pipeline.project[1] if pipeline.project is not None else None
        launch = Launch(
            target=pipeline.target or str(pipeline.directory), pipeline=project,
            trigger=f"backfill:{plan.backfill_id}", run_id=run_id, resume=resume,
            execution_date=interval.start.isoformat(),
            interval_end=interval.end.isoformat() if interval.end else None,
            variables=plan.variables, store=plan.store_url, executor=self.executor,
            workers=self.workers, scheduler=self.scheduler, alerts=False)
        child = spawn(launch)
        try:
            code = child.wait()
        except BaseException:
            child.terminate()
            child.wait()
            raise
        if code == SUCCESS:
            return "success", None
        if code == FAILED:
            run = plan.store.get_run(run_id)
            failed = [b for b in run["blocks"] if b["status"] == "failed"]
            if failed:
                return "failed", _one_line(f"block `{failed[0]['block']}`: "
                                           f"{failed[0]['error'] or 'failed'}")
            return "failed", None
        return "interrupted" if code in (130, -15) else "failed", \
            None if code in (130, -15) else f"its process exited with code {code}"


def resume_command(result: BackfillResult, pipeline: Pipeline) -> str:
    """The command that resumes a backfill (runs what did not succeed)."""
    import shlex

    words = ["jupyter-blocks", "backfill", "resume", result.backfill_id,
             pipeline.target or str(pipeline.directory)]
    if pipeline.project is not None and pipeline.target and \
            not pipeline.target.rstrip("/").endswith(f"pipelines/{pipeline.project[1]}"):
        words += ["--pipeline", pipeline.project[1]]
    return shlex.join(words)


def _alert(plan: _Plan) -> None:
    from jupyter_blocks.schedule.notify import alert_backfill

    failed = [i for i in plan.result.intervals if i.status != "success"
              and i.status != "done before"]
    first = failed[0]
    summary = (f"{len(failed)} of {len(plan.result.intervals)} intervals did not succeed; "
               f"first: {first.start.isoformat()} ({first.status}"
               + (f": {first.error}" if first.error else "") + ")")
    alert_backfill(plan.pipeline, plan.backfill_id, summary,
                   resume_command(plan.result, plan.pipeline), store=plan.store)


def _target_of(pipeline: Pipeline) -> str:
    """The pipeline's notebook or folder, absolute, so ``backfill resume`` finds it anywhere."""
    from pathlib import Path

    return str(Path(pipeline.target).resolve()) if pipeline.target else str(pipeline.directory)


def _one_line(text: str) -> str:
    from jupyter_blocks.schedule.alerts import one_line

    return one_line(text)


def _key(moment: dt.datetime) -> float:
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)).timestamp()
