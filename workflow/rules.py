"""The rules engine: automation rules stored in the database, run when their trigger happens.

A rule is: a trigger (ticket created, status changed, ticket idle for N hours, SLA at risk, parts
received, QA failed) with its parameters, a condition over the ticket's fields in the declarative
language of workflow.analytics.conditions, and a list of actions (send a customer message from a
template, set priority, assign or reassign, change status where the process allows it, raise an
alert). `validate_rule()` checks all three before a rule is saved, with messages that say what is
wrong and where.

Event triggers run after the commit of the change that caused them (workflow.receivers); the
time triggers (idle, SLA at risk) run from the periodic sweep (workflow.tasks); and everything can
run on demand (the repair-automation endpoint), by default as a dry run that only reports what
would be done. Every evaluation of a rule whose trigger fired for a ticket in a real run is logged as a
RuleRun; a dry run writes nothing (a page load or a preview must never grow the log).
"""
import logging
import math
import threading

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max
from django.utils import timezone

from mlanalytics.core import cache as result_cache
from mlanalytics.core.errors import DomainError

from .analytics.conditions import ConditionError, Field, describe, evaluate, validate_condition
from .templating import TemplateProblem
from .models import (
    AutomationRule, DeviceCategory, MessageTemplate, Priority, QAInspection, RepairTicket, RuleRun, Technician,
    TicketStatus, TicketStatusEvent,
)

log = logging.getLogger(__name__)
S = TicketStatus
T = AutomationRule.Trigger

# -- the ticket's fields a condition may read -------------------------------------------------------
STATUSES = tuple(S.values)
TICKET_FIELDS = {
    "status": Field("choice", "current status", STATUSES),
    "previous_status": Field("choice", "status before this change (status_changed trigger)", STATUSES),
    "priority": Field("ordinal", "priority, ordered low < normal < high < urgent", tuple(Priority.values)),
    "store": Field("text", "store code, e.g. LON1"),
    "repair_type": Field("text", "repair type code, e.g. phone-screen"),
    "device_category": Field("choice", "device category", tuple(DeviceCategory.values)),
    "device_brand": Field("text", "device brand, e.g. Apple"),
    "technician": Field("text", "assigned technician's code (empty when unassigned)"),
    "has_technician": Field("bool", "a technician is assigned"),
    "is_comeback": Field("bool", "the ticket is a warranty comeback of an earlier repair"),
    "quoted_price": Field("number", "quoted price in the shop's currency"),
    "hours_since_received": Field("number", "hours since the device was booked in"),
    "hours_in_status": Field("number", "hours since the last status change"),
    "hours_to_promise": Field("number", "hours until the promised time (negative when overdue)"),
    "predicted_minutes": Field("number", "triage: predicted labour minutes"),
    "priority_score": Field("number", "triage: priority score 0-100"),
    "predicted_late": Field("bool", "triage: predicted to be ready after the promise"),
    "qa_failures": Field("number", "failed QA inspections of this ticket"),
    "customer_has_email": Field("bool", "the customer has an email address"),
    "customer_has_phone": Field("bool", "the customer has a phone number"),
    "customer_consents_email": Field("bool", "consent to service emails"),
    "customer_consents_sms": Field("bool", "consent to service SMS"),
}

ACTION_TYPES = {
    "send_message": "send the customer the active template(s) of an event, or one template, by email and/or SMS",
    "set_priority": "set the ticket's priority",
    "assign": "assign a technician (by code, or the least-loaded skilled one on shift)",
    "change_status": "move the ticket to a status, where the repair process allows that transition",
    "raise_alert": "raise an alert to the store's staff and managers",
}
TRIGGER_PARAMS = {
    T.TICKET_CREATED: {},
    T.STATUS_CHANGED: {"to": "list of statuses (optional)", "from": "list of statuses (optional)"},
    T.TICKET_IDLE: {"hours": "number > 0 (required)", "statuses": "list of statuses (optional)"},
    T.SLA_AT_RISK: {"hours_before": "number >= 0 (optional; default WORKFLOW_SLA_RISK_HOURS)"},
    T.PARTS_RECEIVED: {},
    T.QA_FAILED: {},
}
MAX_ACTIONS = 10
_chain = threading.local()


