"""Starting a run of a trigger in a process of its own: what the scheduler and API triggers do.

What belongs here: :class:`Launch`, everything a run started by a trigger needs (target, the
trigger, the tick it is for and the interval it covers, variables, store, executor), sent to a
child process as JSON; :func:`spawn`, which starts that process (``python -m
jupyter_blocks.schedule.launch``); and :func:`run_launch`, the child's side: it loads the
pipeline, waits for the tick if it was started ahead of it (so imports and loading are done by
then), puts the run together through the one run assembly, and sends its alerts.

A run in a process of its own has the pipeline's folder as its working folder, can be stopped at
its trigger's timeout without touching other runs, and marks itself interrupted on SIGTERM.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

#: Exit codes of a child: its run succeeded, failed, could not start, was skipped (the previous
#: run still running), stopped at its trigger's timeout, or stopped.
SUCCESS, FAILED, NOT_STARTED, SKIPPED, TIMED_OUT, INTERRUPTED = 0, 1, 2, 3, 124, 130
#: What the scheduler records for a child's exit code.
OUTCOMES = {SUCCESS: "success", FAILED: "failed", NOT_STARTED: "not started",
            SKIPPED: "skipped", TIMED_OUT: "timed out", INTERRUPTED: "interrupted"}
#: Seconds between two looks for a free slot under a run limit.
_LIMIT_POLL = 0.5


@dataclass(frozen=True)
class Launch:
    """One run of a trigger.

    Attributes:
        target: The notebook or project folder.
        pipeline: The pipeline's name inside a project.
        trigger: What started it, as the run history records it (``schedule:daily``,
            ``api:hook``).
        run_id: The run's id (claimed with the tick before the process starts).
        resume: Finish this earlier run (its id is then ``run_id``) instead of a new one.
        tick: The scheduled time the run is for, as ISO text (recorded with the claim).
        execution_date: The run's execution date as ISO text (None: now).
        interval_end: The end of the interval the run covers, as ISO text, if any.
        variables: The trigger's variables, and those of an API request.
        store: The run store's URL (None: beside the pipeline, or ``$JUPYTER_BLOCKS_STORE``).
        executor: The executor of the run's blocks, with ``workers`` and ``scheduler``.
        workers: See ``executor``.
        scheduler: See ``executor``.
        at: Start the run at this time (epoch seconds), not at once.
        skip_if_running: Do not run if another run of the trigger is still running.
        run_limit: Wait until fewer than this many runs of the trigger are running...
        skip_at_limit: ...or skip the run instead of waiting.
        timeout: Seconds the run may take; then it is stopped.
        timeout_status: What a stopped run is recorded as: ``failed`` (default) or
            ``cancelled`` (recorded ``interrupted``).
        alerts: Send the pipeline's alerts when the run ends.
        parent: The pid of the process that started this one; when it dies, the run stops.
    """

    target: str
    trigger: str
    run_id: str
    pipeline: str | None = None
    resume: str | None = None
    tick: str | None = None
    execution_date: str | None = None
    interval_end: str | None = None
    variables: dict[str, Any] = field(default_factory=dict)
    store: str | None = None
    executor: str = "inline"
    workers: int | None = None
    scheduler: str | None = None
    at: float | None = None
    skip_if_running: bool = False
    run_limit: int | None = None
    skip_at_limit: bool = False
    timeout: float | None = None
    timeout_status: str | None = None
    alerts: bool = True
    parent: int | None = None

    @property
    def trigger_name(self) -> str:
        """The trigger's own name (``daily`` of ``schedule:daily``)."""
        return self.trigger.split(":", 1)[-1]

    def to_json(self) -> str:
        """The launch as JSON (values that are not JSON, like dates, as text)."""
        return json.dumps(dataclasses.asdict(self), default=str)

    @classmethod
    def from_json(cls, text: str) -> Launch:
        """The launch of :meth:`to_json`'s text."""
        return cls(**json.loads(text))


def spawn(launch: Launch) -> subprocess.Popen[bytes]:
    """Start ``launch`` in a child process (in a session of its own); return the process.

    The child's output is not shown (what blocks print is in the run store); its one-line
    error, when the run cannot start, goes to this process's stderr.
    """
    if launch.parent is None:
        launch = dataclasses.replace(launch, parent=os.getpid())
    child = subprocess.Popen([sys.executable, "-m", "jupyter_blocks.schedule.launch"],
                             stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                             start_new_session=True)
    assert child.stdin is not None
    child.stdin.write(launch.to_json().encode("utf-8"))
    child.stdin.close()
    return child


