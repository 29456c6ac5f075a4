"""Alerts against real receivers on loopback: an HTTP server in a thread and aiosmtpd."""

import email
import json

from jupyter_blocks.project.notifications import NotificationConfig
from jupyter_blocks.schedule.alerts import Delivery, build_alert, one_line, send_alerts
from tests.schedule.conftest import free_port

SECRET = "s3cr3t-token"
TRACEBACK = (f"Traceback (most recent call last):\n  File \"clean.py\", line 3, in transform\n"
             f"ValueError: no rows for password {SECRET}\n")


def redact(text):
    return text.replace(SECRET, "***")


def failure_alert():
    return build_alert("failure", "taxi_etl", 42, "clean", TRACEBACK,
                       "jupyter-blocks run proj --pipeline taxi_etl --resume 42", redact,
                       trigger="daily", execution_date="2024-01-16 05:00:00+00:00")


def test_failure_message_names_pipeline_run_block_error_and_resume_command():
    alert = failure_alert()
    assert alert.title == "Pipeline taxi_etl failed at block clean"
    assert alert.body.splitlines() == [
        "Pipeline taxi_etl failed in run 42 by trigger daily, execution date "
        "2024-01-16 05:00:00+00:00.",
        "Failed block: clean",
        "Error: ValueError: no rows for password ***",
        "Resume with: jupyter-blocks run proj --pipeline taxi_etl --resume 42",
    ]
    assert SECRET not in alert.title + alert.body


def test_success_sla_and_templates():
    assert build_alert("success", "etl", 7).title == "Pipeline etl succeeded"
    sla = build_alert("passed_sla", "etl", 7, trigger="daily")
    assert sla.title == "Pipeline etl missed its SLA" and "had not finished by its SLA" in sla.body
    templates = NotificationConfig.model_validate({"message_templates": {"failure": {
        "title": "[{pipeline_uuid}] {block_uuid} broke", "summary": "{error} ({unknown})"}}})
    templated = build_alert("failure", "etl", 7, "clean", "KeyError: 'x'",
                            templates=templates.message_templates)
    assert (templated.title, templated.body) == ("[etl] clean broke", "KeyError: 'x' ({unknown})")


def test_one_line():
    assert one_line(TRACEBACK) == f"ValueError: no rows for password {SECRET}"
    assert one_line("first line\nsecond") == "first line"
    assert one_line("x" * 600).endswith("…") and len(one_line("x" * 600)) == 500


def test_slack_style_and_json_webhooks_reach_a_local_receiver(http_receiver):
    port = http_receiver.server_address[1]
    config = NotificationConfig.model_validate({
        "slack_config": {"webhook_url": f"http://127.0.0.1:{port}/services/T0/B0/{SECRET}"},
        "urls": [f"json://127.0.0.1:{port}/generic"],
    })
    deliveries = send_alerts(config, failure_alert(), timeout=5)
    assert deliveries == [Delivery("slack webhook (127.0.0.1)", ok=True),
                          Delivery(f"json://127.0.0.1:{port}/generic", ok=True)]
    received = dict(http_receiver.received)
    slack = received[f"/services/T0/B0/{SECRET}"]
    assert slack["blocks"][0]["text"]["text"] == "Pipeline taxi_etl failed at block clean"
    assert "Failed block: clean" in slack["blocks"][1]["text"]["text"]
    assert slack["text"].startswith("Pipeline taxi_etl failed at block clean\n")
    generic = received["/generic"]
    assert generic["title"] == "Pipeline taxi_etl failed at block clean"
    assert "Resume with: jupyter-blocks run proj" in generic["message"]
    assert SECRET not in json.dumps([slack["text"], generic])


def test_mage_chat_webhooks_get_their_payloads(http_receiver):
    base = f"http://127.0.0.1:{http_receiver.server_address[1]}"
    config = NotificationConfig.model_validate({
        "teams_config": {"webhook_url": [f"{base}/teams1", f"{base}/teams2"]},
        "discord_config": {"webhook_url": f"{base}/discord"},
        "telegram_config": {"webhook_url": f"{base}/telegram"},
        "google_chat_config": {"webhook_url": f"{base}/gchat"},
    })
    deliveries = send_alerts(config, build_alert("failure", "etl", 1, "a", "KeyError: <x>"))
    assert all(d.ok for d in deliveries) and len(deliveries) == 5
    received = dict(http_receiver.received)
    assert received["/teams2"]["summary"] == "Pipeline etl failed at block a"
    assert received["/discord"]["content"].startswith("**Pipeline etl failed at block a**\n")
    assert "KeyError: &lt;x&gt;" in received["/telegram"]["text"]
    assert received["/gchat"]["text"].startswith("*Pipeline etl failed at block a*\n")


