"""``notification_config``: where alerts go and which ones, in Mage's keys, plus ``urls``.

What belongs here: the pydantic models of Mage 0.9's ``NotificationConfig`` (``alert_on``, the
Slack, Teams, Discord, Telegram, Google Chat, Opsgenie and email settings, message templates)
and our ``urls:``, a list of apprise URLs (``json://``, ``mailto://``, ``slack://``, ``ntfy://``
and the rest of apprise's services). Building and sending alerts is in ``alerts``.

String values may be ``{{ env_var('NAME') }}`` templates, rendered when an alert is sent, so
passwords and webhook tokens need not be written in the notebook. Values that hold secrets are
left out of ``repr``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

AlertOn = Literal["trigger_failure", "trigger_success", "trigger_passed_sla"]
#: Mage's default ``alert_on``.
DEFAULT_ALERT_ON: tuple[AlertOn, ...] = ("trigger_failure", "trigger_passed_sla")


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SlackConfig(_Config):
    """``slack_config``: an incoming-webhook URL."""

    webhook_url: str | None = Field(default=None, repr=False)


class TeamsConfig(_Config):
    """``teams_config``: one webhook URL or a list of them."""

    webhook_url: str | list[str] | None = Field(default=None, repr=False)


class DiscordConfig(_Config):
    """``discord_config``: a webhook URL."""

    webhook_url: str | None = Field(default=None, repr=False)


class TelegramConfig(_Config):
    """``telegram_config``: the bot's ``sendMessage`` URL (with its ``chat_id``)."""

    webhook_url: str | None = Field(default=None, repr=False)


class GoogleChatConfig(_Config):
    """``google_chat_config``: a space's webhook URL."""

    webhook_url: str | None = Field(default=None, repr=False)


class OpsgenieConfig(_Config):
    """``opsgenie_config``: the API URL (its region) and key."""

    url: str | None = None
    api_key: str | None = Field(default=None, repr=False)
    priority: str = "P3"
    responders: list[dict[str, Any]] = Field(default_factory=list)
    tags: list[Any] = Field(default_factory=list)
    details: dict[str, Any] = Field(default_factory=dict)


class EmailConfig(_Config):
    """``email_config``: an SMTP server and the recipients.

    As in Mage, the connection is upgraded with STARTTLS when a user and password are given
    (``smtp_starttls: false`` sends them in clear), and is TLS from the start with ``smtp_ssl``.
    """

    smtp_host: str
    smtp_mail_from: str
    smtp_user: str | None = None
    smtp_password: str | None = Field(default=None, repr=False)
    smtp_starttls: bool = True
    smtp_ssl: bool = False
    smtp_port: int = Field(default=587, ge=1, le=65535)
    to_emails: list[str] | None = None


class MessageTemplate(_Config):
    """One message template; ``{pipeline_uuid}``-style fields are filled in."""

    title: str | None = None
    summary: str | None = None
    details: str | None = None


class MessageTemplates(_Config):
    """``message_templates`` by alert kind."""

    success: MessageTemplate | None = None
    failure: MessageTemplate | None = None
    passed_sla: MessageTemplate | None = None


class NotificationConfig(_Config):
    """A pipeline's ``notification_config``."""

    alert_on: list[AlertOn] = Field(default_factory=lambda: list(DEFAULT_ALERT_ON))
    email_config: EmailConfig | None = None
    google_chat_config: GoogleChatConfig | None = None
    opsgenie_config: OpsgenieConfig | None = None
    slack_config: SlackConfig | None = None
    teams_config: TeamsConfig | None = None
    discord_config: DiscordConfig | None = None
    telegram_config: TelegramConfig | None = None
    message_templates: MessageTemplates | None = None
    #: Apprise URLs, one destination each (ours; Mage does not know this key).
    urls: list[str] = Field(default_factory=list, repr=False)
