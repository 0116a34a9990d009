"""A sensible starting set of customer message templates and automation rules.

`install_defaults()` is idempotent: templates are matched by code and rules by name, and what a
shop has already changed is left alone. The demo seeding calls it; a real shop can run
`manage.py install_workflow_defaults` once and edit from there.
"""
from django.db import transaction

from .models import AutomationRule, MessageTemplate
from .rules import validate_rule

SIGN_OFF = "{{ store.name }} · open today {{ store.opening_hours_today }}"

TEMPLATES = [
    # code, event, channel, subject, body
    ("ticket-received-email", "ticket_received", "email", "We have your {{ device.name }} — {{ ticket.reference }}",
     "Hello {{ customer.first_name }},\n\nThank you for bringing your {{ device.name }} to {{ store.name }} for "
     "{{ repair.name|lower }}. Your reference is {{ ticket.reference }}.\n\nWe aim to have it ready by "
     "{{ ticket.promised_date }} at {{ ticket.promised_time }}; we will let you know as soon as it is.\n\n" + SIGN_OFF),
    ("ticket-received-sms", "ticket_received", "sms", "",
     "{{ store.name }}: we have your {{ device.name }} (ref {{ ticket.reference }}). Expected ready {{ ticket.promised_date }} {{ ticket.promised_time }}."),
    ("awaiting-approval-email", "awaiting_approval", "email", "Your quote for {{ ticket.reference }}: {{ ticket.quoted_price }}",
     "Hello {{ customer.first_name }},\n\nWe have diagnosed your {{ device.name }}. The repair ({{ repair.name|lower }}) "
     "costs {{ ticket.quoted_price }}. Please reply or call us to approve it and we will start straight away.\n\n" + SIGN_OFF),
    ("awaiting-approval-sms", "awaiting_approval", "sms", "",
     "{{ store.name }}: your {{ device.name }} repair quote is {{ ticket.quoted_price }} (ref {{ ticket.reference }}). Reply YES to approve."),
    ("approval-reminder-sms", "approval_reminder", "sms", "",
     "{{ store.name }}: a reminder that your {{ device.name }} quote ({{ ticket.quoted_price }}, ref {{ ticket.reference }}) is waiting for your OK."),
    ("awaiting-parts-email", "awaiting_parts", "email", "{{ ticket.reference }}: waiting for a part",
     "Hello {{ customer.first_name }},\n\nThe part for your {{ device.name }} is on its way to us. We will start the "
     "repair as soon as it arrives and keep you posted.\n\n" + SIGN_OFF),
    ("ready-email", "ready_for_collection", "email", "Your {{ device.name }} is ready — {{ ticket.reference }}",
     "Hello {{ customer.first_name }},\n\nGood news: your {{ device.name }} is repaired and ready to collect from "
     "{{ store.name }}.{% if ticket.final_price %} The total is {{ ticket.final_price }}.{% endif %}\n\n" + SIGN_OFF),
    ("ready-sms", "ready_for_collection", "sms", "",
     "{{ store.name }}: your {{ device.name }} is ready to collect (ref {{ ticket.reference }}). Open today {{ store.opening_hours_today }}."),
    ("collected-email", "collected", "email", "Thank you for choosing {{ store.name }}",
     "Hello {{ customer.first_name }},\n\nThank you for collecting your {{ device.name }}. Your repair is covered by our "
     "90-day warranty: if anything is not right, bring it back with reference {{ ticket.reference }}.\n\n" + SIGN_OFF),
    ("sla-delay-email", "sla_delay", "email", "{{ ticket.reference }}: your repair is taking longer",
     "Hello {{ customer.first_name }},\n\nWe are sorry: your {{ device.name }} is taking longer than we promised. "
     "{% if ticket.predicted_completion_at %}We now expect it to be ready by {{ ticket.predicted_completion_at|date:'l j F, H:i' }}.{% endif %}\n\n" + SIGN_OFF),
]