def test_email_reaches_a_local_smtp_server_without_tls(smtp_server):
    controller, mailbox = smtp_server
    config = NotificationConfig.model_validate({"email_config": {
        "smtp_host": "127.0.0.1", "smtp_port": controller.port,
        "smtp_mail_from": "jupyter-blocks@example.com",
        "to_emails": ["data-team@example.com"]}})
    deliveries = send_alerts(config, failure_alert(), timeout=5)
    assert deliveries == [Delivery("email to data-team@example.com via 127.0.0.1", ok=True)]
    (envelope,) = mailbox.messages
    assert envelope.mail_from == "jupyter-blocks@example.com"
    assert envelope.rcpt_tos == ["data-team@example.com"]
    message = email.message_from_bytes(envelope.content)
    assert message["Subject"] == "Pipeline taxi_etl failed at block clean"
    text = message.get_payload(decode=True).decode()
    assert "Failed block: clean\r\nError: ValueError: no rows for password ***" in text
    assert SECRET not in envelope.content.decode()


def test_env_var_values_are_rendered_when_sent(http_receiver):
    port = http_receiver.server_address[1]
    config = NotificationConfig.model_validate(
        {"slack_config": {"webhook_url": "{{ env_var('HOOK') }}"}})
    environ = {"HOOK": f"http://127.0.0.1:{port}/from-env"}
    assert send_alerts(config, failure_alert(), environ=environ)[0].ok
    assert http_receiver.received[0][0] == "/from-env"
    missing = send_alerts(config, failure_alert(), environ={})
    assert missing == [Delivery("notification_config", ok=False,
                                error="environment variable HOOK is not set")]


def test_undeliverable_alerts_are_failed_deliveries_not_exceptions(http_receiver, caplog):
    closed = free_port()
    port = http_receiver.server_address[1]
    config = NotificationConfig.model_validate({
        "slack_config": {"webhook_url": f"http://127.0.0.1:{closed}/services/{SECRET}"},
        "discord_config": {"webhook_url": f"http://127.0.0.1:{port}/broken/{SECRET}"},
        "email_config": {"smtp_host": "127.0.0.1", "smtp_port": closed,
                         "smtp_mail_from": "a@example.com", "to_emails": ["b@example.com"]},
        "urls": [f"json://127.0.0.1:{closed}/x", "nosuchscheme://host/token", "mailto://"],
    })
    deliveries = send_alerts(config, failure_alert(), timeout=2, redact=redact)
    assert [d.ok for d in deliveries] == [False] * 6
    by_destination = {d.destination: d.error for d in deliveries}
    assert by_destination["slack webhook (127.0.0.1)"] == "cannot reach 127.0.0.1: connection refused"
    assert by_destination["discord webhook (127.0.0.1)"] == (
        "127.0.0.1 answered HTTP 500 Internal Server Error")
    assert "127.0.0.1" in by_destination["email to b@example.com via 127.0.0.1"]
    assert by_destination["urls[1] (nosuchscheme://)"] == (
        "apprise does not know the URL scheme nosuchscheme://")
    text = json.dumps(by_destination) + caplog.text
    assert SECRET not in text
    assert "alert not delivered to slack webhook (127.0.0.1)" in caplog.text


def test_alert_on_decides_which_alerts_are_sent(http_receiver):
    port = http_receiver.server_address[1]
    hook = {"webhook_url": f"http://127.0.0.1:{port}/hook"}
    default = NotificationConfig.model_validate({"slack_config": hook})
    assert send_alerts(default, build_alert("success", "etl", 1)) == []
    assert send_alerts(default, build_alert("passed_sla", "etl", 1))[0].ok
    chosen = NotificationConfig.model_validate({"alert_on": ["trigger_success"],
                                                "slack_config": hook})
    assert send_alerts(chosen, build_alert("success", "etl", 1))[0].ok
    assert send_alerts(chosen, failure_alert()) == []
    assert len(http_receiver.received) == 2


def test_secrets_stay_out_of_repr():
    config = NotificationConfig.model_validate({
        "slack_config": {"webhook_url": SECRET},
        "email_config": {"smtp_host": "h", "smtp_mail_from": "a@b.c", "smtp_password": SECRET},
        "urls": [f"json://{SECRET}@h/"]})
    assert SECRET not in repr(config)
