"""Reads and analytics of the workflow app: what the endpoints, the rules engine and the pages show.

Each function fetches the rows it needs for the given stores and window and hands them to a pure
method in workflow.analytics or workflow.ml; nothing here writes.
"""
from collections import defaultdict
from datetime import timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from django.conf import settings
from django.db.models import CharField, Count, Exists, F, Max, Min, OuterRef, Q
from django.db.models.functions import Cast
from django.utils import timezone

from mlanalytics.core.models import Alert

from .analytics import process as process_methods
from .analytics import qa_control
from .analytics.simulation import SimJob, SimTechnician, baseline_verdict, cycle_metrics, simulate_repair_queue
from .calendars import store_calendar, technician_calendar
from .models import (
    OPEN_STATUSES, AutomationRule, OutboxMessage, QAInspection, RepairTicket, RepairType, RuleRun, Technician,
    TicketStatus, TicketStatusEvent,
)

S = TicketStatus
COMEBACK_WINDOW_DAYS = 90
ACTIVE_STATUSES = tuple(OPEN_STATUSES)  # before ready: the cycle the SLA promises
ASSUMED = "settings (chosen by the shop, not learned from data)"


def _iso(value):
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, pd.Timestamp):
        if pd.isna(value):
            return None
        value = value.to_pydatetime()
    return value.isoformat()


def window(days, end=None):
    """(start, end) aware datetimes of the trailing `days` days ending now (or at `end`)."""
    end = end or timezone.now()
    return end - timedelta(days=days), end


def data_window(start, end, **extra):
    return {"start": _iso(start), "end": _iso(end), **extra}


def store_ids(stores):
    return [s.pk for s in stores]


# -- frames -----------------------------------------------------------------------------------------


def events_frame(ticket_filter, stores, *, pad_after_days=60):
    """Status events of the tickets matching `ticket_filter` (a Q on RepairTicket, prefixed ticket__), with
    local wall minutes and working minutes on each store's own calendar.

    Returns (events, calendars): events has ticket, store, status, at, wall, work; calendars maps store id
    to the WorkCalendar used (all calendars start on the same first day, so wall minutes are comparable).
    """
    # The time stamps come as text and are parsed by pandas in one go: for a few hundred thousand
    # events that is several times faster than converting each row to a datetime object.
    rows = list(TicketStatusEvent.objects.filter(ticket_filter).annotate(at_text=Cast("at", CharField()))
                .values_list("ticket_id", "ticket__store_id", "to_status", "at_text"))
    events = pd.DataFrame(rows, columns=["ticket", "store", "status", "at"])
    calendars = {}
    if events.empty:
        events["wall"] = pd.Series(dtype=float)
        events["work"] = pd.Series(dtype=float)
        return events, calendars
    events["at"] = pd.to_datetime(events["at"], utc=True, format="ISO8601")
    first = (events["at"].min() - pd.Timedelta(days=2)).date()
    last = max(events["at"].max(), pd.Timestamp(timezone.now())).date() + timedelta(days=pad_after_days)
    events["wall"] = np.nan
    events["work"] = np.nan
    by_id = {s.pk: s for s in stores}
    for store_id, index in events.groupby("store").groups.items():
        store = by_id.get(store_id)
        if store is None:
            continue
        cal = store_calendar(store, first, last)
        calendars[store_id] = cal
        wall = cal.to_local_minutes(events.loc[index, "at"])
        events.loc[index, "wall"] = wall
        events.loc[index, "work"] = cal.to_working(np.floor(wall).astype(np.int64))
    return events.sort_values(["ticket", "wall"], kind="stable").reset_index(drop=True), calendars


def tickets_frame(queryset, extra=()):
    fields = ["id", "reference", "store_id", "status", "priority", "received_at", "promised_at", "completed_at",
              "technician_id", "repair_type_id", "labour_minutes", "warranty_of_id", *extra]
    return datetime_frame(queryset, fields, ["received_at", "promised_at", "completed_at"])


def first_entry(events, status):
    """Per ticket, the first wall minute it entered `status`."""
    return events[events.status == status].groupby("ticket").wall.min()


# -- overview -----------------------------------------------------------------------------------------


def sla_compliance(stores, start, end):
    """Share of tickets that became ready in [start, end) by their promise."""
    done = RepairTicket.objects.filter(store__in=stores, completed_at__gte=start, completed_at__lt=end,
                                       status__in=[S.READY, S.COLLECTED], promised_at__isnull=False)
    agg = done.aggregate(n=Count("id"), kept=Count("id", filter=Q(completed_at__lte=F("promised_at"))))
    return {"tickets": agg["n"], "compliance": round(agg["kept"] / agg["n"], 4) if agg["n"] else None}


def cycle_time_summary(stores, start, end):
    """Median, mean and p90 of received → ready (wall hours) for tickets ready in [start, end)."""
    rows = RepairTicket.objects.filter(store__in=stores, completed_at__gte=start, completed_at__lt=end,
                                       status__in=[S.READY, S.COLLECTED]).values_list("received_at", "completed_at")
    hours = [(done - received).total_seconds() / 3600 for received, done in rows]
    return process_methods.describe_hours(hours)


def overview(stores, now=None):
    """The workflow at a glance for the stores: the queue, cycle time, SLA, automations, messages, alerts."""
    now = now or timezone.now()
    ids = store_ids(stores)
    tickets = RepairTicket.objects.filter(store_id__in=ids)
    by_status = dict(tickets.exclude(status__in=[S.COLLECTED, S.CANCELLED]).values_list("status").annotate(n=Count("id")))
    status_counts = {status: by_status.get(status, 0) for status in S.values if status not in (S.COLLECTED, S.CANCELLED)}
    wip = sum(by_status.get(s, 0) for s in ACTIVE_STATUSES)
    open_tickets = tickets.filter(status__in=ACTIVE_STATUSES)
    overdue = open_tickets.filter(promised_at__lt=now).count()
    at_risk = open_tickets.filter(promised_at__gte=now, promised_at__lt=now + timedelta(hours=settings.WORKFLOW_SLA_RISK_HOURS)).count()
    today = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    runs_today = RuleRun.objects.filter(at__gte=today, dry_run=False).filter(Q(ticket__store_id__in=ids) | Q(ticket__isnull=True))
    messages_today = OutboxMessage.objects.filter(created_at__gte=today, ticket__store_id__in=ids)
    rules = AutomationRule.objects.filter(Q(store__isnull=True) | Q(store_id__in=ids))
    alerts = Alert.objects.filter(store_id__in=ids).exclude(state=Alert.State.RESOLVED)
    alert_counts = dict(alerts.values_list("kind").annotate(n=Count("id")))
    per_store = []
    store_status = defaultdict(dict)
    for store_id, status, n in tickets.filter(status__in=ACTIVE_STATUSES).values_list("store_id", "status").annotate(n=Count("id")):
        store_status[store_id][status] = n
    for store in stores:
        per_store.append({"store": store.code, "wip": sum(store_status[store.pk].values()), "by_status": store_status[store.pk]})
    return {
        "data_window": data_window(now - timedelta(days=30), now, note="queue as of now; cycle time and SLA over the last 7 and 30 days"),
        "stores": [s.code for s in stores],
        "tickets_by_status": status_counts,
        "status_counts": [{"status": k, "label": S(k).label, "count": v} for k, v in status_counts.items()],
        "work_in_progress": wip,
        "overdue": overdue,
        "due_within_sla_risk_hours": at_risk,
        "per_store": per_store,
        "cycle_time_hours": {"last_7_days": cycle_time_summary(stores, now - timedelta(days=7), now),
                             "last_30_days": cycle_time_summary(stores, now - timedelta(days=30), now)},
        "sla_compliance": {"last_7_days": sla_compliance(stores, now - timedelta(days=7), now),
                           "last_30_days": sla_compliance(stores, now - timedelta(days=30), now)},
        "rules": {"active": rules.filter(enabled=True).count(), "total": rules.count()},
        "automations_today": {"runs": runs_today.count(), "matched": runs_today.filter(matched=True).count(),
                              "errors": runs_today.exclude(error="").count()},
        "messages_today": dict(messages_today.values_list("status").annotate(n=Count("id"))),
        "open_alerts": {"total": sum(alert_counts.values()), "by_kind": alert_counts},
    }


# -- triage -----------------------------------------------------------------------------------------


def _labour_features(tickets, technician_codes=None):
    rows = []
    for t in tickets:
        rows.append({
            "id": t.pk, "repair_type": t.repair_type.code, "device_category": t.device_model.category,
            "brand": t.device_model.brand,
            "technician": (technician_codes or {}).get(t.pk, t.technician.code if t.technician_id else None),
            "priority": t.priority,
            "quote_ratio": float(t.quoted_price) / float(t.repair_type.list_price) if t.quoted_price is not None and t.repair_type.list_price else np.nan,
            "is_comeback": t.warranty_of_id is not None,
        })
    return pd.DataFrame(rows)


def predict_labour_pairs(tickets, technicians):
    """{(ticket id, technician id): predicted minutes} for every pair, in one batch."""
    from . import training
    from .ml import repair_time

    record, model = training.load(training.REPAIR_TIME)
    if not tickets or not technicians:
        return {}, record
    if model is None:
        return {(t.pk, k.pk): float(t.repair_type.standard_labour_minutes) for t in tickets for k in technicians}, record
    base = _labour_features(tickets)
    frames = [base.assign(technician=k.code, technician_id=k.pk) for k in technicians]
    frame = pd.concat(frames, ignore_index=True)
    predicted = repair_time.predict_labour(model, frame)
    return {(i, k): max(5.0, float(round(p))) for i, k, p in zip(frame.id, frame.technician_id, predicted)}, record


