"""Alerts: the message of a failed, succeeded or late run, and its delivery to every destination.

What belongs here: :func:`build_alert` (the message, secrets hidden by the caller's ``redact``)
and :func:`send_alerts` (one :class:`Delivery` per destination; it never raises, so an alert
that cannot be delivered is logged and returned, and never fails the run).

How each destination is reached:

- Mage's webhook settings (``slack_config``, ``teams_config``, ``discord_config``,
  ``telegram_config``, ``google_chat_config``) are posted directly, with each service's webhook
  payload, as Mage posts them. Apprise builds Slack's and Telegram's addresses itself from
  tokens (``hooks.slack.com``, ``api.telegram.org``), so it can neither be pointed at another
  host nor take the URL those settings hold; a direct post works the same for the real service
  and for a receiver on loopback.
- ``email_config`` and ``opsgenie_config`` go through apprise (``mailto://``/``mailtos://``,
  ``opsgenie://``), as does each of ``urls``: any apprise URL, such as ``json://host/path``
  for a generic JSON webhook or ``slack://`` for apprise's own Slack formatting.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import logging
import os
import re
import urllib.error
import urllib.parse
import urllib.request
import warnings
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Literal

from jupyter_blocks.project.notifications import (
    EmailConfig,
    MessageTemplate,
    MessageTemplates,
    NotificationConfig,
    OpsgenieConfig,
)
from jupyter_blocks.schedule import webhooks

logger = logging.getLogger(__name__)

AlertKind = Literal["failure", "success", "passed_sla"]
#: Alert kind -> the ``alert_on`` value that asks for it.
ALERT_ON: dict[AlertKind, str] = {
    "failure": "trigger_failure",
    "success": "trigger_success",
    "passed_sla": "trigger_passed_sla",
}
#: Longest error text put in a message.
MAX_ERROR = 500
_TIMEOUT = 10.0


@dataclasses.dataclass(frozen=True)
class Alert:
    """An alert message.

    Attributes:
        kind: ``failure``, ``success`` or ``passed_sla``.
        title: One line: the email subject, the chat message's heading.
        body: The message's lines, secrets already hidden.
    """

    kind: AlertKind
    title: str
    body: str


@dataclasses.dataclass(frozen=True)
class Delivery:
    """What happened to an alert at one destination.

    Attributes:
        destination: The destination, without secrets (``slack webhook (hooks.slack.com)``).
        ok: Whether the destination accepted the alert.
        error: Why it was not delivered, in one line.
    """

    destination: str
    ok: bool
    error: str | None = None


def build_alert(kind: AlertKind, pipeline: str, run_id: str | int,
                failed_block: str | None = None, error: str | None = None,
                resume_command: str | None = None,
                redact: Callable[[str], str] | None = None, *,
                trigger: str | None = None, execution_date: Any = None,
                templates: MessageTemplates | None = None) -> Alert:
    """The alert for a run.

    Args:
        kind: ``failure``, ``success`` or ``passed_sla``.
        pipeline: The pipeline's name.
        run_id: The run's id in the run store.
        failed_block: The block that failed.
        error: Its error; a traceback or a multi-line message is cut to its one telling line.
        resume_command: The command that resumes the run from the failure.
        redact: Hides secrets in text (``Redactor.redact``); applied to the whole message.
        trigger: The trigger that started the run.
        execution_date: The run's scheduled time.
        templates: Mage's ``message_templates``: a title, summary or details template for the
            kind replaces ours; ``{pipeline_uuid}``, ``{pipeline_run_id}``,
            ``{pipeline_schedule_name}``, ``{execution_time}``, ``{error}``, ``{block_uuid}``
            and ``{resume_command}`` are filled in.
    """
    hide = redact or (lambda text: text)
    error_line = one_line(error) if error else None
    started = f" by trigger {trigger}" if trigger else ""
    when = f", execution date {execution_date}" if execution_date is not None else ""
    if kind == "failure":
        title = f"Pipeline {pipeline} failed" + (f" at block {failed_block}" if failed_block
                                                 else "")
        lines = [f"Pipeline {pipeline} failed in run {run_id}{started}{when}."]
        if failed_block:
            lines.append(f"Failed block: {failed_block}")
        if error_line:
            lines.append(f"Error: {error_line}")
        if resume_command:
            lines.append(f"Resume with: {resume_command}")
    elif kind == "success":
        title = f"Pipeline {pipeline} succeeded"
        lines = [f"Pipeline {pipeline} succeeded in run {run_id}{started}{when}."]
    else:
        title = f"Pipeline {pipeline} missed its SLA"
        lines = [f"Run {run_id} of pipeline {pipeline}{started}{when} had not finished by its "
                 "SLA."]
    body = "\n".join(lines)
    template = getattr(templates, kind, None) if templates is not None else None
    if isinstance(template, MessageTemplate):
        fields = _TemplateFields(
            pipeline_uuid=pipeline, pipeline_run_id=run_id, pipeline_schedule_name=trigger or "",
            execution_time=execution_date if execution_date is not None else "",
            error=error_line or "", block_uuid=failed_block or "",
            resume_command=resume_command or "")
        title = _fill(template.title, fields) or title
        body = _fill(template.details, fields) or _fill(template.summary, fields) or body
    return Alert(kind=kind, title=one_line(hide(title), limit=250), body=hide(body))


def one_line(text: str, limit: int = MAX_ERROR) -> str:
    """An error as one line: a traceback's last line, another text's first, cut to ``limit``."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    line = lines[-1] if lines[0].startswith("Traceback (most recent call last)") else lines[0]
    line = " ".join(line.split())
    return line if len(line) <= limit else line[:limit - 1] + "…"


