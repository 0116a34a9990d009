"""Customer messages: delivered for real through SMTP (a local aiosmtpd server) and an SMS gateway,
with consent, quiet hours, de-duplication and retries with backoff."""
import email
import email.policy
import json
import socket
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from django.utils import timezone

from workflow import messaging, services
from workflow.models import MessageTemplate, OutboxMessage
from workflow.sms import OutboxProvider

pytestmark = pytest.mark.django_db
SEND = "/api/workflow-automation/customer-communication"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append({"to": envelope.rcpt_tos, "from": envelope.mail_from, "subject": str(parsed["Subject"]),
                              "body": parsed.get_content(), "outbox_id": str(parsed["X-Outbox-Id"])})
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp(settings):
    """A real SMTP server on a free local port, with Django's SMTP backend pointed at it."""
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    settings.WORKFLOW_QUIET_HOURS = []
    yield inbox
    controller.stop()


@pytest.fixture
def sms_outbox(settings):
    settings.SMS_PROVIDER = "outbox"
    OutboxProvider.clear()
    yield OutboxProvider.sent
    OutboxProvider.clear()


def test_ready_email_is_received_by_the_smtp_server_with_the_rendered_text(smtp, sms_outbox, make_ticket, api_for, store_codes,
                                                                          django_capture_on_commit_callbacks):
    ticket = make_ticket(store_code=store_codes[0], status="ready", quoted_price=129)
    api = api_for("staff", stores=[store_codes[0]])
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(SEND, {"event": "ready_for_collection", "ticket": ticket.reference, "mode": "send"}, format="json")
        assert response.status_code == 200, response.content
        # The answer does not wait for the mail server: delivery is a job that runs after the commit.
        assert {m["channel"]: m["status"] for m in response.json()["messages"]} == {"email": "queued", "sms": "queued"}
        assert smtp.messages == []
    statuses = dict(OutboxMessage.objects.filter(ticket=ticket).values_list("channel", "status"))
    # SMTP delivered the email; the SMS outbox double only kept the SMS, so it is "recorded", not "sent".
    assert statuses == {"email": "sent", "sms": "recorded"}
    assert len(smtp.messages) == 1
    received = smtp.messages[0]
    assert received["to"] == ["ada@example.com"]
    assert received["subject"] == f"Your {ticket.device_model} is ready — {ticket.reference}"
    assert received["body"].startswith("Hello Ada,")
    assert f"ready to collect from {ticket.store.name}" in received["body"]
    message = OutboxMessage.objects.get(ticket=ticket, channel="email")
    assert message.status == "sent" and received["outbox_id"] == str(message.pk) and message.provider_id.startswith("<")
    assert sms_outbox[0]["to"] == "+44 7700 900001" and ticket.reference in sms_outbox[0]["text"]


def test_a_repeated_event_is_not_sent_twice(smtp, sms_outbox, make_ticket, api_for, store_codes, django_capture_on_commit_callbacks):
    ticket = make_ticket(store_code=store_codes[0], status="ready")
    api = api_for("manager")
    for _ in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            response = api.post(SEND, {"event": "ready_for_collection", "ticket": ticket.reference, "mode": "send", "channels": ["email"]},
                                format="json")
    assert response.json()["messages"][0]["duplicate"] is True
    assert len(smtp.messages) == 1
    assert OutboxMessage.objects.filter(ticket=ticket).count() == 1


def test_the_ready_rule_emails_the_customer_after_the_status_commits(smtp, sms_outbox, make_ticket, django_capture_on_commit_callbacks):
    ticket = make_ticket(status="quality_check")
    with django_capture_on_commit_callbacks(execute=True):
        services.change_status(ticket, "ready")
    assert [m["subject"] for m in smtp.messages] == [f"Your {ticket.device_model} is ready — {ticket.reference}"]
    # The same status event again (a retried job, a second worker) sends nothing new.
    from workflow import rules

    rules.run_rules("status_changed", [ticket.pk], context={"to_status": "ready", "from_status": "quality_check"})
    assert len(smtp.messages) == 1


def test_without_consent_nothing_is_sent_and_the_reason_is_kept(smtp, sms_outbox, make_ticket, api_for, store_codes,
                                                               django_capture_on_commit_callbacks):
    ticket = make_ticket(store_code=store_codes[0], status="ready")
    ticket.customer.consent_email_service = False
    ticket.customer.save()
    api = api_for("manager")
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(SEND, {"event": "ready_for_collection", "ticket": ticket.reference, "mode": "send"}, format="json")
    by_channel = {m["channel"]: m for m in response.json()["messages"]}
    assert by_channel["email"]["status"] == "suppressed" and by_channel["email"]["reason"] == "no consent to service emails"
    assert by_channel["sms"]["status"] == "queued"
    assert OutboxMessage.objects.get(ticket=ticket, channel="sms").status == "recorded"  # the SMS went (to the outbox double)
    assert smtp.messages == []
    assert OutboxMessage.objects.get(ticket=ticket, channel="email").error == "no consent to service emails"


