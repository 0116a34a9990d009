"""Customer messages: templates rendered for a ticket, consent and quiet hours, the outbox, delivery.

- A MessageTemplate is text for one event and channel in a small, allow-listed subset of Django's
  template language (workflow.templating: no include, extends, load or loops; capped size and render
  time). It renders with plain values only (customer, ticket, device, repair, store, technician), never
  model objects, and is checked at save by rendering it against a sample ticket. A stored template that
  fails to render fails only its own messages (`template_error`, with the reason), never the request.
- Planning a message decides, before anything is stored, what would happen: suppressed (no
  consent, no address), held until the end of quiet hours, a duplicate of one already queued for
  the same event, or queued to go now.
- The same message for the same event is stored once: the outbox's unique `dedup_key` is
  template + ticket + the status event the message is about.
- Delivery: email through Django's mail backend (SMTP in production: EMAIL_URL), SMS through the
  provider adapter of workflow.sms, in a background job after the commit. A failed attempt keeps
  its error (every attempt is in `delivery_log`) and is retried after
  WORKFLOW_RETRY_BASE_SECONDS × 2^(attempt − 1) until WORKFLOW_MAX_ATTEMPTS, then marked dead.
  A message handed to a backend that only keeps it (file or console mail, the SMS outbox double)
  is `recorded`, never `sent`.
"""
import logging
from dataclasses import dataclass
from datetime import datetime, time as dtime, timedelta
from decimal import Decimal
from email.utils import make_msgid
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from mlanalytics.core import cache as result_cache
from mlanalytics.core.errors import DomainError
from mlanalytics.core.formatting import format_value
from mlanalytics.core.models import Store

from . import masking, sms, templating
from .models import (
    Channel, Customer, DeviceModel, MessageTemplate, OutboxMessage, RepairTicket, RepairType, Technician, TicketStatus,
    TicketStatusEvent,
)

log = logging.getLogger(__name__)
Status = OutboxMessage.Status

# Template events that announce a status: the message is about the event that entered that status.
EVENT_STATUS = {
    "ticket_received": TicketStatus.RECEIVED,
    "diagnosing": TicketStatus.DIAGNOSING,
    "awaiting_approval": TicketStatus.AWAITING_APPROVAL,
    "awaiting_parts": TicketStatus.AWAITING_PARTS,
    "in_repair": TicketStatus.IN_REPAIR,
    "ready_for_collection": TicketStatus.READY,
    "collected": TicketStatus.COLLECTED,
    "cancelled": TicketStatus.CANCELLED,
}


# -- templates ------------------------------------------------------------------------------------


class TemplateError(DomainError):
    """A template that cannot be used or rendered: `field` is subject or body, the message says why."""


def _render_field(field_name, text, values, *, preview):
    try:
        return templating.render_text(text or "", values, preview=preview)
    except templating.TemplateProblem as exc:
        raise TemplateError(f"The {field_name}: {exc.message}", field=field_name) from None


def check_template_syntax(subject, body):
    """Raise TemplateError naming the field when the subject or body is not a template of the allowed language."""
    for field_name, text in (("subject", subject), ("body", body)):
        try:
            templating.compile_template(text or "")
        except templating.TemplateProblem as exc:
            raise TemplateError(f"The {field_name}: {exc.message}", field=field_name) from None


def template_problem(text):
    """Why `text` may not be saved as a template (the language, the caps, a render against a sample ticket,
    unknown variables), or "" when it may."""
    try:
        templating.compile_template(text or "")
        rendered = templating.render_text(text or "", template_context(sample_ticket()), preview=True)
    except templating.TemplateProblem as exc:
        return exc.message
    missing = templating.missing_variables(rendered)
    if missing:
        return f"unknown variable(s): {', '.join(missing)}. Variables: {', '.join(variable_names())}."
    return ""


def check_template_text(subject, body):
    """What a template must pass before it is saved (template_problem); TemplateError naming the field."""
    for field_name, text in (("subject", subject), ("body", body)):
        problem = template_problem(text)
        if problem:
            raise TemplateError(f"The {field_name}: {problem}", field=field_name)


