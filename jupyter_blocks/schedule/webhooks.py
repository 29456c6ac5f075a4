"""Webhooks: posting an alert as JSON to a chat service's incoming-webhook URL.

What belongs here: each service's payload for Mage's webhook settings (Slack's blocks, Teams'
card, Discord's content, Telegram's HTML text, Google Chat's text, shaped as Mage sends them)
and the one HTTP post they share, which turns every failure into a one-line
:class:`Undelivered` naming the host, never the URL (its path holds the webhook's token).
"""

from __future__ import annotations

import html
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any


class Undelivered(Exception):
    """A destination refused or could not be reached; the message is safe to show."""


def slack_payload(title: str, body: str) -> dict[str, Any]:
    """Slack: a header and a mrkdwn section, within Slack's lengths."""
    return {
        "text": f"{title}\n{body}",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": body[:3000]}},
        ],
    }


def teams_payload(title: str, body: str) -> dict[str, Any]:
    """Microsoft Teams: a card with a title and the text."""
    return {"summary": title,
            "sections": [{"activityTitle": title, "activitySubtitle": body}]}


def discord_payload(title: str, body: str) -> dict[str, Any]:
    """Discord: bold title and text, within Discord's 2000 characters."""
    return {"content": f"**{title}**\n{body}"[:2000]}


def telegram_payload(title: str, body: str) -> dict[str, Any]:
    """Telegram's ``sendMessage``: HTML text, escaped."""
    return {"text": f"<b>{html.escape(title)}</b>\n\n{html.escape(body)}",
            "parse_mode": "HTML"}


def google_chat_payload(title: str, body: str) -> dict[str, Any]:
    """Google Chat: bold title and text."""
    return {"text": f"*{title}*\n{body}"}


def post_json(url: str, payload: dict[str, Any], timeout: float) -> None:
    """POST ``payload`` to ``url``; :class:`Undelivered` on any failure."""
    host = host_of(url)
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise Undelivered(f"the webhook URL for {host} is not an http(s) URL")
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode("utf-8"), method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "jupyter-blocks"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        raise Undelivered(f"{host} answered HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise Undelivered(f"cannot reach {host}: {_reason(exc.reason)}") from None
    except TimeoutError:
        raise Undelivered(f"{host} did not answer within {timeout:g} s") from None
    except OSError as exc:
        raise Undelivered(f"cannot reach {host}: {_reason(exc)}") from None


def host_of(url: str) -> str:
    """The host of a URL, to name it without its secrets."""
    return urllib.parse.urlsplit(url).hostname or "the webhook"


def _reason(reason: object) -> str:
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror.lower()
    return str(reason)