class RuleValidationError(DomainError):
    """A rule that cannot be stored; `errors` maps the rule's field to its messages."""

    def __init__(self, errors):
        self.errors = errors
        first_field = next(iter(errors))
        super().__init__(errors[first_field][0], field=first_field)

    def as_response_data(self):
        return self.errors


# -- validation -----------------------------------------------------------------------------------


def _status_list(value, where, errors):
    if not isinstance(value, list) or not value or any(v not in STATUSES for v in value):
        errors.setdefault("trigger_params", []).append(f"{where} must be a non-empty list of statuses from: {', '.join(STATUSES)}.")


MAX_TRIGGER_HOURS = 24 * 366  # a trigger further out than a year is a typo, and keeps the value finite


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) <= MAX_TRIGGER_HOURS and math.isfinite(value)


def validate_trigger(trigger, params, errors):
    if trigger not in T.values:
        errors.setdefault("trigger", []).append(f"'{trigger}' is not a trigger. Triggers: {', '.join(T.values)}.")
        return
    if not isinstance(params, dict):
        errors.setdefault("trigger_params", []).append("trigger_params must be an object.")
        return
    allowed = TRIGGER_PARAMS[trigger]
    unknown = set(params) - set(allowed)
    if unknown:
        hint = f"It takes: {', '.join(allowed)}." if allowed else "It takes none."
        errors.setdefault("trigger_params", []).append(f"{trigger} does not take {', '.join(sorted(unknown))}. {hint}")
    if trigger == T.STATUS_CHANGED:
        for key in ("to", "from"):
            if key in params:
                _status_list(params[key], f"trigger_params.{key}", errors)
    elif trigger == T.TICKET_IDLE:
        hours = params.get("hours")
        if not _number(hours) or hours <= 0:
            errors.setdefault("trigger_params", []).append(
                f"ticket_idle needs trigger_params.hours, a number of hours > 0 and at most {MAX_TRIGGER_HOURS}.")
        if "statuses" in params:
            _status_list(params["statuses"], "trigger_params.statuses", errors)
    elif trigger == T.SLA_AT_RISK and "hours_before" in params:
        if not _number(params["hours_before"]) or params["hours_before"] < 0:
            errors.setdefault("trigger_params", []).append(
                f"trigger_params.hours_before must be a number of hours >= 0 and at most {MAX_TRIGGER_HOURS}.")