def sample_ticket():
    """An unsaved ticket with every value a template can use filled in, to render templates against at save."""
    now = timezone.now()
    store = Store(pk=0, code="LON1", name="Sample Repairs London", city="London", timezone=settings.TIME_ZONE,
                  opening_hours={str(d): ["09:00", "18:00"] for d in range(1, 8)})
    customer = Customer(pk=0, name="Sam Sample", email="sam.sample@example.com", phone="+44 7700 900000")
    device = DeviceModel(pk=0, category="phone", brand="Apple", model_name="iPhone 13")
    repair = RepairType(pk=0, code="phone-screen", name="Phone screen replacement", device_category="phone")
    technician = Technician(pk=0, code="sample-tech", name="Alex Sample", store=store)
    return RepairTicket(pk=0, reference="LON1-0000001", store=store, customer=customer, device_model=device,
                        repair_type=repair, technician=technician, status=TicketStatus.READY, priority="normal",
                        received_at=now - timedelta(days=2), promised_at=now + timedelta(days=1),
                        predicted_completion_at=now + timedelta(hours=20), quoted_price=Decimal("129.00"),
                        final_price=Decimal("129.00"), fault_description="Cracked screen")


def variable_names():
    """Every variable a template may use, e.g. customer.first_name."""
    return [f"{group}.{name}" for group, values in template_context(sample_ticket()).items() for name in values]


def _money(value):
    return format_value(value, "money") if value is not None else ""


def _local(dt, tz):
    return timezone.localtime(dt, ZoneInfo(tz)) if dt else None


def template_context(ticket, *, mask_contacts=False):
    """The values a template may use, as plain data; `mask_contacts`: the customer's e-mail address and
    phone number masked (workflow.masking), for people who may not message customers and for alerts."""
    store = ticket.store
    tz = store.timezone or settings.TIME_ZONE
    customer = ticket.customer
    promised = _local(ticket.promised_at, tz)
    predicted = _local(ticket.predicted_completion_at, tz)
    weekday = str(timezone.localtime(timezone.now(), ZoneInfo(tz)).isoweekday())
    hours = (store.opening_hours or {}).get(weekday)
    name = customer.name if customer else ""
    contact = {"name": name, "first_name": name.split(" ")[0] if name else "",
               "email": customer.email if customer else "", "phone": customer.phone if customer else ""}
    return {
        "customer": masking.masked_customer(contact) if mask_contacts else contact,
        "ticket": {"reference": ticket.reference, "status": ticket.status, "status_label": TicketStatus(ticket.status).label,
                   "priority": ticket.priority, "received_at": _local(ticket.received_at, tz),
                   "promised_at": promised, "promised_date": promised.strftime("%A %d %B") if promised else "",
                   "promised_time": promised.strftime("%H:%M") if promised else "",
                   "predicted_completion_at": predicted,
                   "quoted_price": _money(ticket.quoted_price), "final_price": _money(ticket.final_price),
                   "fault_description": ticket.fault_description},
        "device": {"brand": ticket.device_model.brand, "model": ticket.device_model.model_name,
                   "name": str(ticket.device_model), "category": ticket.device_model.category},
        "repair": {"name": ticket.repair_type.name, "code": ticket.repair_type.code},
        "store": {"name": store.name, "code": store.code, "city": store.city,
                  "opening_hours_today": f"{hours[0]}–{hours[1]}" if hours else "closed today"},
        "technician": {"name": ticket.technician.name if ticket.technician_id is not None else ""},
    }


def render(template_or_text, ticket, *, preview=False, mask_contacts=False):
    """(subject, body, missing variable names) of a template (or {"subject":..., "body":...}) for a ticket.
    Raises TemplateError (naming subject or body) when the template cannot be used or breaks a cap."""
    subject = template_or_text["subject"] if isinstance(template_or_text, dict) else template_or_text.subject
    body = template_or_text["body"] if isinstance(template_or_text, dict) else template_or_text.body
    values = template_context(ticket, mask_contacts=mask_contacts)
    rendered_subject = _render_field("subject", subject, values, preview=preview).strip()
    rendered_body = _render_field("body", body, values, preview=preview).strip()
    missing = templating.missing_variables(rendered_subject + rendered_body) if preview else []
    return rendered_subject, rendered_body, missing