def predict_labour_minutes(tickets, technician_codes=None):
    """{ticket id: predicted labour minutes} from the current repair_time model (standard minutes without one)."""
    from . import training
    from .ml import repair_time

    record, model = training.load(training.REPAIR_TIME)
    if model is None or not tickets:
        return {t.pk: float(t.repair_type.standard_labour_minutes) for t in tickets}, record
    frame = _labour_features(tickets, technician_codes)
    predicted = repair_time.predict_labour(model, frame)
    return dict(zip(frame.id, (float(round(p)) for p in predicted))), record


def priority_parameters():
    """The triage score's hand-set weights, from settings (WORKFLOW_PRIORITY_*)."""
    from .ml.repair_time import PriorityScoreParameters

    return PriorityScoreParameters(
        weights=dict(settings.WORKFLOW_PRIORITY_SCORE_WEIGHTS), levels=dict(settings.WORKFLOW_PRIORITY_LEVELS),
        pressure_hours=settings.WORKFLOW_SLA_PRESSURE_HOURS, age_full_hours=settings.WORKFLOW_PRIORITY_AGE_FULL_HOURS,
        unknown_pressure=settings.WORKFLOW_UNKNOWN_SLA_PRESSURE)


def priority_parameters_block():
    return {"source": ASSUMED, "assumed": True, **priority_parameters().as_dict()}


def triage(tickets, now=None):
    """Predicted labour minutes, predicted ready time and priority score for open tickets.

    Returns ({ticket id: {...}}, model record). The completion estimate adds the median remaining working
    time from the ticket's current status (learned per repair type) to when it entered that status, on
    the store's working calendar; a ticket already past that median is predicted ready now.
    """
    from . import training
    from .ml import repair_time

    now = now or timezone.now()
    score_parameters = priority_parameters()
    tickets = [t for t in tickets if t.status in ACTIVE_STATUSES]
    if not tickets:
        return {}, training.current(training.REPAIR_TIME)
    minutes, record = predict_labour_minutes(tickets)
    table = (record.output or {}).get("remaining_table", {}) if record else {}
    entered = dict(TicketStatusEvent.objects.filter(ticket_id__in=[t.pk for t in tickets]).values("ticket_id")
                   .annotate(m=Max("at")).values_list("ticket_id", "m"))
    by_store = defaultdict(list)
    for t in tickets:
        by_store[t.store_id].append(t)
    results = {}
    for store_tickets in by_store.values():
        store = store_tickets[0].store
        first = min(entered.get(t.pk) or t.received_at for t in store_tickets).date() - timedelta(days=1)
        cal = store_calendar(store, first, timezone.localdate(now) + timedelta(days=90))
        now_work = cal.to_working_scalar(int(cal.local_minute(now)))
        for t in store_tickets:
            since = entered.get(t.pk) or t.received_at
            remaining = repair_time.lookup_remaining(table, t.status, t.repair_type.code)
            if remaining is None or (isinstance(remaining, float) and np.isnan(remaining)):
                predicted_at = None
            else:
                start_work = cal.to_working_scalar(int(cal.local_minute(since)))
                ready_work = max(start_work + int(round(remaining)), now_work)
                predicted_at = cal.moment(cal.to_wall_scalar(ready_work))
            slack = (t.promised_at - predicted_at).total_seconds() / 3600 if (predicted_at and t.promised_at) else None
            hours_to_promise = (t.promised_at - now).total_seconds() / 3600 if t.promised_at else None
            score = repair_time.priority_score(t.priority, slack, (now - t.received_at).total_seconds() / 3600, t.warranty_of_id is not None,
                                               score_parameters)
            predicted_late = bool(slack is not None and slack < 0)
            near = hours_to_promise is not None and hours_to_promise <= settings.WORKFLOW_SLA_RISK_HOURS
            results[t.pk] = {
                "predicted_minutes": int(round(minutes[t.pk])), "predicted_completion_at": predicted_at,
                "priority_score": score, "slack_hours": round(slack, 2) if slack is not None else None,
                "hours_to_promise": round(hours_to_promise, 2) if hours_to_promise is not None else None,
                "sla_at_risk": bool(predicted_late or near), "predicted_late": predicted_late,
            }
    return results, record


def rules_summary(stores, now=None):
    """The automation rules that apply to the stores, with how often each fired in the last 7 days."""
    from .analytics.conditions import describe

    now = now or timezone.now()
    ids = store_ids(stores)
    rules = AutomationRule.objects.filter(Q(store__isnull=True) | Q(store_id__in=ids)).select_related("store").order_by("order", "id")
    counts = dict(RuleRun.objects.filter(at__gte=now - timedelta(days=7), dry_run=False, matched=True, ticket__store_id__in=ids)
                  .values("rule_id").annotate(n=Count("id")).values_list("rule_id", "n"))
    return [{"id": r.pk, "name": r.name, "trigger": r.trigger, "store": r.store.code if r.store_id else None, "enabled": r.enabled,
             "condition": describe(r.conditions or {}), "actions": ", ".join(a.get("type", "?") for a in r.actions or []),
             "fired_last_7_days": counts.get(r.pk, 0)} for r in rules]


def serialize_triage(entry):
    return {**entry, "predicted_completion_at": _iso(entry["predicted_completion_at"])}


def open_tickets(stores, *, references=None, statuses=None, limit=None):
    tickets = RepairTicket.objects.filter(store__in=stores).select_related(
        "store", "customer", "repair_type", "device_model", "technician")
    if references:
        tickets = tickets.filter(reference__in=references)
    else:
        tickets = tickets.filter(status__in=statuses or ACTIVE_STATUSES)
    tickets = tickets.order_by("promised_at", "received_at")
    return list(tickets[:limit] if limit else tickets)


# -- quality assurance ---------------------------------------------------------------------------------


def _chart_rows(table, labels, stores_of=None, complement=None):
    """Rows of a p-chart; `complement` names 1 − rate where it reads better (QA: pass_rate)."""
    rows = []
    for r in table.itertuples():
        row = {
            "key": str(r.key), "label": labels.get(r.key, str(r.key)), "n": int(r.n), "x": int(r.x),
            "rate": round(float(r.p), 4) if r.n else None, "lcl": round(float(r.lcl), 4), "ucl": round(float(r.ucl), 4),
            "signal": r.signal, "out_of_control": bool(r.out_of_control), "judged": bool(r.judged),
        }
        if complement:
            row[complement] = round(1 - float(r.p), 4) if r.n else None
        if stores_of is not None:
            row["store"] = stores_of.get(r.key)
        rows.append(row)
    return rows


def _supplier_pairs(suppliers):
    """{ticket: [supplier ids]} as a frame of (ticket, key) pairs, built once for every chart that needs it."""
    tickets = np.fromiter((t for t, used in suppliers.items() for _ in used), dtype=np.int64)
    keys = np.fromiter((sup for used in suppliers.values() for sup in used), dtype=np.int64)
    return pd.DataFrame({"ticket": tickets, "key": keys})


def _per_supplier(frame, pairs):
    """Explode per-ticket rows (ticket, n, x) into per-supplier rows, a ticket counting for each supplier it used
    (`pairs`: _supplier_pairs of the tickets' parts)."""
    exploded = pairs.merge(frame[["ticket", "n", "x"]].astype({"ticket": np.int64}), on="ticket")
    if exploded.empty:
        return pd.DataFrame(columns=["key", "n", "x"])
    return exploded.groupby("key")[["n", "x"]].sum().reset_index()


