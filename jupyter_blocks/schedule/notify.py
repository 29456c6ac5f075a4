"""Alerting a pipeline's owner about a run: which alert, to where, recorded in the run store.

What belongs here: :func:`alert_run` (a finished run: a failure, or a success when
``alert_on`` asks), :func:`alert_late` (a run past its trigger's SLA, once per run) and
:func:`alert_stopped` (a run stopped at its trigger's timeout). Each reads the pipeline's
``notification_config``, builds the message with every known secret hidden, sends it to each
destination and records every delivery in the run store. Nothing here raises: an alert that
cannot be built, delivered or recorded is logged, and never fails the run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from jupyter_blocks.core.pipeline import Pipeline
from jupyter_blocks.schedule.alerts import AlertKind, Delivery, build_alert, send_alerts

logger = logging.getLogger(__name__)
#: The destination recorded for an SLA miss of a pipeline that has nowhere to send alerts.
NOWHERE = "(no destination)"


def alert_run(pipeline: Pipeline, finished: Any, trigger: str, *, store: Any = None
              ) -> list[Delivery]:
    """Alert about a finished run (a ``runner.run.FinishedRun``): failed, or succeeded.

    An interrupted run is not alerted (whoever stopped it knows); a timed-out one is, by the
    scheduler, through :func:`alert_stopped`.
    """
    result = finished.result
    if result.status == "interrupted":
        return []
    kind: AlertKind = "success" if result.ok else "failure"
    block = error = None
    if result.failed:
        outcome = result.failed[0]
        block, error = outcome.name, outcome.error or outcome.traceback
    return _alert(pipeline, kind, result.run_id, trigger, store=store, block=block,
                  error=error, resume=finished.resume,
                  execution_date=finished.variables.get("execution_date"),
                  redact=finished.redact)


def alert_late(pipeline: Pipeline, run_id: str, trigger: str, execution_date: Any, *,
               store: Any = None) -> list[Delivery]:
    """Alert that a run has not finished by its SLA; recorded even with nowhere to send it."""
    config = _config(pipeline)
    if config is None or "trigger_passed_sla" not in config.alert_on:
        _record(store, pipeline, run_id, "passed_sla", [Delivery(NOWHERE, ok=False,
                                                                 error="no alert configured")])
        return []
    return _alert(pipeline, "passed_sla", run_id, trigger, store=store,
                  execution_date=execution_date)


def alert_stopped(pipeline: Pipeline, run_id: str, trigger: str, execution_date: Any,
                  seconds: float, *, store: Any = None, resume: str | None = None
                  ) -> list[Delivery]:
    """Alert that a run was stopped at its trigger's ``timeout`` (a failure)."""
    return _alert(pipeline, "failure", run_id, trigger, store=store,
                  error=f"stopped after {seconds:g} s, its trigger's timeout", resume=resume,
                  execution_date=execution_date)


def alert_backfill(pipeline: Pipeline, backfill_id: str, summary: str, resume: str, *,
                   store: Any = None) -> list[Delivery]:
    """One alert for a backfill that ended with intervals not done (not one per interval)."""
    return _alert(pipeline, "failure", f"backfill {backfill_id}", f"backfill:{backfill_id}",
                  store=store, error=summary, resume=resume)


def _alert(pipeline: Pipeline, kind: AlertKind, run_id: str, trigger: str, *, store: Any,
           block: str | None = None, error: str | None = None, resume: str | None = None,
           execution_date: Any = None, redact: Callable[[str], str] | None = None
           ) -> list[Delivery]:
    config = _config(pipeline)
    if config is None:
        return []
    try:
        hide = redact if redact is not None else _redactor(pipeline)
        message = build_alert(kind, pipeline.name, run_id, block, error, resume, hide,
                              trigger=trigger, execution_date=execution_date,
                              templates=config.message_templates)
        deliveries = send_alerts(config, message, redact=hide)
    except Exception as exc:  # an alert never fails the run
        logger.warning("alert of run %s not sent: %s", run_id, exc)
        deliveries = [Delivery("notification_config", ok=False, error=str(exc))]
    _record(store, pipeline, run_id, kind, deliveries)
    return deliveries


def _config(pipeline: Pipeline) -> Any:
    settings = pipeline.settings
    return getattr(settings, "notification_config", None) if settings is not None else None


def _redactor(pipeline: Pipeline) -> Callable[[str], str]:
    from jupyter_blocks.history.redact import Redactor

    return Redactor.cached_for_directory(pipeline.directory).text


def _record(store: Any, pipeline: Pipeline, run_id: str, kind: str,
            deliveries: list[Delivery]) -> None:
    if not deliveries:
        return
    try:
        from jupyter_blocks.history.store import RunStore

        opened = store if isinstance(store, RunStore) else \
            RunStore.for_directory(pipeline.directory, store)
        orchestration = opened.orchestration()
        for delivery in deliveries:
            orchestration.alerted(run_id, kind, delivery.destination, delivery.ok,
                                  delivery.error)
    except Exception as exc:  # the store is down: the alert went out, say so in the log
        logger.warning("alerts of run %s not recorded: %s", run_id, exc)