def validate_actions(actions, errors, store=None):
    """Check the actions of a rule of `store` (None: every store)."""
    from . import messaging

    def bad(i, message):
        errors.setdefault("actions", []).append(f"actions[{i}]: {message}")

    if not isinstance(actions, list) or not actions:
        errors.setdefault("actions", []).append(f"actions must be a non-empty list; action types: {', '.join(ACTION_TYPES)}.")
        return
    if len(actions) > MAX_ACTIONS:
        errors.setdefault("actions", []).append(f"a rule may have at most {MAX_ACTIONS} actions.")
        return
    for i, action in enumerate(actions):
        if not isinstance(action, dict) or "type" not in action:
            bad(i, "an action is an object with a 'type'.")
            continue
        kind = action["type"]
        if not isinstance(kind, str):
            bad(i, f"an action's 'type' is one of {', '.join(ACTION_TYPES)}.")
            continue
        keys = set(action) - {"type"}
        if kind == "send_message":
            extra = keys - {"event", "template", "channels"}
            if extra:
                bad(i, f"send_message does not take {', '.join(sorted(extra))}.")
            if ("event" in action) == ("template" in action):
                bad(i, "send_message needs exactly one of 'event' (all active templates of that event) or 'template' (a template code).")
            elif not isinstance(action.get("event", action.get("template")), str):
                bad(i, "send_message's 'event' or 'template' is a name (text).")
            elif "template" in action and not MessageTemplate.objects.filter(code=action["template"]).exists():
                bad(i, f"there is no message template '{action['template']}'.")
            elif "event" in action and not MessageTemplate.objects.filter(event=action["event"], is_active=True).exists():
                events = sorted(set(MessageTemplate.objects.filter(is_active=True).values_list("event", flat=True)))
                bad(i, f"no active template for event '{action['event']}'. Events with templates: {', '.join(events) or 'none'}.")
            channels = action.get("channels")
            if channels is not None and (not isinstance(channels, list) or not channels
                                         or not all(isinstance(c, str) and c in ("email", "sms") for c in channels)):
                bad(i, "channels must be a non-empty list of 'email' and/or 'sms'.")
        elif kind == "set_priority":
            if keys != {"priority"} or action.get("priority") not in Priority.values:
                bad(i, f"set_priority takes 'priority', one of {', '.join(Priority.values)}.")
        elif kind == "assign":
            extra = keys - {"technician", "strategy", "reassign"}
            if extra:
                bad(i, f"assign does not take {', '.join(sorted(extra))}.")
            if ("technician" in action) == ("strategy" in action):
                bad(i, "assign needs exactly one of 'technician' (a code) or 'strategy': 'least_loaded'.")
            elif "technician" in action and not isinstance(action["technician"], str):
                bad(i, "assign's 'technician' is a technician code (text).")
            elif "technician" in action and store is None:
                bad(i, "assign to a named technician is for a rule of that technician's store: set the rule's store, "
                       "or use 'strategy': 'least_loaded'.")
            elif "technician" in action and not Technician.objects.filter(code=action["technician"], is_active=True,
                                                                           store=store).exists():
                # The same words whether the code is unknown or another store's: nothing confirms who works where.
                bad(i, f"there is no active technician '{action['technician'][:40]}' at {store.code}.")
            elif "strategy" in action and action["strategy"] != "least_loaded":
                bad(i, "the only assignment strategy is 'least_loaded'.")
            if "reassign" in action and not isinstance(action["reassign"], bool):
                bad(i, "reassign is true or false.")
        elif kind == "change_status":
            if keys != {"status"} or action.get("status") not in STATUSES:
                bad(i, f"change_status takes 'status', one of {', '.join(STATUSES)}.")
        elif kind == "raise_alert":
            extra = keys - {"title", "severity", "message"}
            if extra:
                bad(i, f"raise_alert does not take {', '.join(sorted(extra))}.")
            title = action.get("title")
            if not isinstance(title, str) or not title.strip() or len(title) > 200:
                bad(i, "raise_alert needs a 'title' (text, at most 200 characters; {{ ticket.reference }} etc. allowed).")
            elif problem := messaging.template_problem(title):
                bad(i, f"the title: {problem}")
            message = action.get("message", "")
            if not isinstance(message, str) or len(message) > 2000:
                bad(i, "raise_alert's 'message' is text of at most 2000 characters.")
            elif problem := messaging.template_problem(message):
                bad(i, f"the message: {problem}")
            if action.get("severity", "warning") not in ("info", "warning", "critical"):
                bad(i, "severity is one of info, warning, critical.")
        else:
            bad(i, f"'{kind[:40]}' is not an action. Actions: {', '.join(ACTION_TYPES)}.")


def validate_rule(trigger, trigger_params, conditions, actions, store=None):
    """Raise RuleValidationError ({field: [messages]}) unless the rule (of `store`, None: every store) can be
    stored and run."""
    errors = {}
    validate_trigger(trigger, trigger_params if trigger_params is not None else {}, errors)
    try:
        validate_condition(conditions if conditions is not None else {}, TICKET_FIELDS)
    except ConditionError as exc:
        errors.setdefault("conditions", []).append(str(exc))
    validate_actions(actions, errors, store)
    if errors:
        raise RuleValidationError(errors)


# -- facts ----------------------------------------------------------------------------------------