def qa_report(stores, *, window_days=180, z=qa_control.Z, min_n=qa_control.MIN_SUBGROUP, recent_days=30, top=20, now=None):
    """QA pass rate and comeback rate by technician, repair type and part supplier with p-chart limits,
    out-of-control flags, a weekly p-chart, and the comeback-risk score of recent repairs.

    The database counts per ticket (one GROUP BY each for inspections and repairs); the charts are cut
    from those counts. Once a technician is out of control, their work is an assignable cause: it is
    left out of the repair-type and supplier charts so that one person's problem is not blamed on a
    repair type or a supplier (Phase I practice, Montgomery §7.2.1).
    """
    from inventory.models import Supplier

    from . import training
    from .ml import comeback_risk

    recent_days = min(recent_days, window_days)
    now = now or timezone.now()
    start = now - timedelta(days=window_days)
    follow_end = now - timedelta(days=COMEBACK_WINDOW_DAYS)
    recent_start = now - timedelta(days=recent_days)
    ids = store_ids(stores)
    techs = list(Technician.objects.filter(store_id__in=ids).select_related("store"))
    tech_code = {t.pk: t.code for t in techs}
    type_code = dict(RepairType.objects.values_list("pk", "code"))
    supplier_code = dict(Supplier.objects.values_list("pk", "code"))
    labels = {
        "technician": {t.code: f"{t.name} ({t.code})" for t in techs},
        "repair_type": dict(RepairType.objects.values_list("code", "name")),
        "supplier": dict(Supplier.objects.values_list("code", "name")),
    }
    tech_store = {t.code: t.store.code for t in techs}
    store_id_of = {s.code: s.pk for s in stores}

    # Per ticket: QA inspections in the window and how many failed.
    inspections = QAInspection.objects.filter(ticket__store_id__in=ids, inspected_at__gte=start, inspected_at__lt=now)
    qa = pd.DataFrame(list(inspections.values("ticket_id").annotate(
        n=Count("id"), x=Count("id", filter=Q(passed=False)), first=Min(Cast("inspected_at", CharField())),
    ).values_list("ticket_id", "ticket__technician_id", "ticket__repair_type_id", "n", "x", "first")),
        columns=["ticket", "technician", "repair_type", "n", "x", "first"])
    # Per repair whose 90-day follow-up has closed: did it come back?
    repairs_q = RepairTicket.objects.filter(
        store_id__in=ids, completed_at__gte=start, completed_at__lt=follow_end, status__in=[S.READY, S.COLLECTED],
        labour_minutes__isnull=False,
    ).annotate(came_back=Exists(RepairTicket.objects.filter(
        warranty_of=OuterRef("pk"), received_at__lte=OuterRef("completed_at") + timedelta(days=COMEBACK_WINDOW_DAYS))))
    repairs = pd.DataFrame(list(repairs_q.values_list("id", "technician_id", "repair_type_id", "came_back")),
                           columns=["ticket", "technician", "repair_type", "x"])
    repairs["n"] = 1
    repairs["x"] = repairs.x.astype(int)
    # Parts used by those tickets (consumption happens after booking in, so a margin before the window is enough).
    suppliers = training.consumption_suppliers(ids, start - timedelta(days=60), now)
    supplier_pairs = _supplier_pairs(suppliers)

    flags = []
    sections = {}
    for metric, frame in (("qa_fail_rate", qa), ("comeback_rate", repairs)):
        frame = frame.assign(technician=frame.technician.map(tech_code), repair_type=frame.repair_type.map(type_code))
        section = {"n": int(frame.n.sum()), "x": int(frame.x.sum())}
        section["rate"] = round(section["x"] / section["n"], 4) if section["n"] else None
        flagged_techs = []
        for dimension in ("technician", "repair_type", "supplier"):
            scoped = frame if dimension == "technician" or not flagged_techs else frame[~frame.technician.isin(flagged_techs)]
            if dimension == "supplier":
                counts = _per_supplier(scoped, supplier_pairs)
                counts["key"] = counts.key.map(supplier_code)
            else:
                counts = scoped.groupby(dimension)[["n", "x"]].sum().reset_index().rename(columns={dimension: "key"})
            counts = counts[counts.key.notna()]
            if counts.empty:
                section[f"by_{dimension}"] = {"centre": None, "rows": []}
                continue
            table, centre = qa_control.p_chart(counts, z=z, min_n=min_n)
            rows = _chart_rows(table, labels[dimension], tech_store if dimension == "technician" else None,
                               complement="pass_rate" if metric == "qa_fail_rate" else None)
            section[f"by_{dimension}"] = {"centre": round(centre, 4), "rows": rows}
            if dimension != "technician" and flagged_techs:
                section[f"by_{dimension}"]["excluded_technicians"] = flagged_techs
            for row in rows:
                if not row["out_of_control"]:
                    continue
                if dimension == "technician":
                    flagged_techs.append(row["key"])
                store_code = row.get("store")
                flags.append({
                    "metric": metric, "dimension": dimension, "key": row["key"], "label": row["label"],
                    "store": store_code, "store_id": store_id_of.get(store_code), "n": row["n"], "x": row["x"],
                    "p": row["rate"], "ucl": row["ucl"], "centre": round(centre, 4),
                })
        sections[metric] = section

    # Weekly p-chart of the QA failure proportion for the whole scope, against the in-control centre line.
    weekly = []
    if len(qa):
        # A ticket's inspections fall in the week of its first one (a rework is re-inspected within days).
        week = _period(pd.to_datetime(qa["first"], utc=True, format="ISO8601"), "week")
        periods = qa.groupby(week)[["n", "x"]].sum().rename_axis("period").reset_index()
        centre = sections["qa_fail_rate"]["by_technician"]["centre"]
        chart, _ = qa_control.p_chart_over_time(periods, z=z, centre=centre)
        weekly = [{"week": r.period.date().isoformat(), "n": int(r.n), "x": int(r.x), "rate": round(float(r.p), 4),
                   "lcl": round(float(r.lcl), 4), "ucl": round(float(r.ucl), 4), "signal": r.signal} for r in chart.itertuples()]

    # Comeback risk of recent repairs (their 90-day window is still open, and they have not come back yet).
    record, model = training.load(training.COMEBACK_RISK)
    recent = pd.DataFrame(list(RepairTicket.objects.filter(
        store_id__in=ids, completed_at__gte=recent_start, completed_at__lt=now, status__in=[S.READY, S.COLLECTED],
        labour_minutes__isnull=False, comebacks__isnull=True,
    ).values_list("id", "reference", "technician_id", "repair_type_id", "repair_type__device_category", "labour_minutes",
                  "repair_type__standard_labour_minutes", "completed_at", "warranty_of_id")),
        columns=["id", "reference", "technician", "repair_type", "device_category", "labour", "standard", "completed", "warranty_of"])
    risk_rows, risk_by_technician, risk_summary = [], [], {"repairs": int(len(recent))}
    if model is not None and len(recent):
        failed_recent = set(qa.ticket[qa.x > 0])  # the QA window covers the recent repairs' inspections
        recent = recent.assign(
            technician=recent.technician.map(tech_code), repair_type=recent.repair_type.map(type_code),
            supplier=recent.id.map(lambda i: supplier_code.get((suppliers.get(i) or [None])[0], "none")),
            labour_ratio=recent.labour / recent.standard, qa_failed=recent.id.isin(failed_recent),
            is_comeback=recent.warranty_of.notna(),
        )
        # The track record as it stands now (aggregated in the database; the model learned it as it stood
        # when each past repair was done, and now is when these are scored), without each repair's own
        # inspections, which training never counts in its record.
        recent = training.features_now(recent, now)
        recent["risk"] = comeback_risk.predict_comeback(model, recent)
        base_rate = record.metrics.get("base_rate") or 0
        risk_summary.update({
            "mean_risk": round(float(recent.risk.mean()), 4),
            "expected_comebacks": round(float(recent.risk.sum()), 1),
            "base_rate": base_rate,
            "above_twice_base_rate": int((recent.risk > 2 * base_rate).sum()),
        })
        for r in recent.sort_values("risk", ascending=False).head(top).itertuples():
            risk_rows.append({"ticket": r.reference, "technician": r.technician, "repair_type": r.repair_type,
                              "supplier": r.supplier, "completed_at": _iso(r.completed), "risk": round(float(r.risk), 4)})
        for code, group in recent.groupby("technician"):
            risk_by_technician.append({"technician": code, "store": tech_store.get(code), "repairs": int(len(group)),
                                       "mean_risk": round(float(group.risk.mean()), 4),
                                       "lift": round(float(group.risk.mean()) / base_rate, 2) if base_rate else None})
        risk_by_technician.sort(key=lambda r: -r["mean_risk"])
    return {
        "data_window": data_window(start, now, comeback_follow_up={"repairs_completed_before": _iso(follow_end),
                                                                    "days": COMEBACK_WINDOW_DAYS},
                                   recent_repairs_since=_iso(recent_start)),
        "method": "p-chart with variable subgroup sizes, exact binomial probability limits at the 3-sigma tail (0.00135), Phase I trial limits (Montgomery §7.2)",
        "z": z, "min_subgroup": min_n,
        "qa": {**sections["qa_fail_rate"], "pass_rate": round(1 - sections["qa_fail_rate"]["rate"], 4) if sections["qa_fail_rate"]["rate"] is not None else None,
               "weekly": weekly},
        "comebacks": sections["comeback_rate"],
        "out_of_control": flags,
        "comeback_risk": {"summary": risk_summary, "highest": risk_rows, "by_technician": risk_by_technician},
        "model": training.model_block(record),
    }


# -- process performance and the what-if simulation -------------------------------------------------------

ALL_SKILLS = "all"


def _technician_table(stores):
    techs = list(Technician.objects.filter(store__in=stores, is_active=True).select_related("store").prefetch_related("skills"))
    return techs, {t.pk: frozenset(s.code for s in t.skills.all()) for t in techs}


def _process_frames(stores, start, end, warmup_days):
    """Tickets received in [start − warmup, end) of the stores, their events (wall/working minutes) and QA fails."""
    ids = store_ids(stores)
    since = start - timedelta(days=warmup_days)
    tickets = tickets_frame(RepairTicket.objects.filter(store_id__in=ids, received_at__gte=since, received_at__lt=end),
                            extra=("repair_type__code", "repair_type__standard_labour_minutes"))
    events, calendars = events_frame(Q(ticket__store_id__in=ids, ticket__received_at__gte=since, ticket__received_at__lt=end), stores)
    failed = set(QAInspection.objects.filter(ticket__store_id__in=ids, ticket__received_at__gte=since, ticket__received_at__lt=end,
                                             passed=False).values_list("ticket_id", flat=True))
    return tickets, events, calendars, failed


def _first_pass_ratios(tickets, failed):
    """labour ÷ standard minutes per repair that passed QA first time and is not a comeback (technician_id, ratio)."""
    done = tickets[tickets.labour_minutes.notna() & tickets.technician_id.notna() & tickets.warranty_of_id.isna()
                   & ~tickets.id.isin(failed)]
    return pd.DataFrame({"technician_id": done.technician_id.astype(int),
                         "ratio": done.labour_minutes.astype(float) / done.repair_type__standard_labour_minutes.astype(float)})