def test_quiet_hours_hold_the_message_until_they_end(smtp, sms_outbox, make_ticket, api_for, store_codes, settings):
    local_now = timezone.localtime(timezone.now(), ZoneInfo("Europe/London"))
    settings.WORKFLOW_QUIET_HOURS = [(local_now - timedelta(hours=1)).strftime("%H:%M"), (local_now + timedelta(hours=1)).strftime("%H:%M")]
    ticket = make_ticket(store_code=store_codes[0], status="ready")
    api = api_for("manager")
    preview = api.post(SEND, {"event": "ready_for_collection", "ticket": ticket.reference, "channels": ["email"]}, format="json")
    assert preview.json()["messages"][0]["status"] == "held"
    sent = api.post(SEND, {"event": "ready_for_collection", "ticket": ticket.reference, "mode": "send", "channels": ["email"]}, format="json")
    row = sent.json()["messages"][0]
    assert row["status"] == "queued" and row["not_before"] is not None
    message = OutboxMessage.objects.get(pk=row["message_id"])
    assert messaging.deliver_due(now=timezone.now()) == {}
    assert smtp.messages == []
    assert messaging.deliver_due(now=message.not_before + timedelta(minutes=1)) == {"sent": 1}
    assert len(smtp.messages) == 1


def test_preview_sends_nothing(smtp, sms_outbox, make_ticket, api_for, store_codes):
    ticket = make_ticket(store_code=store_codes[0], status="ready")
    response = api_for("stakeholder").post(SEND, {"event": "ready_for_collection", "ticket": ticket.reference}, format="json")
    assert response.status_code == 200
    assert {m["status"] for m in response.json()["messages"]} == {"queued"}  # what would happen
    assert smtp.messages == [] and sms_outbox == [] and not OutboxMessage.objects.filter(ticket=ticket).exists()
    assert api_for("stakeholder").post(SEND, {"event": "ready_for_collection", "ticket": ticket.reference, "mode": "send"},
                                       format="json").status_code == 403


def test_failed_delivery_is_retried_with_backoff_and_keeps_its_error(make_ticket, settings, sms_outbox):
    settings.WORKFLOW_QUIET_HOURS = []
    settings.WORKFLOW_RETRY_BASE_SECONDS = 60
    settings.WORKFLOW_MAX_ATTEMPTS = 3
    settings.SMS_PROVIDER = "http"
    settings.SMS_API_URL = f"http://127.0.0.1:{free_port()}/send"  # nothing listens there
    ticket = make_ticket(status="ready")
    template = MessageTemplate.objects.get(code="ready-sms")
    message, _ = messaging.queue_message(ticket, template)
    t0 = timezone.now()
    message = messaging.deliver(message, now=t0)
    assert message.status == "failed" and message.attempts == 1 and "gateway unreachable" in message.error
    assert message.not_before == t0 + timedelta(seconds=60)
    assert messaging.deliver_due(now=t0 + timedelta(seconds=30)) == {}  # still backing off
    assert messaging.deliver_due(now=t0 + timedelta(seconds=61)) == {"failed": 1}
    message.refresh_from_db()
    assert message.attempts == 2 and message.not_before == t0 + timedelta(seconds=61 + 120)
    settings.SMS_PROVIDER = "outbox"  # the gateway is "back" (as the record-only double)
    assert messaging.deliver_due(now=t0 + timedelta(seconds=200)) == {"recorded": 1}
    message.refresh_from_db()
    assert message.status == "recorded" and message.attempts == 3 and "attempt 2" in message.error
    assert sms_outbox[0]["text"] == message.body
    # Every attempt is kept, not just the last error.
    assert [(e["attempt"], e["result"]) for e in message.delivery_log] == [(1, "failed"), (2, "failed"), (3, "recorded")]
    assert all("gateway unreachable" in e["error"] for e in message.delivery_log[:2])


def test_delivery_gives_up_after_the_last_attempt(make_ticket, settings):
    settings.WORKFLOW_QUIET_HOURS = []
    settings.WORKFLOW_MAX_ATTEMPTS = 2
    settings.SMS_PROVIDER = "http"
    settings.SMS_API_URL = f"http://127.0.0.1:{free_port()}/send"
    ticket = make_ticket(status="ready")
    message, _ = messaging.queue_message(ticket, MessageTemplate.objects.get(code="ready-sms"))
    t0 = timezone.now()
    messaging.deliver(message, now=t0)
    assert messaging.deliver_due(now=t0 + timedelta(hours=1)) == {"dead": 1}
    assert messaging.deliver_due(now=t0 + timedelta(days=1)) == {}


