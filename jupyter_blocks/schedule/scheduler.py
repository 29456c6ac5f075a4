"""The scheduler: runs the due ticks of every active time trigger of its pipelines until stopped.

What belongs here: :class:`Scheduler`: one pass over the triggers of the pipelines it watches
(``watched``'s), the runs it started and what became of them, stopping. The time it reads is
``clock``'s, when a tick is due ``ticks``', starting a run ``launch``'s; the lines its log
records become are the CLI's.

How a tick becomes one run, never two: the scheduler claims it in the run store (a row whose
key is pipeline, trigger and tick; the insert of a second scheduler fails) and only the one that
claimed it starts the run, in a process of its own. It claims ticks up to ``lead`` seconds ahead
and starts the process then, so the run begins on time with its imports done; a scheduler
stopped before its run began gives the claim back.

What the store remembers per trigger (``jb_trigger_state``) makes restarts safe: the tick last
run, and since when the trigger has its current schedule. A new, edited or re-activated
trigger's first run is its next tick; after a pause only the latest missed tick runs, unless the
trigger says ``catchup: true``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_blocks.core.errors import BlocksError, ConfigError
from jupyter_blocks.project.triggers import Trigger
from jupyter_blocks.schedule import ticks
from jupyter_blocks.schedule.clock import CLOCK_ENV, Clock
from jupyter_blocks.schedule.launch import OUTCOMES, SKIPPED, SUCCESS, TIMED_OUT, Launch, spawn
from jupyter_blocks.schedule.watched import (
    Watched,
    load_watched,
    pipelines_of,
    run_label,
    trigger_fingerprint,
)

_UTC = dt.timezone.utc


@dataclass
class Running:
    """A run the scheduler started (its process), until the process ends."""

    process: subprocess.Popen[bytes]
    launch: Launch
    watched: Watched
    trigger: Trigger | None
    tick: dt.datetime | None
    previous_tick: dt.datetime | None
    deadline: float | None
    sla: dt.datetime | None
    started: float = field(default_factory=time.time)
    late: bool = False


class Scheduler:
    """Runs the due ticks of the active time triggers of some pipelines.

    Args:
        targets: Notebooks and project folders.
        store: The run store's URL for every pipeline (None: each one's own, beside it).
        executor: The executor of the runs' blocks (``run``'s ``--executor``), with ``workers``
            and the Dask ``scheduler`` address.
        clock: The time (default: real, or ``$JUPYTER_BLOCKS_CLOCK``).
        lead: Seconds ahead a run's process is started, so the run begins on its tick.
        log: Called with each thing worth a line in the scheduler's log (a dict with
            ``event``; see :meth:`say`).
        grace: Seconds a stopped run has to end before it is killed.

    Raises:
        BlocksError: A target cannot be read or its settings are not valid (nothing runs).
    """

    def __init__(self, targets: Sequence[str], *, store: str | None = None,
                 executor: str = "inline", workers: int | None = None,
                 scheduler: str | None = None, clock: Clock | None = None, lead: float = 2.0,
                 log: Callable[[dict[str, Any]], None] | None = None,
                 grace: float = 30.0) -> None:
        self.store_url = store
        self.executor, self.workers, self.dask_scheduler = executor, workers, scheduler
        self.clock = clock if clock is not None else Clock.from_environment()
        self.lead = lead
        self.grace = grace
        self.log = log or (lambda record: None)
        self.me = f"{socket.gethostname()}:{os.getpid()}"
        self.running: list[Running] = []
        self._lock = threading.RLock()
        self._stores: dict[Path, Any] = {}
        self.watched = [load_watched(target, name) for target, name in pipelines_of(targets)]
        names = [w.pipeline.name for w in self.watched]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ConfigError("two scheduled pipelines are both named "
                              + ", ".join(f"`{name}`" for name in twice)
                              + ": pass one of them (the run history keys runs by name)")

    # -- what is watched ----------------------------------------------------------------------

    def reload(self) -> None:
        """Reload each pipeline whose files changed; a broken edit keeps the last good one."""
        for watched in self.watched:
            if not watched.changed():
                continue
            try:
                fresh = load_watched(watched.target, watched.name)
            except BlocksError as exc:
                if str(exc) != watched.problem:
                    watched.problem = str(exc)
                    self.say("pipeline_problem", pipeline=watched.pipeline.name,
                              error=self.redactor_for(watched)(str(exc)),
                              detail="its last good version stays scheduled")
                continue
            watched.pipeline, watched.problem = fresh.pipeline, None
            self.say("pipeline_reloaded", pipeline=watched.pipeline.name)

    def store_of(self, watched: Watched, *, create: bool = True) -> Any:
        """The run store of a watched pipeline (opened once).

        Without ``create``, None when it has none yet: reading creates nothing.
        """
        directory = watched.pipeline.directory
        found = self._stores.get(directory)
        if found is None:
            from jupyter_blocks.core.errors import ConfigError
            from jupyter_blocks.history.store import RunStore

            try:
                found = RunStore.for_directory(directory, self.store_url) if create \
                    else RunStore.existing(directory, self.store_url)
            except ConfigError:
                if create:
                    raise
                return None
            self._stores[directory] = found
        return found

    def find(self, name: str) -> Watched | None:
        """The watched pipeline named ``name``."""
        return next((w for w in self.watched if w.pipeline.name == name), None)

    # -- one pass -----------------------------------------------------------------------------

    def step(self, *, ahead: float | None = None) -> list[Running]:
        """Start the runs of every tick due now (or within ``ahead`` seconds: default ``lead``).

        A tick another scheduler claimed first is left to it.
        """
        ahead = self.lead if ahead is None else ahead
        now = self.clock.now()
        horizon = now + dt.timedelta(seconds=ahead * self.clock.speed)
        started: list[Running] = []
        for watched in self.watched:
            orchestration = self.store_of(watched).orchestration()
            for trigger in watched.triggers:
                if trigger.schedule_type != "time" or trigger.status != "active":
                    continue
                since, last = orchestration.trigger_state(
                    watched.pipeline.name, trigger.name, trigger_fingerprint(trigger), now)
                for tick in ticks.due_ticks(trigger, last, horizon, active_since=since):
                    running = self._claim_and_start(watched, trigger, tick, last, now)
                    last = tick
                    if running is not None:
                        started.append(running)
        return started

    def _claim_and_start(self, watched: Watched, trigger: Trigger, tick: dt.datetime,
                         previous: dt.datetime | None, now: dt.datetime) -> Running | None:
        orchestration = self.store_of(watched).orchestration()
        run_id = uuid.uuid4().hex[:12]
        name = watched.pipeline.name
        if not orchestration.claim(name, trigger.name, tick, run_id, self.me):
            orchestration.ticked(name, trigger.name, tick)
            return None
        orchestration.ticked(name, trigger.name, tick)
        interval = ticks.tick_interval(trigger, tick)
        start, end = interval.start, interval.end
        if trigger.timezone is None:  # UTC wall-clock time, as a run's --execution-date
            start = start.astimezone(_UTC).replace(tzinfo=None)
            end = end.astimezone(_UTC).replace(tzinfo=None) if end is not None else None
        settings = trigger.trigger_settings
        concurrency = getattr(watched.pipeline.settings, "concurrency_config", None)
        limit = settings.pipeline_run_limit or getattr(concurrency, "pipeline_run_limit", None)
        launch = Launch(
            target=watched.target, pipeline=watched.name, trigger=run_label(trigger),
            run_id=run_id, tick=tick.isoformat(), execution_date=start.isoformat(),
            interval_end=end.isoformat() if end is not None else None,
            variables=dict(trigger.variables or {}), store=self.store_url,
            executor=self.executor, workers=self.workers, scheduler=self.dask_scheduler,
            at=self.clock.epoch(tick) if tick > now else None,
            skip_if_running=settings.skip_if_previous_running, run_limit=limit,
            skip_at_limit=getattr(concurrency, "on_pipeline_run_limit_reached", "wait") == "skip",
            timeout=settings.timeout, timeout_status=settings.timeout_status)
        return self._start(launch, watched, trigger, tick, previous)

    def _start(self, launch: Launch, watched: Watched, trigger: Trigger | None,
               tick: dt.datetime | None, previous: dt.datetime | None = None) -> Running:
        process = spawn(launch)
        begins = launch.at if launch.at is not None else time.time()
        deadline = begins + launch.timeout + self.grace if launch.timeout else None
        sla = ticks.sla_deadline(trigger, tick) if trigger is not None and tick else None
        running = Running(process, launch, watched, trigger, tick, previous, deadline, sla)
        with self._lock:
            self.running.append(running)
        self.say("run_scheduled" if launch.at else "run_started", pipeline=watched.pipeline.name,
                  run_id=launch.run_id, trigger=launch.trigger, tick=launch.tick,
                  execution_date=launch.execution_date)
        if tick is not None and trigger is not None:
            self.store_of(watched).orchestration().claim_status(
                watched.pipeline.name, trigger.name, tick, "started")
        return running

    def start_api_run(self, launch: Launch, watched: Watched) -> Running:
        """Start a run asked for over HTTP (``schedule.api``); it is tracked like the others."""
        return self._start(launch, watched, None, None)

    # -- runs in progress ---------------------------------------------------------------------

    def reap(self) -> list[Running]:
        """Deal with runs whose process ended, runs past their SLA and runs past their timeout.

        Returns the runs that ended.
        """
        ended: list[Running] = []
        with self._lock:
            current = list(self.running)
        for running in current:
            code = running.process.poll()
            if code is None:
                self._watch_live(running)
                continue
            with self._lock:
                self.running.remove(running)
            ended.append(running)
            self._finished(running, code)
        return ended

    def _watch_live(self, running: Running) -> None:
        if running.sla is not None and not running.late and self.clock.now() > running.sla:
            self._late(running)
        if running.deadline is not None and time.time() > running.deadline:
            # The run did not stop itself at its timeout: stop it from here.
            self.say("run_killed", pipeline=running.watched.pipeline.name,
                      run_id=running.launch.run_id, detail="past its timeout")
            _kill(running.process, signal.SIGKILL)

    def _finished(self, running: Running, code: int) -> None:
        pipeline = running.watched.pipeline
        outcome = OUTCOMES.get(code, f"exit code {code}")
        if code < 0:  # killed by a signal: its run never recorded its end
            self.store_of(running.watched).recover()
            outcome = "interrupted"
        recorded = code in (SKIPPED, TIMED_OUT)  # by the run's own process
        if running.trigger is not None and running.tick is not None and not recorded:
            self.store_of(running.watched).orchestration().claim_status(
                pipeline.name, running.trigger.name, running.tick, outcome)
        if running.sla is not None and not running.late and self.clock.now() > running.sla \
                and outcome not in ("skipped", "not started"):
            self._late(running)
        self.say("run_finished", pipeline=pipeline.name, run_id=running.launch.run_id,
                  trigger=running.launch.trigger, status=outcome,
                  seconds=round(time.time() - max(running.started, running.launch.at or 0), 3))

    def _late(self, running: Running) -> None:
        from jupyter_blocks.schedule.notify import alert_late

        running.late = True
        self.say("sla_missed", pipeline=running.watched.pipeline.name,
                  run_id=running.launch.run_id, trigger=running.launch.trigger,
                  tick=running.launch.tick)
        threading.Thread(target=alert_late, daemon=True, name="jupyter-blocks-sla", args=(
            running.watched.pipeline, running.launch.run_id, running.launch.trigger,
            running.launch.execution_date), kwargs={"store": self.store_of(running.watched)}
        ).start()

    def stop(self, grace: float | None = None) -> None:
        """Stop every run in progress: each ends interrupted (killed after ``grace`` seconds).

        A run whose process waits for its tick never began: its claim is given back, so the
        next scheduler runs that tick as a missed one.
        """
        grace = self.grace if grace is None else grace
        with self._lock:
            current = list(self.running)
        now = time.time()
        for running in current:
            waiting = running.launch.at is not None and running.launch.at > now + 0.05
            _kill(running.process, signal.SIGTERM)
            if waiting and running.trigger is not None and running.tick is not None:
                self.store_of(running.watched).orchestration().release(
                    running.watched.pipeline.name, running.trigger.name, running.tick,
                    running.previous_tick)
                self.say("tick_released", pipeline=running.watched.pipeline.name,
                         run_id=running.launch.run_id, trigger=running.launch.trigger,
                         tick=running.launch.tick)
                running.trigger = None  # nothing more to record for that tick
        until = time.time() + grace
        for running in current:
            with contextlib.suppress(subprocess.TimeoutExpired):
                running.process.wait(max(until - time.time(), 0.0))
            if running.process.poll() is None:
                _kill(running.process, signal.SIGKILL)
                running.process.wait()
        self.reap()

    def wait(self, poll: float = 0.2) -> None:
        """Wait for every run in progress to end (dealing with SLAs and timeouts meanwhile)."""
        while True:
            self.reap()
            with self._lock:
                if not self.running:
                    return
            time.sleep(poll)

    # -- the loop -----------------------------------------------------------------------------

    def serve(self, stop: threading.Event, *, poll: float = 1.0) -> None:
        """Run due ticks until ``stop`` is set; then stop the runs in progress."""
        self.say("scheduler_started", pipelines=[w.pipeline.name for w in self.watched],
                  triggers=sum(len(w.triggers) for w in self.watched))
        try:
            while not stop.is_set():
                self.reload()
                self.step()
                self.reap()
                stop.wait(self._pause(poll))
        finally:
            self.stop()
            self.say("scheduler_stopped")

    def once(self) -> bool:
        """Start what is due now, wait for it, and say whether every run succeeded."""
        started = self.step(ahead=0.0)
        self.wait()
        codes = [r.process.returncode for r in started]
        return all(code in (SUCCESS, SKIPPED) for code in codes)

    def _pause(self, poll: float) -> float:
        """Seconds to wait: ``poll``, less when a tick falls before the next pass's lead."""
        now = self.clock.now()
        soonest = None
        for watched in self.watched:
            for trigger in watched.triggers:
                if trigger.schedule_type == "time" and trigger.status == "active":
                    upcoming = ticks.next_fire_times(trigger, now, 1)
                    if upcoming and (soonest is None or upcoming[0] < soonest):
                        soonest = upcoming[0]
        if soonest is None:
            return poll
        until = self.clock.real_seconds((soonest - now).total_seconds()) - self.lead + 0.05
        return min(poll, max(until, 0.01))

    # -- listing ------------------------------------------------------------------------------

    def listing(self) -> list[dict[str, Any]]:
        """Every trigger of every pipeline: its schedule, next fire time and last run."""
        from jupyter_blocks.project.settings import describe_interval

        now = self.clock.now()
        rows: list[dict[str, Any]] = []
        for watched in self.watched:
            store = self.store_of(watched, create=False)
            for trigger in watched.triggers:
                label = run_label(trigger) if trigger.schedule_type == "time" \
                    else f"api:{trigger.name}"
                last = store.list_runs(watched.pipeline.name, limit=1, trigger=label) \
                    if store is not None else []
                upcoming = ticks.next_fire_times(trigger, now, 1) \
                    if trigger.schedule_type == "time" and trigger.status == "active" else []
                scheduled = store.orchestration().scheduled(
                    watched.pipeline.name, trigger.name, 1) if store is not None else []
                rows.append({
                    "pipeline": watched.pipeline.name, "trigger": trigger.name,
                    "type": trigger.schedule_type, "schedule": describe_interval(trigger),
                    "status": trigger.status,
                    "next": upcoming[0].isoformat() if upcoming else None,
                    "last_run": last[0]["run_id"] if last else None,
                    "last_status": last[0]["status"] if last else
                    (scheduled[0]["claim"] if scheduled else None),
                    "last_started": last[0]["started_at"] if last else None,
                })
        return rows

    # -- helpers ------------------------------------------------------------------------------

    def say(self, event: str, **fields: Any) -> None:
        """Log ``event`` with ``fields`` (``describe`` makes it a line); never raises."""
        record = {"event": event, "time": self.clock.now().isoformat(timespec="seconds"),
                  **{k: v for k, v in fields.items() if v is not None}}
        with contextlib.suppress(Exception):  # the log must never stop the scheduler
            self.log(record)

    def redactor_for(self, watched: Watched) -> Callable[[str], str]:
        """Hides the known secrets of a watched pipeline's folder in text."""
        from jupyter_blocks.history.redact import Redactor

        return Redactor.cached_for_directory(watched.pipeline.directory).text


def _kill(process: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if process.poll() is None:
            process.send_signal(signum)


def install_stop_signals(stop: threading.Event) -> None:
    """SIGTERM and SIGINT set ``stop`` (the scheduler then stops its runs and exits)."""
    def handler(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


__all__ = ["CLOCK_ENV", "Clock", "Running", "Scheduler", "install_stop_signals"]