def _rework_ratios(tickets, failed, efficiency):
    """Extra work of each QA failure relative to the first attempt: labour ÷ (standard × the technician's
    speed) − 1, over failed repairs (not comebacks) whose technician's speed is known."""
    f = tickets[tickets.id.isin(failed) & tickets.labour_minutes.notna() & tickets.warranty_of_id.isna()
                & tickets.technician_id.isin(list(efficiency))]
    speed = f.technician_id.map(efficiency).astype(float)
    return (f.labour_minutes.astype(float) / f.repair_type__standard_labour_minutes.astype(float) / speed - 1.0).to_numpy()


class SimulationHistory:
    """The longer record the simulation falls back on when a store's window holds too little to measure
    something: repairs of every store completed in the last WORKFLOW_SIMULATION_HISTORY_DAYS (fetched once,
    on first use). Pooling across stores is fair here: these are properties of the repair process (how
    much extra work a QA failure costs, a technician's speed), not of one store's figures."""

    def __init__(self, end):
        self.end = end
        self.days = settings.WORKFLOW_SIMULATION_HISTORY_DAYS
        self._frame = None

    def _load(self):
        if self._frame is None:
            start = self.end - timedelta(days=self.days)
            done = RepairTicket.objects.filter(completed_at__gte=start, completed_at__lt=self.end, labour_minutes__isnull=False)
            self._frame = pd.DataFrame(list(done.values_list(
                "id", "technician_id", "labour_minutes", "warranty_of_id", "repair_type__standard_labour_minutes")),
                columns=["id", "technician_id", "labour_minutes", "warranty_of_id", "repair_type__standard_labour_minutes"])
            self.failed = set(QAInspection.objects.filter(passed=False, ticket__in=done).values_list("ticket_id", flat=True))
            ratios = _first_pass_ratios(self._frame, self.failed)
            self.ratios = {k: g.to_numpy() for k, g in ratios.groupby("technician_id").ratio}
        return self._frame

    def technician_ratios(self, technician_id):
        self._load()
        return self.ratios.get(technician_id, np.array([]))

    def pooled_speed(self, min_n):
        """(median of the measured speeds of every technician with at least min_n repairs, how many technicians)."""
        self._load()
        speeds = [float(np.median(r)) for r in self.ratios.values() if len(r) >= min_n]
        return (float(np.median(speeds)), len(speeds)) if speeds else (None, 0)

    def rework_ratios(self, min_n):
        frame = self._load()
        speeds = {k: float(np.median(r)) for k, r in self.ratios.items() if len(r) >= min_n}
        return _rework_ratios(frame, self.failed, speeds)


def estimate_speeds(technicians, tickets, failed, history, min_n, window_text):
    """{technician id: (speed, source)}: minutes needed per standard minute, measured from the technician's
    first-pass repairs in the window, else over the history, else the pooled median of the technicians
    with enough repairs (a new technician is taken to work at the typical measured speed). None when
    there is nothing to measure at all."""
    window = {k: g.to_numpy() for k, g in _first_pass_ratios(tickets, failed).groupby("technician_id").ratio}
    speeds = {}
    for tech in technicians:
        own = window.get(tech.pk, np.array([]))
        if len(own) >= min_n:
            speeds[tech.pk] = (float(np.median(own)), f"measured: median labour ÷ standard minutes of {len(own)} first-pass repairs in {window_text}")
            continue
        longer = history.technician_ratios(tech.pk)
        if len(longer) >= min_n:
            speeds[tech.pk] = (float(np.median(longer)), f"measured: {len(longer)} first-pass repairs over the last {history.days} days "
                                                         f"({len(own)} in the window)")
            continue
        pooled, k = history.pooled_speed(min_n)
        speeds[tech.pk] = (pooled, f"pooled: median speed of {k} technicians over the last {history.days} days "
                                   f"(own repairs too few: {len(longer)})") if pooled is not None else (None, "no repairs to measure a speed from")
    return speeds


def estimate_rework_share(store_tickets, failed, speeds, history, min_n, store_code, window_text):
    """(share, source, n): extra standard work a QA failure costs relative to the first attempt, the median
    over the store's failed repairs in the window, else over every store's in the history. (None, reason, n)
    when fewer than min_n failed repairs can be measured anywhere."""
    known = {k: v for k, (v, _) in speeds.items() if v is not None}
    here = _rework_ratios(store_tickets, failed, known)
    if len(here) >= min_n:
        return max(float(np.median(here)), 0.0), f"measured: median extra labour of {len(here)} repairs that failed QA at {store_code} in {window_text}", len(here)
    pooled = history.rework_ratios(min_n)
    if len(pooled) >= min_n:
        return (max(float(np.median(pooled)), 0.0),
                f"measured: median extra labour of {len(pooled)} repairs that failed QA at all stores over the last {history.days} days "
                f"({len(here)} at {store_code} in the window, fewer than {min_n})", len(pooled))
    return None, f"only {len(pooled)} repairs that failed QA can be measured (at least {min_n} are needed)", len(pooled)


def _qc_minutes(events):
    """{ticket: [working minutes of each quality check, in order]} from the status events."""
    ev = events[["ticket", "status", "wall", "work"]]
    next_work = ev.groupby("ticket").work.shift(-1)
    is_qc = (ev.status == S.QUALITY_CHECK).to_numpy()
    qc_minutes = {}
    for ticket, minutes in zip(ev.ticket.to_numpy()[is_qc], (next_work - ev.work).to_numpy()[is_qc]):
        if not np.isnan(minutes):
            qc_minutes.setdefault(ticket, []).append(float(minutes))
    return qc_minutes


def estimate_qc_minutes(store_qc, all_qc, min_n, store_code, window_text):
    """(median working minutes of a quality check, source) for jobs whose own check is not in the data yet:
    the store's checks in the window, else every requested store's; (None, reason) when too few."""
    here = [m for values in store_qc.values() for m in values]
    if len(here) >= min_n:
        return float(np.median(here)), f"measured: median of {len(here)} quality checks at {store_code} in {window_text}"
    pooled = [m for values in all_qc.values() for m in values]
    if len(pooled) >= min_n:
        return float(np.median(pooled)), f"measured: median of {len(pooled)} quality checks at the requested stores in {window_text}"
    return None, f"only {len(pooled)} quality checks in {window_text} (at least {min_n} are needed)"


def _sim_jobs(store_tickets, store_events, failed, speeds, skills_of_type, rework_share, qc_minutes, median_qc):
    """SimJobs of one store: queue entry (first in_repair), technician-independent work, QC times, rework."""
    ev = store_events[["ticket", "status", "wall"]]
    queue_entry = ev[ev.status == S.IN_REPAIR].groupby("ticket").wall.min().to_dict()
    jobs = []
    for ticket_id, technician_id, labour, standard, type_code in zip(
        store_tickets.id, store_tickets.technician_id, store_tickets.labour_minutes,
        store_tickets.repair_type__standard_labour_minutes, store_tickets.repair_type__code,
    ):
        entry = queue_entry.get(ticket_id)
        if entry is None:
            continue
        was_failed = ticket_id in failed
        speed = speeds.get(technician_id) if pd.notna(technician_id) else None
        if pd.notna(labour) and speed is not None:
            size = float(labour) / float(speed) / ((1 + rework_share) if was_failed else 1.0)
        else:  # not finished yet: the catalogue's standard minutes are the size of a standard job
            size = float(standard)
        qcs = qc_minutes.get(ticket_id) or [median_qc]
        jobs.append(SimJob(
            id=ticket_id, queue_entry=float(entry), size=size, skills=skills_of_type.get(type_code, frozenset()),
            qc_working_minutes=qcs[0], rework_size=size * rework_share if was_failed else 0.0,
            rework_qc_working_minutes=qcs[1] if len(qcs) > 1 else median_qc,
        ))
    return jobs


def _scenario_technicians(store, scenario, first, last, all_skill_codes, base_techs, typical_speed):
    """The scenario's roster: today's technicians less the absent ones, plus the extra ones (at the speed the
    scenario gives, else the store's typical measured speed)."""
    extra = []
    for n, spec in enumerate(scenario.get("extra_technicians") or []):
        weekdays = spec.get("weekdays") or [6]
        opening = store.opening_hours or {}
        minutes = {str(d): int(spec.get("minutes") or 24 * 60) if opening.get(str(d)) else 0 for d in weekdays}
        skills = frozenset(all_skill_codes if spec.get("skills", ALL_SKILLS) == ALL_SKILLS else spec["skills"])
        for k in range(int(spec.get("count", 1))):
            extra.append(SimTechnician(
                id=f"extra-{n + 1}-{k + 1}", skills=skills, efficiency=float(spec.get("efficiency") or typical_speed),
                calendar=store_calendar(store, first, last, shift_minutes=minutes),
            ))
    absent = set(scenario.get("absent_technicians") or [])
    kept = [SimTechnician(t.id, t.skills, t.efficiency, t.calendar) for t in base_techs if t.id not in absent]
    return kept + extra


def _resample_jobs(jobs, factor, received, promised, seed=0):
    """Scale the work: keep a random share (factor < 1) or add copies of random jobs shifted by whole weeks
    (factor > 1), so weekday and time-of-day patterns are kept. Returns (jobs, received, promised)."""
    if abs(factor - 1.0) < 1e-9 or not jobs:
        return jobs, received, promised
    rng = np.random.default_rng(seed)
    if factor < 1:
        keep = rng.random(len(jobs)) < factor
        return [j for j, k in zip(jobs, keep) if k], received, promised
    extra = int(round(len(jobs) * (factor - 1)))
    received, promised = dict(received), dict(promised)
    clones = []
    for n, index in enumerate(rng.integers(0, len(jobs), extra)):
        job = jobs[index]
        shift = float(rng.choice([-7, 7]) * 1440)
        clone_id = f"clone-{n}"
        clones.append(SimJob(clone_id, job.queue_entry + shift, job.size, job.skills, job.qc_working_minutes,
                             job.rework_size, job.rework_qc_working_minutes))
        received[clone_id] = received[job.id] + shift
        promised[clone_id] = promised[job.id] + shift
    return jobs + clones, received, promised