def wants(config: NotificationConfig, kind: AlertKind) -> bool:
    """Whether ``alert_on`` asks for alerts of ``kind``."""
    return ALERT_ON[kind] in config.alert_on


def send_alerts(config: NotificationConfig, alert: Alert, *, timeout: float = _TIMEOUT,
                environ: Mapping[str, str] | None = None,
                redact: Callable[[str], str] | None = None) -> list[Delivery]:
    """Send ``alert`` to every configured destination; never raises.

    Args:
        config: The pipeline's notification settings; nothing is sent when ``alert_on`` does
            not ask for the alert's kind.
        alert: The message.
        timeout: Seconds to wait for each destination.
        environ: Where ``{{ env_var('X') }}`` values are looked up (default ``os.environ``).
        redact: Hides secrets in the error texts returned and logged.

    Returns:
        One delivery per destination, in the order of the config's keys, then ``urls``.
    """
    if not wants(config, alert.kind):
        return []
    hide = redact or (lambda text: text)
    try:
        rendered = _render(config, os.environ if environ is None else environ)
    except webhooks.Undelivered as exc:
        return [_failed("notification_config", str(exc), hide)]
    except Exception as exc:  # a rendered value of the wrong type
        return [_failed("notification_config", f"{type(exc).__name__}: {exc}", hide)]
    deliveries = []
    for destination, send in _destinations(rendered):
        try:
            send(alert, timeout)
        except webhooks.Undelivered as exc:
            deliveries.append(_failed(destination, str(exc), hide))
        except Exception as exc:  # a destination must never fail the run
            deliveries.append(_failed(destination, f"{type(exc).__name__}: {exc}", hide))
        else:
            logger.info("alert %r delivered to %s", alert.title, destination)
            deliveries.append(Delivery(destination, ok=True))
    return deliveries


def _failed(destination: str, error: str, hide: Callable[[str], str]) -> Delivery:
    error = one_line(hide(error))
    logger.warning("alert not delivered to %s: %s", destination, error)
    return Delivery(destination, ok=False, error=error)


Sender = Callable[[Alert, float], None]


def _destinations(config: NotificationConfig) -> list[tuple[str, Sender]]:
    found: list[tuple[str, Sender]] = []

    def webhook(service: str, url: str | None, payload: Callable[[str, str], dict[str, Any]]
                ) -> None:
        if url and url != "None":  # Mage's UI saves an emptied field as 'None'
            def post(alert: Alert, timeout: float) -> None:
                webhooks.post_json(url, payload(alert.title, alert.body), timeout)

            found.append((f"{service} webhook ({webhooks.host_of(url)})", post))

    if config.email_config is not None:
        email = config.email_config
        recipients = ", ".join(email.to_emails or [])
        found.append((f"email to {recipients or 'nobody'} via {email.smtp_host}",
                      lambda alert, timeout: _send_email(email, alert, timeout)))
    if config.google_chat_config is not None:
        webhook("google chat", config.google_chat_config.webhook_url, webhooks.google_chat_payload)
    if config.opsgenie_config is not None and config.opsgenie_config.api_key:
        opsgenie_url = _opsgenie_url(config.opsgenie_config)

        def opsgenie(alert: Alert, timeout: float) -> None:
            _apprise_send(opsgenie_url, alert, timeout)

        found.append(("opsgenie", opsgenie))
    if config.slack_config is not None:
        webhook("slack", config.slack_config.webhook_url, webhooks.slack_payload)
    if config.teams_config is not None:
        teams = config.teams_config.webhook_url
        for url in [teams] if isinstance(teams, str) else teams or []:
            webhook("teams", url, webhooks.teams_payload)
    if config.discord_config is not None:
        webhook("discord", config.discord_config.webhook_url, webhooks.discord_payload)
    if config.telegram_config is not None:
        webhook("telegram", config.telegram_config.webhook_url, webhooks.telegram_payload)
    for index, url in enumerate(config.urls):
        found.append((_apprise_label(url, index), functools.partial(_apprise_send, url)))
    return found