def templates_for(*, event=None, code=None, channels=None):
    templates = MessageTemplate.objects.filter(is_active=True)
    if code:
        templates = templates.filter(code=code)
    elif event:
        templates = templates.filter(event=event)
    if channels:
        templates = templates.filter(channel__in=channels)
    return list(templates.order_by("channel", "code"))


# -- consent, quiet hours, dedup ---------------------------------------------------------------------


def _minutes(hhmm):
    h, m = (int(x) for x in str(hhmm).split(":"))
    return h * 60 + m


def quiet_until(store, channel, at=None):
    """The end of the quiet hours `at` falls in (store time zone), or None when messages may go now."""
    at = at or timezone.now()
    if channel not in settings.WORKFLOW_QUIET_HOURS_CHANNELS or not settings.WORKFLOW_QUIET_HOURS:
        return None
    start, end = (_minutes(x) for x in settings.WORKFLOW_QUIET_HOURS)
    tz = ZoneInfo(store.timezone or settings.TIME_ZONE)
    local = at.astimezone(tz)
    now_min = local.hour * 60 + local.minute
    in_quiet = (start <= now_min or now_min < end) if start > end else (start <= now_min < end)
    if not in_quiet:
        return None
    day = local.date() if now_min < end else local.date() + timedelta(days=1)
    return datetime.combine(day, dtime(end // 60, end % 60), tzinfo=tz)


def consent_problem(customer, channel, purpose):
    """Why a customer may not get this message, or "" when they may."""
    if customer is None:
        return "the ticket has no customer"
    field = f"consent_{channel}_{purpose}"
    if not getattr(customer, field, False):
        return f"no consent to {purpose} {'emails' if channel == Channel.EMAIL else 'SMS'}"
    if channel == Channel.EMAIL and not customer.email:
        return "no email address"
    if channel == Channel.SMS and not customer.phone:
        return "no phone number"
    return ""


def occurrence_event(ticket, event):
    """The status event a message for `event` is about: the (latest) event entering the status the
    template announces, or for other events the ticket's latest status event. None: not happened."""
    events = TicketStatusEvent.objects.filter(ticket=ticket).order_by("-at", "-id")
    status = EVENT_STATUS.get(event)
    if status:
        events = events.filter(to_status=status)
    return events.values_list("id", flat=True).first()


def dedup_key(template, ticket, occurrence_id):
    return f"{template.code}:t{ticket.pk}:e{occurrence_id}"


@dataclass
class MessagePlan:
    ticket: RepairTicket
    template: MessageTemplate
    status: str  # what would happen: queued / held / suppressed / duplicate / not_applicable / template_error
    reason: str
    to_address: str
    subject: str
    body: str
    dedup_key: str
    not_before: datetime | None
    existing: OutboxMessage | None = None


NOT_STORED = ("not_applicable", "template_error")  # plans that never become an outbox message


def plan_message(ticket, template, *, now=None, mask_contacts=False):
    """Decide what sending `template` for `ticket` would do, without storing anything. `mask_contacts`: the
    plan is only shown (to someone who may not message customers), so its address and text carry masked
    contact data. A template that cannot be rendered makes a `template_error` plan with the reason."""
    now = now or timezone.now()
    customer = ticket.customer
    address = ""
    if customer is not None:
        address = customer.email if template.channel == Channel.EMAIL else customer.phone
    if mask_contacts:
        address = masking.mask_address(address)
    try:
        subject, body, _ = render(template, ticket, mask_contacts=mask_contacts)
    except TemplateError as exc:
        log.warning("template %s cannot be rendered for ticket %s: %s", template.code, ticket.pk, exc.message)
        return MessagePlan(ticket, template, "template_error", f"template {template.code}: {exc.message}",
                           address, "", "", "", None)
    occurrence = occurrence_event(ticket, template.event)
    if occurrence is None:
        status = EVENT_STATUS.get(template.event, "")
        return MessagePlan(ticket, template, "not_applicable", f"the ticket has not been {status or 'through this event'}",
                           address, subject, body, "", None)
    key = dedup_key(template, ticket, occurrence)
    existing = OutboxMessage.objects.filter(dedup_key=key).first()
    if existing is not None:
        return MessagePlan(ticket, template, "duplicate", f"already {existing.status} (message {existing.pk})",
                           address, subject, body, key, existing.not_before, existing)
    problem = consent_problem(customer, template.channel, template.purpose)
    if problem:
        return MessagePlan(ticket, template, "suppressed", problem, address, subject, body, key, None)
    hold = quiet_until(ticket.store, template.channel, now)
    if hold is not None:
        return MessagePlan(ticket, template, "held", f"quiet hours until {hold.isoformat()}", address, subject, body, key, hold)
    return MessagePlan(ticket, template, "queued", "", address, subject, body, key, None)


def queue_planned(plan, *, user=None):
    """Store a planned message in the outbox (once per dedup key). Returns (message, created)."""
    if plan.status == "duplicate" and plan.existing is not None:
        return plan.existing, False
    if plan.status in NOT_STORED:
        raise DomainError(plan.reason, field="event" if plan.status == "not_applicable" else "template")
    status = Status.SUPPRESSED if plan.status == "suppressed" else Status.QUEUED
    try:
        with transaction.atomic():
            message = OutboxMessage.objects.create(
                ticket=plan.ticket, customer=plan.ticket.customer, template=plan.template, event=plan.template.event,
                channel=plan.template.channel, to_address=plan.to_address or "", subject=plan.subject[:200], body=plan.body,
                status=status, dedup_key=plan.dedup_key, error=plan.reason if status == Status.SUPPRESSED else "",
                not_before=plan.not_before,
            )
    except IntegrityError:  # the same event raced in from elsewhere: that one stands
        return OutboxMessage.objects.get(dedup_key=plan.dedup_key), False
    result_cache.bump_on_commit("messages")
    return message, True


def queue_message(ticket, template, *, now=None, user=None):
    """Plan and store one message; returns (message, created). Raises DomainError when not applicable."""
    return queue_planned(plan_message(ticket, template, now=now), user=user)


# -- delivery -------------------------------------------------------------------------------------


def backoff_seconds(attempts):
    """Wait after the `attempts`-th failed try: base × 2^(attempts − 1)."""
    return settings.WORKFLOW_RETRY_BASE_SECONDS * (2 ** max(attempts - 1, 0))


# Django mail backends that keep a message instead of handing it to a mail server.
RECORD_ONLY_EMAIL_BACKENDS = {
    "django.core.mail.backends.filebased.EmailBackend",
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.locmem.EmailBackend",
    "django.core.mail.backends.dummy.EmailBackend",
}


def email_delivers_externally():
    """Whether the configured mail backend hands messages to a mail server (SMTP or a provider's backend)."""
    return settings.EMAIL_BACKEND not in RECORD_ONLY_EMAIL_BACKENDS


def sms_delivers_externally():
    return getattr(sms.provider_class(), "delivers_externally", False)


def delivers_externally(channel):
    return email_delivers_externally() if channel == Channel.EMAIL else sms_delivers_externally()


def _send_email(message):
    message_id = make_msgid(domain="repairs.local")
    email = EmailMessage(subject=message.subject, body=message.body, from_email=settings.DEFAULT_FROM_EMAIL,
                         to=[message.to_address], headers={"Message-ID": message_id, "X-Outbox-Id": str(message.pk)},
                         connection=get_connection(fail_silently=False))
    email.send(fail_silently=False)
    return message_id


def _send_sms(message):
    return sms.get_provider().send(to=message.to_address, text=message.body, sender=settings.SMS_SENDER_ID, reference=str(message.pk))


MAX_LOGGED_ATTEMPTS = 20  # the delivery log keeps the first and the latest attempts, enough to see a pattern


def deliver(message, *, now=None):
    """Try to send one queued or failed message that is due. Returns the message (status updated)."""
    now = now or timezone.now()
    due = Q(not_before__isnull=True) | Q(not_before__lte=now)
    # Claim the message by bumping its attempt count from the value we read: a second worker loses.
    claimed = OutboxMessage.objects.filter(due, pk=message.pk, attempts=message.attempts,
                                           status__in=[Status.QUEUED, Status.FAILED]).update(attempts=F("attempts") + 1)
    if not claimed:
        message.refresh_from_db()
        return message
    message.refresh_from_db()
    external = delivers_externally(message.channel)
    entry = {"attempt": message.attempts, "at": now.isoformat()}
    try:
        provider_id = _send_email(message) if message.channel == Channel.EMAIL else _send_sms(message)
    except Exception as exc:  # any delivery failure is recorded on the message and retried later
        dead = message.attempts >= settings.WORKFLOW_MAX_ATTEMPTS
        message.status = Status.DEAD if dead else Status.FAILED
        message.error = f"attempt {message.attempts}: {type(exc).__name__}: {exc}"[:2000]
        message.not_before = None if dead else now + timedelta(seconds=backoff_seconds(message.attempts))
        message.delivery_log = _logged(message.delivery_log, {**entry, "result": message.status, "error": message.error[:500]})
        message.save(update_fields=["status", "error", "not_before", "delivery_log"])
        log.warning("message %s to %s failed (%s)", message.pk, message.to_address, message.error)
    else:
        # Only a real mail server or SMS gateway makes a message "sent"; a file, the console or the SMS
        # outbox double only keep it, and saying "sent" then would tell staff the customer was told.
        message.status = Status.SENT if external else Status.RECORDED
        message.provider_id = str(provider_id)[:120]
        message.sent_at = now
        message.not_before = None
        message.delivery_log = _logged(message.delivery_log, {**entry, "result": message.status, "error": ""})
        message.save(update_fields=["status", "provider_id", "sent_at", "not_before", "delivery_log"])
    result_cache.bump("messages")
    return message


def _logged(log_entries, entry):
    entries = list(log_entries or []) + [entry]
    return entries if len(entries) <= MAX_LOGGED_ATTEMPTS else entries[:1] + entries[-(MAX_LOGGED_ATTEMPTS - 1):]


def due_messages(now=None, limit=200):
    now = now or timezone.now()
    return list(OutboxMessage.objects.filter(status__in=[Status.QUEUED, Status.FAILED])
                .filter(Q(not_before__isnull=True) | Q(not_before__lte=now)).order_by("created_at")[:limit])


def deliver_due(now=None, limit=200):
    """Send every message that is due (queued past quiet hours, failed past its backoff). Returns counts."""
    counts = {}
    for message in due_messages(now, limit):
        result = deliver(message, now=now)
        counts[result.status] = counts.get(result.status, 0) + 1
    return counts


def deliver_now(message_ids, now=None):
    """Send the given queued messages that are due (the background job behind deliver_after_commit)."""
    now = now or timezone.now()
    counts = {}
    for message in OutboxMessage.objects.filter(pk__in=list(message_ids), status=Status.QUEUED):
        if message.not_before is None or message.not_before <= now:
            result = deliver(message, now=now)
            counts[result.status] = counts.get(result.status, 0) + 1
    return counts


def deliver_after_commit(message_ids):
    """Send the given messages in a background job once the transaction that queued them commits (if
    configured to), so a slow mail server or SMS gateway never holds up the request that queued them.
    Without WORKFLOW_DELIVER_IMMEDIATELY the minute outbox job sends them."""
    if not settings.WORKFLOW_DELIVER_IMMEDIATELY or not message_ids:
        return
    from mlanalytics.core import jobs

    ids = [int(i) for i in message_ids]
    transaction.on_commit(lambda: jobs.enqueue("workflow.tasks.deliver_messages", ids))