def simulate_store(store, tickets, events, calendar, failed, techs, tech_skills, skills_of_type, all_skill_codes,
                   start_wall, end_wall, warm_wall, scenario, *, history, all_qc, window_text):
    """Baseline (today's technicians) and scenario runs of one store's queue, compared with what happened.

    Everything the replay needs is measured: each technician's speed, the extra work of a QA failure
    (rework share) and the quality-check time of jobs whose check is not in the data yet — from the
    store's window, else from a longer or pooled record (the source is reported). When something
    cannot be measured at all the store is not simulated and `refused` says why. The scenario is
    `trusted` only when the baseline reproduces the measured mean cycle time within the tolerance."""
    min_n = settings.WORKFLOW_SIMULATION_MIN_SAMPLES
    tolerance = settings.WORKFLOW_SIMULATION_TOLERANCE
    store_tickets = tickets[tickets.store_id == store.pk]
    store_events = events[events.store == store.pk]
    store_techs = [t for t in techs if t.store_id == store.pk]
    speeds = estimate_speeds(store_techs, store_tickets, failed, history, min_n, window_text)
    # Work done by technicians no longer on the roster (or elsewhere) still needs their speed to size it.
    former = set(store_tickets.technician_id.dropna().astype(int)) - {t.pk for t in store_techs}
    if former:
        speeds.update(estimate_speeds(list(Technician.objects.filter(pk__in=former)), store_tickets, failed, history, min_n, window_text))
    base = {"store": store.code, "technicians": len(store_techs)}
    unknown = [t.code for t in store_techs if speeds[t.pk][0] is None]
    if unknown:
        return {**base, "refused": f"no repairs to measure the speed of {', '.join(unknown)} from", "trusted": False}
    failed_here = bool(set(store_tickets.id) & failed)
    rework_share, rework_source, _ = estimate_rework_share(store_tickets, failed, speeds, history, min_n, store.code, window_text)
    if rework_share is None and failed_here:
        return {**base, "refused": f"the extra work of a QA failure cannot be measured: {rework_source}", "trusted": False}
    qc_minutes = _qc_minutes(store_events)
    median_qc, qc_source = estimate_qc_minutes(qc_minutes, all_qc, min_n, store.code, window_text)
    speed_of = {k: v for k, (v, _) in speeds.items()}
    jobs = _sim_jobs(store_tickets, store_events, failed, speed_of, skills_of_type, rework_share or 0.0, qc_minutes, median_qc)
    if median_qc is None and any(j.qc_working_minutes is None or (j.rework_size and j.rework_qc_working_minutes is None) for j in jobs):
        return {**base, "refused": f"quality-check time cannot be measured: {qc_source}", "trusted": False}

    first, last = calendar.first_day, calendar.first_day + timedelta(days=calendar.n_days - 1)
    base_techs = [SimTechnician(t.pk, tech_skills[t.pk], speed_of[t.pk], technician_calendar(t, first, last)) for t in store_techs]
    received = dict(zip(store_tickets.id, calendar.to_local_minutes(store_tickets.received_at)))
    promised = dict(zip(store_tickets.id, calendar.to_local_minutes(store_tickets.promised_at)))
    actual_ready = store_events[store_events.status == S.READY].groupby("ticket").wall.min().to_dict()
    in_window = [j.id for j in jobs if received[j.id] >= start_wall]
    compared = [i for i in in_window if i in actual_ready]

    baseline = simulate_repair_queue(jobs, base_techs, calendar)
    typical_speed = float(np.median([t.efficiency for t in base_techs])) if base_techs else history.pooled_speed(min_n)[0]
    scenario_techs = _scenario_technicians(store, scenario, first, last, all_skill_codes, base_techs, typical_speed)
    scenario_jobs, received_s, promised_s = _resample_jobs(jobs, float(scenario.get("demand_factor") or 1.0), received, promised)
    changed = simulate_repair_queue(scenario_jobs, scenario_techs, calendar)
    scenario_ids = [j.id for j in scenario_jobs if received_s[j.id] >= start_wall and (j.id in actual_ready or str(j.id).startswith("clone"))]

    def metrics(ids, ready, rec=received, prom=promised):
        return cycle_metrics([rec[i] for i in ids], [ready.get(i, np.nan) for i in ids], [prom[i] for i in ids])

    measured = metrics(compared, actual_ready)
    simulated = metrics(compared, baseline.ready)
    after = metrics(scenario_ids, changed.ready, received_s, promised_s)
    entry = {j.id: j.queue_entry for j in jobs}
    repair_measured = process_methods.describe_hours([(actual_ready[i] - entry[i]) / 60 for i in compared])
    repair_simulated = process_methods.describe_hours([(baseline.ready[i] - entry[i]) / 60 for i in compared if i in baseline.ready])

    def pct(a, b):
        return round(100 * (a - b) / b, 2) if a is not None and b else None

    def unserved(result, ids):
        wanted = set(ids)
        waiting = {j: skills for j, skills in result.unserved.items() if j in wanted}
        by_skills = defaultdict(int)
        for skills in waiting.values():
            by_skills[", ".join(skills) or "none"] += 1
        return {"tickets": len(waiting), "by_required_skills": dict(by_skills)}

    baseline_unserved = unserved(baseline, compared)
    error, within, trusted, reasons = baseline_verdict(simulated["mean_hours"], measured["mean_hours"], baseline_unserved["tickets"],
                                                       tolerance)
    if baseline_unserved["tickets"]:
        # The data says someone did these repairs; the roster says nobody may: the skills table or the data is off.
        reasons[-1] += f" (skills: {'; '.join(baseline_unserved['by_required_skills'])})"
    scenario_unserved = unserved(changed, scenario_ids)
    # Shift minutes over the simulated period (warm-up included), for the simulated utilisation.
    window_minutes = {t.id: t.calendar.open_minutes_on(int(warm_wall // 1440), int((end_wall - 1) // 1440))
                      for t in base_techs + scenario_techs}
    return {
        **base,
        "tickets_compared": len(compared),
        "jobs_simulated": len(jobs),
        "inputs": {
            "rework_share": {"value": round(rework_share, 3) if rework_share is not None else None, "source": rework_source},
            "quality_check_working_minutes": {"value": round(median_qc, 1) if median_qc is not None else None, "source": qc_source,
                                              "used_for": "jobs whose own quality check is not in the data yet"},
            "technician_speed": [{"technician": t.code, "minutes_per_standard_minute": round(speeds[t.pk][0], 3),
                                  "source": speeds[t.pk][1]} for t in store_techs],
        },
        "rework_share": round(rework_share, 3) if rework_share is not None else None,
        "measured": measured,
        "simulated_baseline": {**simulated, "unserved": baseline_unserved},
        "baseline_error_pct": {"mean_hours": error, "median_hours": pct(simulated["median_hours"], measured["median_hours"])},
        "baseline_within_tolerance": bool(within),
        "tolerance_pct": round(100 * tolerance, 2),
        "in_repair_to_ready_hours": {"measured": repair_measured, "simulated_baseline": repair_simulated},
        "scenario": {**after, "technicians": len(scenario_techs), "unserved": scenario_unserved,
                     "extra_technician_speed": {"value": round(typical_speed, 3) if typical_speed is not None else None,
                                                "source": "median measured speed of the store's technicians, unless the scenario sets one"}},
        "trusted": bool(trusted),
        "untrusted_reason": "; ".join(reasons) if not trusted else None,
        "change": {
            "mean_hours": round(after["mean_hours"] - simulated["mean_hours"], 2) if after["mean_hours"] is not None and simulated["mean_hours"] is not None else None,
            "sla_compliance": round(after["sla_compliance"] - simulated["sla_compliance"], 4)
            if after["sla_compliance"] is not None and simulated["sla_compliance"] is not None else None,
        },
        "_busy": {"baseline": baseline.busy_minutes, "scenario": changed.busy_minutes},
        "_window_minutes": window_minutes,
    }


def describe_scenario(scenario):
    parts = []
    names = {1: "Mondays", 2: "Tuesdays", 3: "Wednesdays", 4: "Thursdays", 5: "Fridays", 6: "Saturdays", 7: "Sundays"}
    for spec in scenario.get("extra_technicians") or []:
        days = ", ".join(names[d] for d in spec.get("weekdays") or [6])
        skills = "all skills" if spec.get("skills", ALL_SKILLS) == ALL_SKILLS else ", ".join(spec["skills"])
        parts.append(f"{spec.get('count', 1)} more technician(s) on {days} ({skills})")
    absent = scenario.get("absent_technician_codes") or scenario.get("absent_technicians")
    if absent:
        parts.append(f"without {', '.join(map(str, absent))}")
    if abs(float(scenario.get("demand_factor") or 1.0) - 1) > 1e-9:
        parts.append(f"intake × {scenario['demand_factor']}")
    return "; ".join(parts) or "no change"


def process_performance(stores, *, window_days=28, scenario=None, warmup_days=7, now=None):
    """Time in each stage (median, p90), the bottleneck, technician utilisation and productivity,
    Little's law, in-repair → ready by repair type, and the what-if simulation per store."""
    now = now or timezone.now()
    scenario = scenario if scenario is not None else {"extra_technicians": [{"weekdays": [6], "skills": ALL_SKILLS, "count": 1}]}
    start, end = now - timedelta(days=window_days), now
    tickets, events, calendars, failed = _process_frames(stores, start, end, warmup_days)
    techs, tech_skills = _technician_table(stores)
    all_skill_codes = sorted(set().union(*tech_skills.values())) if tech_skills else []
    skills_of_type = {rt.code: frozenset(s.code for s in rt.required_skills.all()) for rt in RepairType.objects.prefetch_related("required_skills")}
    base = {"data_window": data_window(start, end, warmup_days=warmup_days), "scenario": {**scenario, "description": describe_scenario(scenario)}}
    if events.empty:
        return {**base, "stages": [], "bottleneck": None, "littles_law": None, "technicians": [], "in_repair_to_ready_by_repair_type": [],
                "simulation": {"stores": []}}

    any_cal = next(iter(calendars.values()))
    start_wall = float(any_cal.to_local_minutes([start])[0])
    end_wall = float(any_cal.to_local_minutes([end])[0])

    # Stage times of visits that began in the window.
    stages = process_methods.stage_times(events[["ticket", "status", "wall", "work"]])
    stages = stages[(stages.start_wall >= start_wall) & (stages.start_wall < end_wall)]
    summary = process_methods.stage_summary(stages)

    # Little's law over the window: tickets in the system from received to ready (or closed).
    received = first_entry(events, S.RECEIVED)
    leave = events[events.status.isin([S.READY, S.CANCELLED])].groupby("ticket").wall.min()
    little = process_methods.littles_law(received.to_numpy(), leave.reindex(received.index).to_numpy(), start_wall, end_wall)

    # Technicians: utilisation (labour of repairs finished in the window / shift minutes) and repairs per day.
    ready_at = first_entry(events, S.READY)
    in_repair_at = first_entry(events, S.IN_REPAIR)
    finished = tickets[tickets.id.isin(ready_at.index[(ready_at >= start_wall) & (ready_at < end_wall)])]
    labour = finished.groupby("technician_id").labour_minutes.sum()
    count = finished.groupby("technician_id").size()
    rows = []
    first_day = int(start_wall // 1440)
    last_day = int((end_wall - 1) // 1440)
    cal_first = any_cal.first_day
    cal_last = cal_first + timedelta(days=any_cal.n_days - 1)
    for t in techs:
        cal = technician_calendar(t, cal_first, cal_last)
        available = cal.open_minutes_on(first_day, last_day)
        days = int((cal.open_minutes[max(first_day, 0): last_day + 1] > 0).sum())
        done = int(count.get(t.pk, 0))
        rows.append({
            "technician": t.code, "name": t.name, "store": t.store.code, "repairs": done, "days_worked": days,
            "repairs_per_day": round(done / days, 2) if days else None,
            "labour_minutes": int(labour.get(t.pk, 0) or 0), "shift_minutes": available,
            "utilisation": round(float(labour.get(t.pk, 0) or 0) / available, 4) if available else None,
        })
    total_available = sum(r["shift_minutes"] for r in rows)
    utilisation = round(sum(r["labour_minutes"] for r in rows) / total_available, 4) if total_available else None

    # In repair -> ready by repair type (tickets ready in the window).
    by_type = []
    spans = pd.DataFrame({"ticket": finished.id, "repair_type": finished.repair_type__code})
    spans["hours"] = (spans.ticket.map(ready_at) - spans.ticket.map(in_repair_at)) / 60.0
    ready_work = events[events.status == S.READY].groupby("ticket").work.min()
    repair_work = events[events.status == S.IN_REPAIR].groupby("ticket").work.min()
    spans["working_hours"] = (spans.ticket.map(ready_work) - spans.ticket.map(repair_work)) / 60.0
    for code, group in spans.groupby("repair_type"):
        by_type.append({"repair_type": code, **process_methods.describe_hours(group.hours),
                        "median_working_hours": round(float(group.working_hours.median()), 2) if group.working_hours.notna().any() else None})
    by_type.sort(key=lambda r: -(r["median"] or 0))

    # What-if simulation per store.
    sims = []
    history = SimulationHistory(end)
    all_qc = _qc_minutes(events)
    window_text = f"the {window_days}-day window (+{warmup_days} days warm-up)"
    for store in stores:
        if store.pk not in calendars:
            continue
        sim = simulate_store(store, tickets, events, calendars[store.pk], failed, techs, tech_skills, skills_of_type,
                             all_skill_codes, start_wall, end_wall, start_wall - warmup_days * 1440, scenario,
                             history=history, all_qc=all_qc, window_text=window_text)
        if "refused" in sim:
            sims.append(sim)
            continue
        busy, window_minutes = sim.pop("_busy"), sim.pop("_window_minutes")
        avail = sum(window_minutes.get(t, 0) for t in busy["baseline"])
        sim["simulated_utilisation"] = {
            "baseline": round(sum(busy["baseline"].values()) / avail, 4) if avail else None,
            "scenario": round(sum(busy["scenario"].values()) / max(1, sum(window_minutes.get(t, 0) for t in busy["scenario"])), 4),
        }
        sims.append(sim)
    return {
        **base,
        "stages": summary,
        "bottleneck": process_methods.bottleneck(summary),
        "littles_law": little,
        "utilisation": utilisation,
        "technicians": rows,
        "in_repair_to_ready_by_repair_type": by_type,
        "simulation": {
            "method": "trace-driven discrete-event simulation (SimPy): the window's tickets replayed with their own work, "
                      "QC times and QA failures; the technicians' queue is simulated (FIFO, earliest-finishing skilled technician, shifts and opening hours)",
            "tolerance": f"a store's baseline run is accepted (baseline_within_tolerance) when its mean cycle time is within "
                         f"{100 * settings.WORKFLOW_SIMULATION_TOLERANCE:g} % of the measured one; its scenario is trusted when "
                         "the baseline is accepted and every ticket had a skilled technician",
            "stores": sims,
        },
    }


# -- technician allocation ------------------------------------------------------------------------------

def allocation_parameters():
    """The allocation objective's hand-set weights, from settings (WORKFLOW_ALLOCATION_*)."""
    from .analytics.allocation import ValueParameters

    return ValueParameters(day_discount=settings.WORKFLOW_ALLOCATION_DAY_DISCOUNT, late_penalty=settings.WORKFLOW_ALLOCATION_LATE_PENALTY,
                           minute_cost=settings.WORKFLOW_ALLOCATION_MINUTE_COST, floor_share=settings.WORKFLOW_ALLOCATION_FLOOR_SHARE)


def allocation_parameters_block():
    return {"source": ASSUMED, "assumed": True, "priority_weights": dict(settings.WORKFLOW_ALLOCATION_PRIORITY_WEIGHTS),
            "job_weight": "priority weight × (1 + triage priority score / 100)", **allocation_parameters().as_dict(),
            "priority_score": priority_parameters_block()}


ALLOCATABLE = (S.RECEIVED, S.DIAGNOSING, S.AWAITING_APPROVAL, S.AWAITING_PARTS, S.IN_REPAIR)
UNASSIGNED_REASONS = {
    "no_skilled_technician": "no active technician at the store has the skills {detail}",
    "no_capacity": "needs {needs_minutes} min; the most any skilled technician has left in the horizon is {largest_remaining_minutes} min",
    "capacity_used_by_higher_value_work": "the skilled technicians' remaining time went to higher-priority or earlier-due work",
    "waiting_for_parts": "waiting for parts; it is planned once they arrive",
    "solver_failed": "the solver failed: {detail}",
}


def _reason_text(code, detail):
    template = UNASSIGNED_REASONS.get(code, code)
    if isinstance(detail, dict):
        return template.format(**detail)
    if isinstance(detail, (list, tuple)):
        return template.format(detail=", ".join(detail) or "required")
    return template.format(detail=detail or "")


def allocation_plan(stores, *, horizon_days=2, include_assigned=False, at=None, references=None):
    """Optimal assignment of open tickets to technicians per store (workflow.analytics.allocation).

    Capacity: each technician's shift minutes left from `at` over the horizon, less the predicted work
    already on their bench (tickets in repair, and assigned ones unless `include_assigned`). Work time
    per ticket and technician comes from the repair-time model with that technician; weights from
    priority and the triage score; due dates are the promises.
    Returns a JSON-ready dict, plus `_apply` (ticket, technician) pairs for the service.
    """
    from .analytics import allocation as alloc

    at = at or timezone.now()
    value_parameters = allocation_parameters()
    priority_weights = settings.WORKFLOW_ALLOCATION_PRIORITY_WEIGHTS
    results, to_apply, unassigned_all, all_assignments, all_technicians = [], [], [], [], []
    totals = {"objective": 0.0, "greedy_objective": 0.0, "capacity": 0.0, "planned": 0.0}
    statuses = []
    model_record = None
    for store in stores:
        techs = list(Technician.objects.filter(store=store, is_active=True).prefetch_related("skills"))
        tickets = list(RepairTicket.objects.filter(store=store, status__in=ALLOCATABLE).select_related(
            "store", "customer", "repair_type", "device_model", "technician").prefetch_related("repair_type__required_skills"))
        if references:
            tickets = [t for t in tickets if t.reference in references or t.technician_id]
        if not tickets and not techs:
            continue
        local_now = timezone.localtime(at, ZoneInfo(store.timezone or settings.TIME_ZONE))
        today = local_now.date()
        # Calendars start a week back so work begun on earlier days can be measured; day `offset` is today.
        offset = 7
        calendars = {t.pk: technician_calendar(t, today - timedelta(days=offset), today + timedelta(days=horizon_days + 1)) for t in techs}
        now_wall = offset * 1440 + local_now.hour * 60 + local_now.minute
        skills = {t.pk: frozenset(s.code for s in t.skills.all()) for t in techs}

        started = [t for t in tickets if t.technician_id and t.status == S.IN_REPAIR]
        held = [t for t in tickets if t.technician_id and t.status != S.IN_REPAIR and not include_assigned]
        candidates = [t for t in tickets if t not in started and t not in held]
        waiting = [t for t in candidates if t.status == S.AWAITING_PARTS]
        to_plan = [t for t in candidates if t.status != S.AWAITING_PARTS]
        triage_of, _ = triage(to_plan, now=at)

        # Predicted minutes for every (ticket, technician) pair, and of the work already on each bench.
        minutes, model_record = predict_labour_pairs(to_plan, techs)
        bench_minutes, _ = predict_labour_minutes(started + held)
        in_repair_since = dict(TicketStatusEvent.objects.filter(ticket__in=started, to_status=S.IN_REPAIR)
                               .values("ticket_id").annotate(m=Max("at")).values_list("ticket_id", "m"))
        committed = defaultdict(float)
        for t in started + held:
            work = bench_minutes.get(t.pk, float(t.repair_type.standard_labour_minutes))
            if t.pk in in_repair_since and t.technician_id in calendars:
                cal = calendars[t.technician_id]
                since = max(cal.local_minute(in_repair_since[t.pk]), 0)
                done = cal.to_working_scalar(now_wall) - cal.to_working_scalar(since)
                work = max(work - done, 0.0)
            committed[t.technician_id] += work

        # Buckets: technician × day, the minutes left after what is committed (filled from the first day).
        buckets, bucket_start = [], []
        for tech in techs:
            cal = calendars[tech.pk]
            left_to_commit = committed.get(tech.pk, 0.0)
            for day in range(horizon_days):
                k = offset + day
                day_start = max(cal.to_working_scalar(now_wall), int(cal.cumulative[k])) if day == 0 else int(cal.cumulative[k])
                capacity = max(int(cal.cumulative[k + 1]) - day_start, 0)
                used = min(capacity, left_to_commit)
                left_to_commit -= used
                closes = (cal.open_from[k] + cal.open_minutes[k]) / 1440.0
                buckets.append(alloc.Bucket(technician=tech.pk, day=day, capacity=float(capacity - used), skills=skills[tech.pk],
                                            end_day=day + (closes if cal.open_minutes[k] else 1.0)))
                bucket_start.append(day_start + used)
        jobs = []
        for t in to_plan:
            score = triage_of.get(t.pk, {}).get("priority_score") or 0.0
            due = None
            if t.promised_at:
                local_due = timezone.localtime(t.promised_at, ZoneInfo(store.timezone or settings.TIME_ZONE))
                due = (local_due.date() - today).days + (local_due.hour * 60 + local_due.minute) / 1440.0
            jobs.append(alloc.Job(
                id=t.pk, weight=round(priority_weights[t.priority] * (1 + score / 100.0), 3),
                skills=frozenset(s.code for s in t.repair_type.required_skills.all()),
                minutes={tech.pk: minutes[(t.pk, tech.pk)] for tech in techs}, due_day=due,
            ))
        solved = alloc.allocate(jobs, buckets, value_parameters)
        greedy = float(greedy_allocation(jobs, buckets, value_parameters))
        statuses.append(solved.status)
        totals["objective"] += solved.objective
        totals["greedy_objective"] += greedy

        by_ticket = {t.pk: t for t in to_plan}
        tech_by_id = {t.pk: t for t in techs}
        job_by_id = {j.id: j for j in jobs}
        in_bucket = defaultdict(list)
        for job_id, b in solved.assignments:
            in_bucket[b].append(job_by_id[job_id])
        assignments = []
        for b, members in in_bucket.items():
            bucket = buckets[b]
            tech = tech_by_id[bucket.technician]
            cal = calendars[tech.pk]
            cursor = bucket_start[b]
            for job in alloc.sequence_bucket(members):
                ticket = by_ticket[job.id]
                start_work, cursor = cursor, cursor + job.minutes[tech.pk]
                start_at, end_at = cal.moment(cal.to_wall_scalar(start_work)), cal.moment(cal.to_wall_scalar(cursor))
                late = bool(ticket.promised_at and end_at > ticket.promised_at)
                assignments.append({
                    "ticket": ticket.reference, "status": ticket.status, "priority": ticket.priority,
                    "repair_type": ticket.repair_type.code, "technician": tech.code, "technician_name": tech.name,
                    "day": bucket.day, "minutes": round(job.minutes[tech.pk]), "weight": job.weight,
                    "priority_score": triage_of.get(ticket.pk, {}).get("priority_score"),
                    "expected_start": start_at.isoformat(), "expected_completion": end_at.isoformat(),
                    "promised_at": _iso(ticket.promised_at), "late": late,
                    "currently_assigned_to": ticket.technician.code if ticket.technician_id else None,
                })
                if ticket.technician_id != tech.pk:
                    to_apply.append((ticket, tech))
        assignments.sort(key=lambda a: (a["technician"], a["expected_start"]))
        unassigned = [{"ticket": by_ticket[job_id].reference, "reason_code": code, "reason": _reason_text(code, detail),
                       "priority": by_ticket[job_id].priority} for job_id, code, detail in solved.unassigned]
        unassigned += [{"ticket": t.reference, "reason_code": "waiting_for_parts", "reason": _reason_text("waiting_for_parts", None),
                        "priority": t.priority} for t in waiting]
        unassigned_all += unassigned
        utilisation = []
        for tech in techs:
            mine = [i for i, b in enumerate(buckets) if b.technician == tech.pk]
            capacity = sum(buckets[i].capacity for i in mine) + committed.get(tech.pk, 0.0)
            planned = float(sum(solved.load[i] for i in mine))
            totals["capacity"] += capacity
            totals["planned"] += planned + committed.get(tech.pk, 0.0)
            utilisation.append({
                "technician": tech.code, "name": tech.name, "skills": sorted(skills[tech.pk]),
                "available_minutes": round(capacity), "committed_minutes": round(committed.get(tech.pk, 0.0)),
                "planned_minutes": round(planned),
                "utilisation": round(float(planned + committed.get(tech.pk, 0.0)) / capacity, 4) if capacity else None,
            })
        for row in assignments + unassigned + utilisation:
            row["store"] = store.code
        all_assignments += assignments
        all_technicians += utilisation
        results.append({
            "store": store.code, "solver_status": solved.status, "objective": round(solved.objective, 3),
            "greedy_objective": round(greedy, 3), "mip_gap": solved.mip_gap, "variables": solved.variables,
            "assigned": len(assignments), "unassigned": len(unassigned),
            "utilisation": round(float(sum(t["planned_minutes"] + t["committed_minutes"] for t in utilisation))
                                 / max(1, sum(t["available_minutes"] for t in utilisation)), 4) if utilisation else None,
        })
    from . import training

    return {
        "data_window": data_window(at, at + timedelta(days=horizon_days), horizon_days=horizon_days),
        "method": "0-1 integer programme (generalised assignment over technician-days), scipy.optimize.milp (HiGHS)",
        "at": at.isoformat(),
        "stores": results,
        "assignments": all_assignments,
        "unassigned": unassigned_all,
        "technicians": all_technicians,
        "summary": {
            "assigned": len(all_assignments), "unassigned": len(unassigned_all),
            "utilisation": round(float(totals["planned"]) / totals["capacity"], 4) if totals["capacity"] else None,
            "objective": round(float(totals["objective"]), 3), "greedy_objective": round(float(totals["greedy_objective"]), 3),
            "all_optimal": all(s == "optimal" for s in statuses),
        },
        "parameters": allocation_parameters_block(),
        "model": training.model_block(model_record),
        "_apply": to_apply,
    }


def greedy_allocation(jobs, buckets, parameters):
    """Objective of the obvious rule (highest weight first, into the earliest bucket that fits) — the yardstick
    the optimiser is compared with (valued with the same parameters)."""
    from .analytics.allocation import job_value

    left = [b.capacity for b in buckets]
    total = 0.0
    for job in sorted(jobs, key=lambda j: (-j.weight, j.due_day if j.due_day is not None else 1e9)):
        options = [(b.day, job.minutes[b.technician], i) for i, b in enumerate(buckets)
                   if job.skills <= b.skills and b.technician in job.minutes and job.minutes[b.technician] <= left[i]]
        if options:
            _, minutes, i = min(options)
            left[i] -= minutes
            total += job_value(job, buckets[i], minutes, parameters)
    return total


# -- analytics over time ----------------------------------------------------------------------------------


def datetime_frame(queryset, columns, datetime_columns):
    """values_list(*columns) as a DataFrame, the datetime columns fetched as text and parsed by pandas at once."""
    annotations = {f"{c}__text": Cast(c, CharField()) for c in datetime_columns}
    fields = [f"{c}__text" if c in datetime_columns else c for c in columns]
    frame = pd.DataFrame(list(queryset.annotate(**annotations).values_list(*fields)), columns=columns)
    for c in datetime_columns:
        frame[c] = pd.to_datetime(frame[c], utc=True, format="ISO8601")
    return frame


def _period(series, granularity):
    local = pd.DatetimeIndex(series).tz_convert(settings.TIME_ZONE).tz_localize(None)
    return local.to_period("M" if granularity == "month" else "W-SUN").start_time


def workflow_analytics(stores, *, weeks=26, granularity="week", now=None):
    """Throughput, cycle time and SLA compliance over time, first-time-fix rate, technician utilisation
    and productivity, and counts of automations and messages."""
    now = now or timezone.now()
    start = now - timedelta(weeks=weeks)
    ids = store_ids(stores)
    done_q = RepairTicket.objects.filter(store_id__in=ids, completed_at__gte=start, completed_at__lt=now, status__in=[S.READY, S.COLLECTED])
    done = datetime_frame(done_q, ["id", "technician_id", "labour_minutes", "received_at", "completed_at", "promised_at"],
                          ["received_at", "completed_at", "promised_at"])
    intake = datetime_frame(RepairTicket.objects.filter(store_id__in=ids, received_at__gte=start, received_at__lt=now),
                            ["id", "received_at"], ["received_at"])
    failed_first = set(QAInspection.objects.filter(passed=False, ticket__in=done_q).values_list("ticket_id", flat=True))
    came_back = set(RepairTicket.objects.filter(warranty_of__in=done_q).values_list("warranty_of_id", flat=True))

    series = {}
    if len(done):
        done["period"] = _period(done.completed_at, granularity)
        done["hours"] = (done.completed_at - done.received_at).dt.total_seconds() / 3600
        done["kept"] = done.completed_at <= done.promised_at
        done["first_time_fix"] = ~done.id.isin(failed_first) & ~done.id.isin(came_back)
        grouped = done.groupby("period")
        frame = pd.DataFrame({
            "completed": grouped.size(), "median_cycle_hours": grouped.hours.median(), "mean_cycle_hours": grouped.hours.mean(),
            "sla_compliance": grouped.kept.mean(), "first_time_fix_rate": grouped.first_time_fix.mean(),
        })
        series = {p: row for p, row in frame.iterrows()}
    intake_by = intake.groupby(_period(intake.received_at, granularity)).size() if len(intake) else pd.Series(dtype=int)
    runs = datetime_frame(RuleRun.objects.filter(at__gte=start, dry_run=False, matched=True).filter(
        Q(ticket__store_id__in=ids) | Q(ticket__isnull=True)), ["trigger", "at"], ["at"])
    messages = datetime_frame(OutboxMessage.objects.filter(created_at__gte=start, ticket__store_id__in=ids),
                              ["channel", "status", "created_at"], ["created_at"])
    runs_by = runs.groupby(_period(runs["at"], granularity)).size() if len(runs) else pd.Series(dtype=int)
    sent_by = (messages[messages.status == "sent"].groupby(_period(messages[messages.status == "sent"].created_at, granularity)).size()
               if len(messages) else pd.Series(dtype=int))
    periods = sorted(set(series) | set(intake_by.index))
    over_time = []
    for p in periods:
        row = series.get(p)
        over_time.append({
            "period": p.date().isoformat(), "intake": int(intake_by.get(p, 0)),
            "completed": int(row["completed"]) if row is not None else 0,
            "median_cycle_hours": round(float(row["median_cycle_hours"]), 2) if row is not None else None,
            "mean_cycle_hours": round(float(row["mean_cycle_hours"]), 2) if row is not None else None,
            "sla_compliance": round(float(row["sla_compliance"]), 4) if row is not None else None,
            "first_time_fix_rate": round(float(row["first_time_fix_rate"]), 4) if row is not None else None,
            "automations": int(runs_by.get(p, 0)), "messages_sent": int(sent_by.get(p, 0)),
        })

    # Technicians over the whole window.
    techs = list(Technician.objects.filter(store_id__in=ids, is_active=True).select_related("store"))
    first_day, last_day = timezone.localdate(start), timezone.localdate(now)
    labour = done.groupby("technician_id").labour_minutes.sum() if len(done) else pd.Series(dtype=float)
    repairs = done.groupby("technician_id").size() if len(done) else pd.Series(dtype=int)
    technicians = []
    for t in techs:
        cal = technician_calendar(t, first_day, last_day)
        available = int(cal.cumulative[-1])
        days = int((cal.open_minutes > 0).sum())
        n = int(repairs.get(t.pk, 0))
        technicians.append({
            "technician": t.code, "name": t.name, "store": t.store.code, "repairs": n, "days_worked": days,
            "repairs_per_day": round(n / days, 2) if days else None, "labour_minutes": int(labour.get(t.pk, 0) or 0),
            "utilisation": round(float(labour.get(t.pk, 0) or 0) / available, 4) if available else None,
        })
    totals = {
        "intake": int(len(intake)), "completed": int(len(done)),
        "median_cycle_hours": round(float(done.hours.median()), 2) if len(done) else None,
        "sla_compliance": round(float(done.kept.mean()), 4) if len(done) else None,
        "first_time_fix_rate": round(float(done.first_time_fix.mean()), 4) if len(done) else None,
        "automations": int(len(runs)),
        "automations_by_trigger": runs.groupby("trigger").size().astype(int).to_dict() if len(runs) else {},
        "messages_by_channel_and_status": {f"{c}:{s}": int(n) for (c, s), n in messages.groupby(["channel", "status"]).size().items()} if len(messages) else {},
    }
    return {
        "data_window": data_window(start, now, granularity=granularity),
        "definitions": {
            "cycle_time": "received → ready, wall-clock hours, by the period the repair became ready",
            "sla_compliance": "share of repairs ready by their promised time",
            "first_time_fix_rate": "share of repairs that passed their first QA inspection and have not come back under warranty",
            "utilisation": "labour minutes of repairs finished ÷ shift minutes (opening hours on the technician's working days)",
        },
        "totals": totals,
        "over_time": over_time,
        "technicians": technicians,
    }


# -- dashboard pickers and drill-downs (the Workflow Automation pages) -----------------------------------


def ticket_choices(stores, statuses=ACTIVE_STATUSES, limit=300):
    """(reference, "reference · status · repair type") of the stores' tickets in `statuses`, soonest promise
    first: the choices of a page's "tickets" picker (at most `limit`; an endpoint still accepts any reference)."""
    tickets = (RepairTicket.objects.filter(store__in=stores, status__in=statuses).select_related("repair_type")
               .order_by(F("promised_at").asc(nulls_last=True), "received_at")[:limit])
    return [(t.reference, f"{t.reference} · {S(t.status).label} · {t.repair_type.name}") for t in tickets]


def rule_choices(stores):
    """(id, "name (store)") of the automation rules that apply to the stores, in their running order."""
    rules = (AutomationRule.objects.filter(Q(store__isnull=True) | Q(store__in=stores)).select_related("store")
             .order_by("order", "id"))
    return [(str(r.pk), f"{r.name}{f' ({r.store.code})' if r.store_id else ''}{'' if r.enabled else ' — off'}") for r in rules]


def message_events():
    """The events that have an active message template, as (event, label) in name order."""
    from .models import MessageTemplate

    events = sorted(set(MessageTemplate.objects.filter(is_active=True).values_list("event", flat=True)))
    return [(e, e.replace("_", " ").capitalize()) for e in events]


def technician_weekly_quality(stores, technician, start, end, *, z=qa_control.Z, centre=None):
    """One technician's weekly p-chart of the QA failure proportion, with repairs completed each week.

    The inspections are counted as qa_report counts them (inspections in [start, end) of tickets at the
    stores, a ticket's inspections in the week of its first one), so the weeks add up to the technician's
    row of the between-technicians chart; the limits are the binomial probability limits of each week's n (the tails of p̄ ± z·σ) around
    `centre`, the scope's centre line p̄ (Montgomery §7.2; p̄ of the weeks shown when None).
    Returns a list of {week, n, x, rate, lcl, ucl, centre, signal, completed}, oldest first.
    """
    inspections = QAInspection.objects.filter(ticket__store__in=stores, ticket__technician__code=technician,
                                              inspected_at__gte=start, inspected_at__lt=end)
    qa = pd.DataFrame(list(inspections.values("ticket_id").annotate(
        n=Count("id"), x=Count("id", filter=Q(passed=False)), first=Min(Cast("inspected_at", CharField())),
    ).values_list("ticket_id", "n", "x", "first")), columns=["ticket", "n", "x", "first"])
    done = datetime_frame(RepairTicket.objects.filter(store__in=stores, technician__code=technician, completed_at__gte=start,
                                                      completed_at__lt=end, status__in=[S.READY, S.COLLECTED]),
                          ["id", "completed_at"], ["completed_at"])
    completed = done.groupby(_period(done.completed_at, "week")).size() if len(done) else pd.Series(dtype=int)
    rows = {}
    if len(qa):
        week = _period(pd.to_datetime(qa["first"], utc=True, format="ISO8601"), "week")
        periods = qa.groupby(week)[["n", "x"]].sum().rename_axis("period").reset_index()
        chart, p_bar = qa_control.p_chart_over_time(periods, z=z, centre=centre)
        for r in chart.itertuples():
            rows[r.period] = {"n": int(r.n), "x": int(r.x), "rate": round(float(r.p), 4), "lcl": round(float(r.lcl), 4),
                              "ucl": round(float(r.ucl), 4), "centre": round(p_bar, 4), "signal": r.signal}
    empty = {"n": 0, "x": 0, "rate": None, "lcl": None, "ucl": None, "centre": round(float(centre), 4) if centre is not None else None,
             "signal": ""}
    return [{"week": p.date().isoformat(), **rows.get(p, empty), "completed": int(completed.get(p, 0))}
            for p in sorted(set(rows) | set(completed.index))]


def technician_choices(stores):
    """(code, "name (code)") of the stores' active technicians: the choices of a page's technician picker."""
    technicians = Technician.objects.filter(store__in=stores, is_active=True).order_by("store__code", "name")
    return [(t.code, f"{t.name} ({t.code})") for t in technicians]