def _send_email(email: EmailConfig, alert: Alert, timeout: float) -> None:
    if not email.to_emails:
        raise webhooks.Undelivered("email_config has no to_emails")
    if email.smtp_ssl:
        scheme, mode = "mailtos", "ssl"
    elif email.smtp_user and email.smtp_password and email.smtp_starttls:
        scheme, mode = "mailtos", "starttls"
    else:
        scheme, mode = "mailto", "insecure"
    credentials = ""
    if email.smtp_user:
        credentials = urllib.parse.quote(email.smtp_user, safe="")
        if email.smtp_password:
            credentials += ":" + urllib.parse.quote(email.smtp_password, safe="")
        credentials += "@"
    query = urllib.parse.urlencode(
        {"smtp": email.smtp_host, "from": email.smtp_mail_from,
         "to": ",".join(email.to_emails), "mode": mode, "format": "text"},
        quote_via=urllib.parse.quote)
    host = f"[{email.smtp_host}]" if ":" in email.smtp_host else email.smtp_host
    _apprise_send(f"{scheme}://{credentials}{host}:{email.smtp_port}/?{query}", alert, timeout)


def _opsgenie_url(config: OpsgenieConfig) -> str:
    region = "eu" if config.url and ".eu." in config.url else "us"
    priority = config.priority[-1] if config.priority[-1:].isdigit() else "3"
    query = {"region": region, "priority": priority}
    if config.tags:
        query["tags"] = ",".join(str(tag) for tag in config.tags)
    key = urllib.parse.quote(config.api_key or "", safe="")
    return f"opsgenie://{key}/?{urllib.parse.urlencode(query)}"


def _apprise() -> Any:
    with _quiet_deprecations():
        import apprise
    return apprise


@contextlib.contextmanager
def _quiet_deprecations() -> Iterator[None]:
    # apprise imports the deprecated imghdr (at import and on first send): that must not become
    # a failed alert where warnings are errors.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


def _apprise_send(url: str, alert: Alert, timeout: float) -> None:
    apprise = _apprise()
    with _quiet_deprecations():
        plugin = apprise.Apprise.instantiate(url)
        if plugin is None:
            raise webhooks.Undelivered(f"apprise does not know the URL scheme {_scheme(url)}://")
        plugin.socket_connect_timeout = timeout
        plugin.socket_read_timeout = timeout
        capture = apprise.LogCapture(level=logging.WARNING, fmt="%(message)s")
        with capture as captured:
            delivered = plugin.notify(title=alert.title, body=alert.body)
    if not delivered:
        said = [line for line in captured.getvalue().splitlines() if line.strip()]
        raise webhooks.Undelivered(said[-1] if said else "apprise could not deliver the alert")


def _apprise_label(url: str, index: int) -> str:
    try:
        with _quiet_deprecations():
            plugin = _apprise().Apprise.instantiate(url)
    except Exception:
        plugin = None
    if plugin is None:
        return f"urls[{index}] ({_scheme(url)}://)"
    private: str = plugin.url(privacy=True)
    return private.split("?", 1)[0]


def _render(config: NotificationConfig, environ: Mapping[str, str]) -> NotificationConfig:
    document = config.model_dump(exclude_unset=True)
    if "{" not in json.dumps(document, default=str):
        return config
    from jupyter_blocks.io import templating as _templating

    try:
        rendered = _templating.render_config_value(document, environ)
    except _templating.MissingEnvVar as exc:
        raise webhooks.Undelivered(f"environment variable {exc.variable} is not set") from None
    except _templating.TemplateProblem as exc:
        raise webhooks.Undelivered(f"a notification_config value is not a valid template: "
                           f"{exc.detail}") from None
    return NotificationConfig.model_validate(rendered)


class _TemplateFields(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _fill(template: str | None, fields: _TemplateFields) -> str | None:
    if not template:
        return None
    try:
        return template.format_map(fields)
    except (ValueError, IndexError, AttributeError):
        return template


def _scheme(url: str) -> str:
    match = re.match(r"([A-Za-z][A-Za-z0-9+.-]*)://", url)
    return match.group(1) if match else "?"