def run_launch(launch: Launch) -> int:
    """Run ``launch`` here: the child's side. The exit code is one of this module's."""
    from jupyter_blocks.history.store import RunStore
    from jupyter_blocks.project.loading import load_pipeline
    from jupyter_blocks.runner.run import RunRequest, run
    from jupyter_blocks.runner.selection import Selection
    from jupyter_blocks.schedule.notify import alert_run, alert_stopped

    pipeline = load_pipeline(launch.target, launch.pipeline)
    store = RunStore.for_directory(pipeline.directory, launch.store)
    request = RunRequest(
        pipeline, Selection.everything(), variables=launch.variables,
        execution_date=_when(launch.execution_date), interval_end=_when(launch.interval_end),
        trigger=launch.trigger, run_id=None if launch.resume else launch.run_id,
        resume=launch.resume, store=store, echo=False,
        executor=launch.executor, workers=launch.workers, scheduler=launch.scheduler)
    if launch.at is not None:
        time.sleep(max(launch.at - time.time(), 0.0))
    if not _slot(launch, store, pipeline.name):
        _claimed(launch, store, pipeline.name, "skipped")
        return SKIPPED
    timer = _timer(launch)
    try:
        finished = run(request)
    except KeyboardInterrupt:
        if "timeout" not in _STOP_REASON:
            raise
        status = "interrupted" if launch.timeout_status == "cancelled" else "failed"
        store.set_status(launch.run_id, status)
        _claimed(launch, store, pipeline.name, "timed out")
        if launch.alerts:
            alert_stopped(pipeline, launch.run_id, launch.trigger, request.execution_date,
                          launch.timeout or 0, store=store)
        return TIMED_OUT
    finally:
        if timer is not None:
            timer.cancel()
    if launch.alerts:
        alert_run(pipeline, finished, launch.trigger, store=store)
    return SUCCESS if finished.result.ok else FAILED


def _slot(launch: Launch, store: Any, pipeline: str) -> bool:
    """Whether the run may start now (waiting for a free slot under a run limit)."""
    if not (launch.skip_if_running or launch.run_limit):
        return True
    orchestration = store.orchestration()
    while True:
        running = orchestration.running(pipeline, launch.trigger)
        if launch.skip_if_running and running > 0:
            return False
        if launch.run_limit is None or running < launch.run_limit:
            return True
        if launch.skip_at_limit:
            return False
        time.sleep(_LIMIT_POLL)


def _claimed(launch: Launch, store: Any, pipeline: str, status: str) -> None:
    tick = _when(launch.tick)
    if tick is not None:
        store.orchestration().claim_status(pipeline, launch.trigger_name, tick, status)


def _timer(launch: Launch) -> threading.Timer | None:
    if not launch.timeout:
        return None
    def stop() -> None:
        _STOP_REASON.append("timeout")
        os.kill(os.getpid(), signal.SIGTERM)

    timer = threading.Timer(launch.timeout, stop)
    timer.daemon = True
    timer.start()
    return timer


def _watch_parent(parent: int) -> None:
    """Stop the run when the process that started it is gone (killed with ``kill -9``)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        _STOP_REASON.append("parent")
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, daemon=True, name="jupyter-blocks-parent").start()


#: Why SIGTERM arrived, when this process sent it to itself.
_STOP_REASON: list[str] = []


def _when(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text) if text else None


def _stop(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # the run ends as interrupted, its blocks in a final state


def main() -> None:
    """The child's entry point: a :class:`Launch` as JSON on stdin."""
    signal.signal(signal.SIGTERM, _stop)
    launch = Launch.from_json(sys.stdin.read())
    if launch.parent is not None:
        _watch_parent(launch.parent)
    try:
        code = run_launch(launch)
    except KeyboardInterrupt:
        code = INTERRUPTED
    except Exception as exc:  # the run could not start: say so where the scheduler logs go
        print(f"error: run {launch.run_id} of {launch.trigger} did not start: {exc}",
              file=sys.stderr)
        code = NOT_STARTED
    sys.exit(code)


if __name__ == "__main__":
    main()
