"""Alerts of scheduled runs, end to end: a failed run alerts every destination, secrets hidden."""

from __future__ import annotations

import email

import pytest

from jupyter_blocks.history.store import RunStore
from jupyter_blocks.schedule.scheduler import Scheduler
from tests.helpers.scheduled import clock_at, daily, scheduled_notebook
from tests.schedule.conftest import free_port

pytestmark = pytest.mark.timeout(120)

PASSWORD = "s3cr3t-pw-8841"
FAILING = f"""\
%%block login
@data_loader
def login(**kwargs):
    raise PermissionError("login refused for {PASSWORD}")
"""


def settings(http_port, smtp_port, closed_port, alert_on="[trigger_failure]"):
    return f"""\
triggers:
{daily()}
notification_config:
  alert_on: {alert_on}
  slack_config:
    webhook_url: http://127.0.0.1:{http_port}/slack
  email_config:
    smtp_host: 127.0.0.1
    smtp_port: {smtp_port}
    smtp_mail_from: etl@example.com
    smtp_starttls: false
    to_emails: [owner@example.com]
  urls:
  - json://127.0.0.1:{http_port}/generic
  - json://127.0.0.1:{closed_port}/nobody
"""


def run_the_tick(notebook):
    Scheduler([str(notebook)], clock=clock_at("2024-01-15T04:00:00")).once()
    Scheduler([str(notebook)], clock=clock_at("2024-01-15T05:00:01")).once()
    [run] = RunStore.for_directory(notebook.parent).list_runs()
    return run


def test_a_failed_run_alerts_each_destination_with_secrets_hidden(tmp_path, http_receiver,
                                                                   smtp_server):
    controller, mailbox = smtp_server
    (tmp_path / "io_config.yaml").write_text(
        f"version: 0.1.1\ndefault:\n  POSTGRES_PASSWORD: {PASSWORD}\n")
    notebook = scheduled_notebook(
        tmp_path / "taxi.ipynb",
        settings(http_receiver.server_address[1], controller.port, free_port()), FAILING)
    run = run_the_tick(notebook)
    assert run["status"] == "failed"
    received = dict(http_receiver.received)
    texts = [received["/slack"]["text"], received["/generic"]["message"],
             email.message_from_bytes(mailbox.messages[0].content).get_payload(decode=True).decode()]
    for text in texts:
        assert "taxi" in text and run["run_id"] in text
        assert "login" in text and "PermissionError: login refused for ***" in text
        assert "jupyter-blocks run" in text and "--from login" in text
        assert PASSWORD not in text
    alerts = RunStore.for_directory(tmp_path).orchestration().alerts(run["run_id"])
    delivered = {a["destination"]: bool(a["ok"]) for a in alerts}
    assert sum(delivered.values()) == 3 and list(delivered.values()).count(False) == 1
    [undelivered] = [a for a in alerts if not a["ok"]]
    assert undelivered["error"] and PASSWORD not in str(alerts)


def test_success_is_alerted_only_when_asked(tmp_path, http_receiver, smtp_server):
    controller, _ = smtp_server
    port = http_receiver.server_address[1]
    quiet = scheduled_notebook(tmp_path / "quiet" / "taxi.ipynb",
                               settings(port, controller.port, free_port()))
    assert run_the_tick(quiet)["status"] == "success"
    assert http_receiver.received == []
    loud = scheduled_notebook(
        tmp_path / "loud" / "taxi.ipynb",
        settings(port, controller.port, free_port(), "[trigger_success]"))
    run = run_the_tick(loud)
    assert {path for path, _ in http_receiver.received} == {"/slack", "/generic"}
    assert all(run["run_id"] in str(payload) for _, payload in http_receiver.received)