def ticket_facts(tickets, *, now=None, context=None, contexts=None):
    """{ticket id: {field: value}} for a list of tickets (select_related customer/repair_type/device/technician/store).
    `context` (or per ticket `contexts`) carries the trigger's event, e.g. from_status of a status change."""
    now = now or timezone.now()
    context = context or {}
    contexts = contexts or {}
    ids = [t.pk for t in tickets]
    last_change = dict(TicketStatusEvent.objects.filter(ticket_id__in=ids).values("ticket_id").annotate(m=Max("at")).values_list("ticket_id", "m"))
    qa_failures = dict(QAInspection.objects.filter(ticket_id__in=ids, passed=False).values("ticket_id").annotate(n=Count("id")).values_list("ticket_id", "n"))
    facts = {}
    for t in tickets:
        customer = t.customer
        changed = last_change.get(t.pk) or t.received_at
        facts[t.pk] = {
            "status": t.status,
            "previous_status": contexts.get(t.pk, context).get("from_status")
            if contexts.get(t.pk, context).get("ticket_id") in (None, t.pk) else None,
            "priority": t.priority,
            "store": t.store.code,
            "repair_type": t.repair_type.code,
            "device_category": t.device_model.category,
            "device_brand": t.device_model.brand,
            "technician": t.technician.code if t.technician_id else None,
            "has_technician": t.technician_id is not None,
            "is_comeback": t.warranty_of_id is not None,
            "quoted_price": float(t.quoted_price) if t.quoted_price is not None else None,
            "hours_since_received": round((now - t.received_at).total_seconds() / 3600, 2),
            "hours_in_status": round((now - changed).total_seconds() / 3600, 2),
            "hours_to_promise": round((t.promised_at - now).total_seconds() / 3600, 2) if t.promised_at else None,
            "predicted_minutes": t.predicted_minutes,
            "priority_score": t.priority_score,
            "predicted_late": bool(t.predicted_completion_at and t.promised_at and t.predicted_completion_at > t.promised_at),
            "qa_failures": qa_failures.get(t.pk, 0),
            "customer_has_email": bool(customer and customer.email),
            "customer_has_phone": bool(customer and customer.phone),
            "customer_consents_email": bool(customer and customer.consent_email_service),
            "customer_consents_sms": bool(customer and customer.consent_sms_service),
            "_last_change_at": changed,
        }
    return facts


# -- does the trigger fire for this ticket? --------------------------------------------------------


def trigger_applies(rule, ticket, facts, context, now):
    """(fires, note) — whether the rule's trigger (with its parameters) fired for this ticket."""
    params = rule.trigger_params or {}
    if rule.store_id and rule.store_id != ticket.store_id:
        return False, "other store"
    if rule.trigger == T.STATUS_CHANGED:
        to_status = context.get("to_status", ticket.status)
        from_status = context.get("from_status")
        if params.get("to") and to_status not in params["to"]:
            return False, "status not in 'to'"
        if params.get("from") and from_status not in params["from"]:
            return False, "previous status not in 'from'"
        return True, ""
    if rule.trigger == T.TICKET_IDLE:
        if ticket.status not in (params.get("statuses") or [s for s in STATUSES if s not in (S.COLLECTED, S.CANCELLED)]):
            return False, "status not watched"
        if facts["hours_in_status"] < float(params["hours"]):
            return False, f"idle {facts['hours_in_status']} h < {params['hours']} h"
        return True, ""
    if rule.trigger == T.SLA_AT_RISK:
        if ticket.status not in (S.RECEIVED, S.DIAGNOSING, S.AWAITING_APPROVAL, S.AWAITING_PARTS, S.IN_REPAIR, S.QUALITY_CHECK):
            return False, "not in the SLA cycle"
        hours_before = float(params.get("hours_before", settings.WORKFLOW_SLA_RISK_HOURS))
        hours_to_promise = facts["hours_to_promise"]
        if hours_to_promise is None:
            return False, "no promise"
        if hours_to_promise <= hours_before or facts["predicted_late"]:
            return True, ""
        return False, f"{hours_to_promise} h to promise"
    if rule.trigger == T.PARTS_RECEIVED:
        return ticket.status == S.AWAITING_PARTS, "" if ticket.status == S.AWAITING_PARTS else "not waiting for parts"
    if rule.trigger == T.QA_FAILED:
        return facts["qa_failures"] > 0, "" if facts["qa_failures"] else "no failed QA"
    return True, ""  # ticket_created


def last_fired(rules, ticket_ids):
    """{(rule id, ticket id): when a time-trigger rule last really fired (matched, not a dry run)}."""
    time_rules = [r.pk for r in rules if r.trigger in (T.TICKET_IDLE, T.SLA_AT_RISK)]
    if not time_rules:
        return {}
    rows = (RuleRun.objects.filter(rule_id__in=time_rules, ticket_id__in=ticket_ids, dry_run=False, matched=True)
            .values("rule_id", "ticket_id").annotate(last=Max("at")).values_list("rule_id", "ticket_id", "last"))
    return {(r, t): at for r, t, at in rows}


def already_fired(rule, ticket, facts, fired):
    """Time triggers fire once per episode: idle once per status visit, SLA at risk once per ticket."""
    last = fired.get((rule.pk, ticket.pk))
    if last is None:
        return False
    return rule.trigger == T.SLA_AT_RISK or last >= facts["_last_change_at"]


# -- actions --------------------------------------------------------------------------------------