def test_http_sms_gateway_receives_the_documented_json(make_ticket, settings):
    received = []

    class Gateway(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append({"auth": self.headers["Authorization"],
                             "body": json.loads(self.rfile.read(int(self.headers["Content-Length"])))})
            payload = json.dumps({"id": "gw-123"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Gateway)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        settings.WORKFLOW_QUIET_HOURS = []
        settings.SMS_PROVIDER, settings.SMS_API_KEY, settings.SMS_SENDER_ID = "http", "secret-key", "REPAIRS"
        settings.SMS_API_URL = f"http://127.0.0.1:{server.server_address[1]}/send"
        ticket = make_ticket(status="ready")
        message, _ = messaging.queue_message(ticket, MessageTemplate.objects.get(code="ready-sms"))
        message = messaging.deliver(message)
    finally:
        server.shutdown()
    assert message.status == "sent" and message.provider_id == "gw-123"
    assert received == [{"auth": "Bearer secret-key", "body": {"to": "+44 7700 900001", "from": "REPAIRS", "text": message.body,
                                                                "reference": str(message.pk)}}]


def test_template_preview_and_validation(api_for, make_ticket, store_codes, settings):
    settings.WORKFLOW_QUIET_HOURS = []  # the preview's "would" must not depend on the time of day the test runs
    manager = api_for("manager")
    ticket = make_ticket(store_code=store_codes[0], status="ready")
    bad = manager.post("/api/workflow-automation/message-templates/", {
        "code": "broken", "event": "ready_for_collection", "channel": "email", "subject": "Hi", "body": "{% if %}"}, format="json")
    assert bad.status_code == 400 and "Not a valid template" in bad.json()["body"][0]
    draft = manager.post("/api/workflow-automation/message-templates/preview/", {
        "ticket": ticket.reference, "channel": "sms", "body": "Hi {{ customer.first_name }}, {{ ticket.reference }} {{ ticket.nonsense }}"},
        format="json")
    assert draft.status_code == 200
    assert draft.json()["body"].startswith(f"Hi Ada, {ticket.reference}")
    assert draft.json()["missing_variables"] == ["ticket.nonsense"]
    template = MessageTemplate.objects.get(code="ready-email")
    saved = manager.post(f"/api/workflow-automation/message-templates/{template.pk}/preview/", {"ticket": ticket.reference}, format="json")
    assert saved.json()["subject"] == f"Your {ticket.device_model} is ready — {ticket.reference}" and saved.json()["would"] == "queued"
    assert api_for("staff", stores=[store_codes[0]]).patch(f"/api/workflow-automation/message-templates/{template.pk}/",
                                                           {"body": "x"}, format="json").status_code == 403


def test_delivery_is_a_background_job_after_the_commit_not_part_of_the_request(smtp, sms_outbox, make_ticket, api_for, store_codes,
                                                                              monkeypatch, django_capture_on_commit_callbacks):
    from mlanalytics.core import jobs

    later = []
    monkeypatch.setattr(jobs, "enqueue", lambda path, *args, **kwargs: later.append((path, args)))  # a worker that has not run yet
    ticket = make_ticket(store_code=store_codes[0], status="ready")
    with django_capture_on_commit_callbacks(execute=True):
        response = api_for("staff", stores=[store_codes[0]]).post(
            SEND, {"event": "ready_for_collection", "ticket": ticket.reference, "mode": "send", "channels": ["email"]}, format="json")
    assert response.json()["messages"][0]["status"] == "queued"
    assert smtp.messages == []  # the request is answered without talking to the mail server
    assert later == [("workflow.tasks.deliver_messages", ([response.json()["messages"][0]["message_id"]],))]
    jobs.call(later[0][0], *later[0][1])  # the worker runs the job
    assert len(smtp.messages) == 1 and OutboxMessage.objects.get(ticket=ticket).status == "sent"


def test_deploy_check_warns_when_messages_would_only_be_recorded(settings):
    from django.core.checks import run_checks

    def workflow_ids():
        return {m.id for m in run_checks(include_deployment_checks=True) if m.id.startswith("workflow.")}

    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.SMS_PROVIDER = "outbox"
    assert workflow_ids() == {"workflow.W001", "workflow.W002"}
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.SMS_PROVIDER, settings.SMS_API_URL = "http", ""
    assert workflow_ids() == {"workflow.E002"}
    settings.SMS_API_URL = "https://sms.example.co.uk/send"
    assert workflow_ids() == set()
    settings.WORKFLOW_ALLOCATION_PRIORITY_WEIGHTS = {"low": 1.0, "normal": 2.0}  # a priority missing
    assert workflow_ids() == {"workflow.E003"}