RULES = [
    dict(name="Confirm the booking to the customer", trigger="ticket_created", order=10,
         description="Email and SMS the customer their reference and the promised time.",
         actions=[{"type": "send_message", "event": "ticket_received"}]),
    dict(name="Ask the customer to approve the quote", trigger="status_changed", trigger_params={"to": ["awaiting_approval"]}, order=20,
         actions=[{"type": "send_message", "event": "awaiting_approval"}]),
    dict(name="Tell the customer we are waiting for a part", trigger="status_changed", trigger_params={"to": ["awaiting_parts"]}, order=30,
         actions=[{"type": "send_message", "event": "awaiting_parts"}]),
    dict(name="Tell the customer it is ready", trigger="status_changed", trigger_params={"to": ["ready"]}, order=40,
         actions=[{"type": "send_message", "event": "ready_for_collection"}]),
    dict(name="Comebacks jump the queue", trigger="ticket_created", order=50,
         description="A warranty comeback is high priority: the customer has already waited once.",
         conditions={"all": [{"field": "is_comeback", "op": "eq", "value": True},
                             {"field": "priority", "op": "lt", "value": "high"}]},
         actions=[{"type": "set_priority", "priority": "high"}]),
    dict(name="Urgent tickets go to a technician at once", trigger="ticket_created", order=60,
         conditions={"field": "priority", "op": "eq", "value": "urgent"},
         actions=[{"type": "assign", "strategy": "least_loaded"}]),
    dict(name="SLA at risk: raise priority", trigger="sla_at_risk", trigger_params={"hours_before": 12}, order=70,
         description="The store is alerted by the built-in SLA-at-risk check; this moves the ticket up the queue.",
         conditions={"field": "priority", "op": "in", "value": ["low", "normal"]},
         actions=[{"type": "set_priority", "priority": "high"}]),
    dict(name="Apologise for a delay", trigger="sla_at_risk", order=75, enabled=False,
         description="Off by default: switch on to email customers whose repair is predicted to be late.",
         conditions={"field": "predicted_late", "op": "eq", "value": True},
         actions=[{"type": "send_message", "event": "sla_delay"}]),
    dict(name="Waiting for diagnosis over a day", trigger="ticket_idle", trigger_params={"hours": 24, "statuses": ["received", "diagnosing"]},
         order=80, actions=[{"type": "raise_alert", "severity": "warning",
                             "title": "{{ ticket.reference }} has waited over 24 h for diagnosis"}]),
    dict(name="Remind the customer about an open quote", trigger="ticket_idle",
         trigger_params={"hours": 48, "statuses": ["awaiting_approval"]}, order=90,
         conditions={"field": "customer_consents_sms", "op": "eq", "value": True},
         actions=[{"type": "send_message", "event": "approval_reminder"}]),
    dict(name="Parts arrived: back to repair", trigger="parts_received", order=100,
         actions=[{"type": "change_status", "status": "in_repair"}]),
    dict(name="QA failure: alert the store", trigger="qa_failed", order=110,
         actions=[{"type": "raise_alert", "severity": "warning",
                   "title": "QA failed on {{ ticket.reference }} ({{ repair.name }}{% if technician.name %}, {{ technician.name }}{% endif %})"}]),
]


def install_defaults():
    """Create the default templates and rules that do not exist yet. Returns (templates created, rules created)."""
    created_templates = created_rules = 0
    with transaction.atomic():
        for code, event, channel, subject, body in TEMPLATES:
            _, created = MessageTemplate.objects.get_or_create(
                code=code, defaults=dict(event=event, channel=channel, subject=subject, body=body, purpose="service"))
            created_templates += int(created)
        for spec in RULES:
            spec = {"trigger_params": {}, "conditions": {}, "description": "", "enabled": True, **spec}
            validate_rule(spec["trigger"], spec["trigger_params"], spec["conditions"], spec["actions"])
            _, created = AutomationRule.objects.get_or_create(name=spec["name"], defaults=spec)
            created_rules += int(created)
    return created_templates, created_rules