def _render_alert_text(text, ticket):
    """An alert's title or message for a ticket. Alerts are shown to every role, so the customer's contact data
    in them is masked (workflow.masking). Raises TemplateProblem when the text cannot be rendered."""
    from .messaging import template_context
    from .templating import render_text

    return render_text(text, template_context(ticket, mask_contacts=True))


def least_loaded_technician(ticket, now=None):
    """The active technician of the ticket's store with the required skills, on shift today, with the fewest open tickets."""
    now = now or timezone.now()
    weekday = str(timezone.localtime(now).isoweekday())
    required = set(ticket.repair_type.required_skills.values_list("code", flat=True))
    candidates = []
    for tech in Technician.objects.filter(store_id=ticket.store_id, is_active=True).prefetch_related("skills"):
        if not required <= {s.code for s in tech.skills.all()}:
            continue
        on_shift = int((tech.shift_minutes or {}).get(weekday) or 0) > 0
        load = RepairTicket.objects.filter(technician=tech, status__in=[S.RECEIVED, S.DIAGNOSING, S.AWAITING_APPROVAL,
                                                                        S.AWAITING_PARTS, S.IN_REPAIR]).count()
        candidates.append((not on_shift, load, tech.code, tech))
    return min(candidates)[3] if candidates else None


def run_action(action, ticket, *, rule, dry_run, context, now, user=None):
    """Do (or describe) one action; returns its outcome dict. Raises only on unexpected failures."""
    from . import messaging, services

    kind = action["type"]
    outcome = {"type": kind}
    if kind == "send_message":
        templates = messaging.templates_for(event=action.get("event"), code=action.get("template"), channels=action.get("channels"))
        if not templates:
            return {**outcome, "result": "skipped", "reason": "no active template"}
        messages = []
        for template in templates:
            plan = messaging.plan_message(ticket, template, now=now)
            if dry_run:
                messages.append({"template": template.code, "channel": template.channel, "would": plan.status,
                                 "reason": plan.reason, "to": plan.to_address})
            elif plan.status in messaging.NOT_STORED:  # e.g. a broken template: only its own message fails
                messages.append({"template": template.code, "channel": template.channel, "status": plan.status,
                                 "error": plan.reason})
            else:
                message, created = messaging.queue_planned(plan)
                messages.append({"template": template.code, "channel": template.channel, "message_id": message.pk,
                                 "status": message.status, "duplicate": not created})
                if created and message.status == message.Status.QUEUED and message.not_before is None:
                    messaging.deliver_after_commit([message.pk])
        return {**outcome, "result": "would send" if dry_run else "queued", "messages": messages}
    if kind == "set_priority":
        if ticket.priority == action["priority"]:
            return {**outcome, "result": "unchanged", "priority": ticket.priority}
        if not dry_run:
            services.set_priority(ticket, action["priority"], user=user, note=f"rule {rule.pk}")
        return {**outcome, "result": "would set" if dry_run else "set", "from": ticket.priority if dry_run else None,
                "priority": action["priority"]}
    if kind == "assign":
        if ticket.technician_id and not action.get("reassign", False):
            return {**outcome, "result": "skipped", "reason": f"already assigned to {ticket.technician.code}"}
        if "technician" in action:
            tech = Technician.objects.filter(code=action["technician"], is_active=True,
                                             store_id=ticket.store_id).first()
        else:
            tech = least_loaded_technician(ticket, now)
        if tech is None:
            return {**outcome, "result": "skipped", "reason": "no suitable technician"}
        if tech.pk == ticket.technician_id:
            return {**outcome, "result": "unchanged", "technician": tech.code}
        if dry_run:
            return {**outcome, "result": "would assign", "technician": tech.code}
        try:
            services.assign_and_notify(ticket, tech, user=user, note=f"rule {rule.pk}")
        except DomainError as exc:
            return {**outcome, "result": "skipped", "reason": exc.message, "technician": tech.code}
        return {**outcome, "result": "assigned", "technician": tech.code}
    if kind == "change_status":
        target = action["status"]
        if ticket.status == target:
            return {**outcome, "result": "unchanged", "status": target}
        try:
            services.check_transition(ticket.status, target)
        except DomainError as exc:
            return {**outcome, "result": "skipped", "reason": exc.message}
        if dry_run:
            return {**outcome, "result": "would change", "from": ticket.status, "status": target}
        previous = ticket.status
        services.change_status(ticket, target, user=user, note=f"automation rule {rule.pk}: {rule.name}"[:200])
        return {**outcome, "result": "changed", "from": previous, "status": target}
    if kind == "raise_alert":
        try:
            title = _render_alert_text(action["title"], ticket)[:200]
            text = _render_alert_text(action.get("message", ""), ticket)
        except TemplateProblem as exc:  # e.g. a rule stored before the template checks: only this action fails
            return {**outcome, "result": "skipped", "reason": f"the alert text cannot be rendered: {exc.message}"}
        if dry_run:
            return {**outcome, "result": "would raise", "title": title}
        alert, created = services.raise_rule_alert(rule, ticket, title=title, severity=action.get("severity", "warning"),
                                                   message=text)
        return {**outcome, "result": "raised" if created else "already open", "alert_id": alert.pk, "title": title}
    return {**outcome, "result": "skipped", "reason": "unknown action"}


