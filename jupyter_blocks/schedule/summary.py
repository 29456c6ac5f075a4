"""The readable summary of a ``%%pipeline`` cell: each trigger with its next fire times, alerts.

What belongs here: :func:`summary`, shown in the cell when it runs and by ``schedule list``.
"""

from __future__ import annotations

import datetime as dt

from jupyter_blocks.project.notifications import NotificationConfig
from jupyter_blocks.project.settings import KEPT_KEYS, PipelineSettings, describe_interval
from jupyter_blocks.project.triggers import Trigger, start_of, zone_of
from jupyter_blocks.schedule import ticks


def summary(settings: PipelineSettings, now: dt.datetime, local_tz: dt.tzinfo) -> str:
    """The cell's readable summary: each trigger and its next three times, alerts, defaults.

    Args:
        settings: The parsed settings.
        now: The current time (naive means UTC).
        local_tz: The reader's time zone, shown beside UTC.
    """
    lines = []
    count = len(settings.triggers)
    lines.append(f"Pipeline settings: {count} trigger{'s' if count != 1 else ''}")
    for trigger in settings.triggers:
        lines.extend(_trigger_lines(trigger, now, local_tz))
    lines.append(_alert_line(settings.notification_config))
    retry = settings.retry_config
    if retry is not None:
        backoff = ", doubling" if retry.exponential_backoff else ""
        lines.append(f"Block retries by default: {retry.retries}, {retry.delay:g} s apart"
                     f"{backoff} (at most {retry.max_delay:g} s)")
    concurrency = settings.concurrency_config
    if concurrency is not None:
        limits = [f"{key.replace('_', ' ')} {value}"
                  for key, value in concurrency.model_dump(exclude_unset=True).items()]
        lines.append("Concurrency: " + (", ".join(limits) or "defaults"))
    kept = [key for key in KEPT_KEYS if key in settings.model_fields_set]
    if kept:
        lines.append("Kept for Mage: " + ", ".join(kept))
    return "\n".join(lines)


def _trigger_lines(trigger: Trigger, now: dt.datetime, local_tz: dt.tzinfo) -> list[str]:
    details = [trigger.schedule_type, describe_interval(trigger), trigger.status]
    start = start_of(trigger)
    if start is not None and trigger.schedule_interval not in ("@once", None):
        details.append(f"from {start:%Y-%m-%d %H:%M}")
    settings = trigger.trigger_settings
    flags = [name for name, on in (
        ("catchup", trigger.catchup),
        ("skip if previous running", settings.skip_if_previous_running),
        ("initial run at once", settings.create_initial_pipeline_run)) if on]
    if settings.timeout:
        flags.append(f"timeout {settings.timeout} s")
    if trigger.sla:
        flags.append(f"SLA {trigger.sla} s")
    lines = [f"- {trigger.name}: " + ", ".join(details + flags)]
    if trigger.schedule_type == "time" and trigger.schedule_interval != "@always_on":
        times = ticks.next_fire_times(trigger, now, 3)
        label = "next: " if trigger.status == "active" else "next if activated: "
        if not times:
            lines.append("    no more runs")
        zone = zone_of(trigger)
        for moment in times:
            utc = moment.astimezone(dt.timezone.utc)
            local = moment.astimezone(local_tz)
            shown = f"    {label}{utc:%Y-%m-%d %H:%M} UTC = {local:%Y-%m-%d %H:%M %Z}"
            if trigger.timezone and zone not in (local_tz, dt.timezone.utc):
                shown += f" = {moment.astimezone(zone):%Y-%m-%d %H:%M} {trigger.timezone}"
            lines.append(shown)
            label = " " * len(label)
    return lines


def _alert_line(config: NotificationConfig | None) -> str:
    from urllib.parse import urlsplit

    if config is None:
        return "Alerts: none configured"
    destinations = []
    if config.email_config is not None:
        destinations.append("email to " + ", ".join(config.email_config.to_emails or ["nobody"]))
    for name in ("slack", "teams", "discord", "telegram", "google_chat", "opsgenie"):
        if getattr(config, f"{name}_config") is not None:
            destinations.append(name.replace("_", " "))
    destinations += [f"{urlsplit(url).scheme or '?'}:// URL" for url in config.urls]
    if not destinations:
        return "Alerts: no destinations configured"
    return f"Alerts on {', '.join(config.alert_on) or 'nothing'} to {', '.join(destinations)}"