# -- running --------------------------------------------------------------------------------------


def _depth():
    return getattr(_chain, "depth", 0)


def current_depth():
    """How many rule generations deep the running code is (0 outside the engine). Receivers record it when
    a change is made, so the rules that change triggers are one generation deeper however they are run."""
    return _depth()


def load_tickets(ticket_ids):
    return list(RepairTicket.objects.filter(pk__in=ticket_ids).select_related(
        "store", "customer", "repair_type", "device_model", "technician"))


def run_rules(trigger, ticket_ids, *, context=None, dry_run=False, source="event", rules=None, now=None,
              skip_fired=True, user=None, tickets=None, contexts=None, chain_depth=None, facts=None):
    """Evaluate the enabled rules of `trigger` (or the given `rules`) for these tickets.

    Returns {ticket id: [ {rule, name, matched, actions, error} ]}. Every rule whose trigger fired for
    a ticket is logged as a RuleRun in a real run; a dry run only reports (it writes nothing). Never
    raises: an action that fails rolls back that rule's actions and is logged with its error. `facts`: ticket_facts of `tickets` already computed for
    the same moment and contexts (a dry run over several triggers computes them once).
    """
    now = now or timezone.now()
    context = dict(context or {})
    context.setdefault("trigger", trigger)
    if rules is None:
        rules = list(AutomationRule.objects.filter(trigger=trigger, enabled=True).select_related("store"))
    results = {tid: [] for tid in ticket_ids}
    if not rules or not ticket_ids:
        return results
    depth = _depth() if chain_depth is None else chain_depth
    if not dry_run and depth >= settings.WORKFLOW_MAX_RULE_CHAIN:
        log.warning("rule chain deeper than %s stopped (trigger %s, tickets %s)", settings.WORKFLOW_MAX_RULE_CHAIN, trigger, ticket_ids)
        RuleRun.objects.bulk_create([
            RuleRun(rule=r, ticket_id=tid, trigger=trigger, dry_run=False, matched=False, source=source,
                    error=f"stopped: rules triggered rules more than {settings.WORKFLOW_MAX_RULE_CHAIN} deep")
            for tid in ticket_ids for r in rules
        ])
        return results
    tickets = tickets if tickets is not None else load_tickets(ticket_ids)
    contexts = {pk: {**context, **c} for pk, c in (contexts or {}).items()}
    if facts is None:
        facts = ticket_facts(tickets, now=now, context=context, contexts=contexts)
    fired = last_fired(rules, [t.pk for t in tickets]) if skip_fired else {}
    logs = []
    outer_depth = _depth()
    _chain.depth = depth + 1
    try:
        for ticket in tickets:
            ticket_context_ = contexts.get(ticket.pk, context)
            for rule in rules:
                fires, note = trigger_applies(rule, ticket, facts[ticket.pk], ticket_context_, now)
                if not fires:
                    continue
                if skip_fired and rule.trigger in (T.TICKET_IDLE, T.SLA_AT_RISK) and already_fired(rule, ticket, facts[ticket.pk], fired):
                    results[ticket.pk].append({"rule": rule.pk, "name": rule.name, "matched": True, "actions": [],
                                               "note": "already fired for this episode"})
                    continue
                matched = evaluate(rule.conditions or {}, facts[ticket.pk], TICKET_FIELDS)
                outcome = {"rule": rule.pk, "name": rule.name, "trigger": rule.trigger, "matched": matched,
                           "condition": describe(rule.conditions), "actions": [], "error": ""}
                if matched:
                    try:
                        with transaction.atomic():
                            for action in rule.actions:
                                if not dry_run:  # an earlier action (or rule) may have changed it
                                    ticket.refresh_from_db()
                                outcome["actions"].append(
                                    run_action(action, ticket, rule=rule, dry_run=dry_run, context=ticket_context_, now=now,
                                               user=user if getattr(user, "is_authenticated", False) else None))
                    except Exception as exc:  # the rule's actions are rolled back; the run log keeps the reason
                        log.exception("rule %s failed on ticket %s", rule.pk, ticket.pk)
                        outcome["error"] = f"{type(exc).__name__}: {exc}"[:500]
                        outcome["actions"].append({"result": "rolled back"})
                results[ticket.pk].append(outcome)
                logs.append(RuleRun(rule=rule, ticket=ticket, trigger=trigger, dry_run=dry_run, matched=matched,
                                    actions=outcome["actions"], error=outcome["error"], source=source,
                                    user=user if getattr(user, "is_authenticated", False) else None))
    finally:
        _chain.depth = outer_depth
    if logs and not dry_run:  # a dry run only reports: it writes nothing, not even the log
        RuleRun.objects.bulk_create(logs)
        # Most figures count runs that matched (fired in the last 7 days, the analytics' automations per period:
        # "rules"); only the overview's runs today also counts the others ("rule_runs"), which the sweep logs every
        # few minutes for tickets whose trigger fired but whose conditions did not match.
        result_cache.bump_on_commit("rule_runs", *(("rules",) if any(run.matched for run in logs) else ()))
    return results


def run_safely(trigger, ticket_ids, **kwargs):
    """For signal receivers: run the rules and swallow any error (the change that triggered them is committed)."""
    try:
        return run_rules(trigger, ticket_ids, **kwargs)
    except Exception:
        log.exception("automation rules for %s on %s failed", trigger, ticket_ids)
        return {}


ON_DEMAND_DEFAULT_TRIGGERS = (T.TICKET_IDLE, T.SLA_AT_RISK)


def run_on_demand(tickets, triage, *, triggers=ON_DEMAND_DEFAULT_TRIGGERS, rule_ids=None, dry_run=True, user=None, now=None):
    """Run the rules for chosen tickets now (the repair-automation endpoint).

    `triage` holds fresh predictions per ticket; they are set on the ticket objects so conditions on
    predicted_minutes / priority_score / predicted_late see them (and stored when not a dry run).
    Time triggers are judged on the ticket's state now; event triggers are judged as if their event
    had just happened to the ticket as it is (status_changed: into its current status).
    Returns {ticket id: [rule outcomes]}.
    """
    now = now or timezone.now()
    for ticket in tickets:
        prediction = triage.get(ticket.pk)
        if prediction:
            ticket.predicted_minutes = prediction["predicted_minutes"]
            ticket.predicted_completion_at = prediction["predicted_completion_at"]
            ticket.priority_score = prediction["priority_score"]
    rules = AutomationRule.objects.filter(enabled=True, trigger__in=list(triggers)).select_related("store")
    if rule_ids:
        rules = rules.filter(pk__in=rule_ids)
    rules = list(rules)
    outcomes = {t.pk: [] for t in tickets}
    previous = dict(TicketStatusEvent.objects.filter(ticket__in=tickets).order_by("ticket_id", "at", "id")
                    .values_list("ticket_id", "from_status"))  # last event per ticket wins
    contexts = {t.pk: {"ticket_id": t.pk, "to_status": t.status, "from_status": previous.get(t.pk)} for t in tickets}
    # The facts do not depend on the trigger; a real run re-reads them per trigger, since the rules of one
    # trigger may change the tickets the next one judges.
    facts = ticket_facts(tickets, now=now, contexts=contexts) if dry_run and tickets and rules else None
    for trigger in triggers:
        chosen = [r for r in rules if r.trigger == trigger]
        if not chosen:
            continue
        result = run_rules(trigger, [t.pk for t in tickets], dry_run=dry_run, source=RuleRun.Source.MANUAL, rules=chosen,
                           now=now, user=user, tickets=tickets, contexts=contexts, facts=facts)
        for ticket_id, items in result.items():
            outcomes[ticket_id].extend(items)
    return outcomes
