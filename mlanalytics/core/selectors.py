"""Reads for the shared dashboard pages: the home KPIs and the ticket-intake page.

Every figure is counted from the tickets, stock and alerts tables. The intake baseline is the
same-weekday mean: the expected count for a day is the mean of the same weekday over the previous
eight weeks, with a normal 95 % band (mean ± 1.96 sd) — a seasonal-naive benchmark (Hyndman &
Athanasopoulos, FPP3 §5.2), scored on the window it is shown for (MAE, band coverage).
"""
from datetime import datetime, time as dtime, timedelta

import numpy as np
from django.db.models import Count, DecimalField, ExpressionWrapper, F, Q, Sum
from django.db.models.functions import ExtractHour, ExtractIsoWeekDay, TruncDate
from django.utils import timezone

BASELINE_WEEKS = 8
Z95 = 1.959964
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _tickets(store_ids):
    from workflow.models import RepairTicket

    return RepairTicket.objects.filter(store_id__in=store_ids)


def status_counts_by_store(stores):
    """{store code: {status: tickets}} for tickets not yet collected or cancelled (the live payload's definition)."""
    from workflow.models import TicketStatus

    rows = (
        _tickets([s.id for s in stores]).exclude(status__in=[TicketStatus.COLLECTED, TicketStatus.CANCELLED])
        .values("store__code", "status").annotate(n=Count("id"))
    )
    counts = {s.code: {} for s in stores}
    for row in rows:
        counts[row["store__code"]][row["status"]] = row["n"]
    return counts


def status_order():
    from workflow.models import TicketStatus

    return [(s.value, s.label) for s in TicketStatus if s.value not in ("collected", "cancelled")]


def _between(qs, start, end):
    """Tickets received on local days start..end, as a range on received_at (uses the store/received index)."""
    return qs.filter(received_at__gte=start_of_day(start), received_at__lt=start_of_day(end + timedelta(days=1)))


def daily_counts(store_ids, start, end, category=None):
    """Tickets received per local day in [start, end] as a dense numpy array (zeros filled)."""
    qs = _between(_tickets(store_ids), start, end)
    if category:
        qs = qs.filter(device_model__category=category)
    n = (end - start).days + 1
    counts = np.zeros(n)
    for row in qs.annotate(day=TruncDate("received_at")).values("day").annotate(n=Count("id")):
        counts[(row["day"] - start).days] = row["n"]
    return counts


def same_weekday_baseline(counts, offset, weeks=BASELINE_WEEKS):
    """Mean and sd of the same weekday over the `weeks` weeks before position `offset` of `counts`."""
    past = [counts[offset - 7 * k] for k in range(1, weeks + 1) if offset - 7 * k >= 0]
    if len(past) < 2:
        return None, None
    return float(np.mean(past)), float(np.std(past, ddof=1))


def intake_today(stores, now=None):
    """Tickets received today so far against the same weekday's average over the last 8 weeks
    (full day, and up to the same time of day), with today's and the average hourly profile."""
    now = timezone.localtime(now or timezone.now())
    today = now.date()
    store_ids = [s.id for s in stores]
    qs = _tickets(store_ids)
    first = today - timedelta(days=7 * BASELINE_WEEKS)
    past_days = [today - timedelta(days=7 * k) for k in range(1, BASELINE_WEEKS + 1)]
    hourly = (
        _between(qs, first, today)
        .annotate(day=TruncDate("received_at"), hour=ExtractHour("received_at"))
        .values("day", "hour").annotate(n=Count("id"))
    )
    today_by_hour = [0] * 24
    past_by_hour = np.zeros(24)
    observed = set()
    for row in hourly:
        if row["day"] == today:
            today_by_hour[row["hour"]] += row["n"]
        elif row["day"] in past_days:
            past_by_hour[row["hour"]] += row["n"]
            observed.add(row["day"])
    # Days before the shop had data do not count toward the average.
    n_days = len(observed) or None
    avg_by_hour = (past_by_hour / n_days).tolist() if n_days else [None] * 24
    hour = now.hour
    fraction_of_hour = now.minute / 60
    so_far_avg = None
    if n_days:
        so_far_avg = float(sum(avg_by_hour[:hour]) + avg_by_hour[hour] * fraction_of_hour)
    return {
        "date": today.isoformat(),
        "received_today": int(sum(today_by_hour)),
        "average_full_day": float(past_by_hour.sum() / n_days) if n_days else None,
        "average_by_now": so_far_avg,
        "weeks_in_average": n_days or 0,
        "by_hour": [{"hour": f"{h:02d}:00", "today": today_by_hour[h], "average": avg_by_hour[h]} for h in range(24)],
    }


def stock_value_at_cost(stores):
    """Sum of on-hand units × the part's standard unit cost (shop currency) over the stores."""
    from inventory.models import Stock

    value = Stock.objects.filter(store__in=stores).aggregate(
        v=Sum(ExpressionWrapper(F("on_hand") * F("part__unit_cost"), output_field=DecimalField(max_digits=14, decimal_places=2)))
    )["v"]
    return float(value or 0)


def _alerts_of_stores(user, stores):
    """(the user's role, alerts of their stores or of no store), before the audience filter."""
    from .models import Alert
    from .roles import role_of
    from .scoping import allowed_stores

    store_ids = [s.id for s in stores] if stores is not None else list(allowed_stores(user).values_list("id", flat=True))
    return role_of(user), Alert.objects.filter(Q(store_id__in=store_ids) | Q(store__isnull=True))


def _addressed_to(role, audience):
    """Whether an alert with this audience_roles list reaches the role (an empty list: everyone)."""
    from .roles import ADMIN

    return role == ADMIN or not audience or role in audience


def visible_alerts(user, stores=None):
    """Alerts the user may see: their stores (or store-less ones) and addressed to their role."""
    from .roles import ADMIN

    role, qs = _alerts_of_stores(user, stores)
    if role != ADMIN:
        # audience_roles is a JSON list; an empty list means everyone who sees the store.
        allowed_ids = [a_id for a_id, roles in qs.values_list("id", "audience_roles") if _addressed_to(role, roles)]
        qs = qs.filter(id__in=allowed_ids)
    return qs


def open_alert_counts(user, stores):
    """Open alerts the user may see: open, firing (not acknowledged), held (firing but not yet delivered:
    raised while the store was closed; the bell shows them once it opens) and critical.

    One query: a conditional aggregate per distinct audience list (a handful), the audience filter applied
    to those few rows, since a JSON list cannot be matched portably in SQL."""
    from .models import Alert

    role, qs = _alerts_of_stores(user, stores)
    firing = Q(state=Alert.State.FIRING)
    rows = (qs.exclude(state=Alert.State.RESOLVED).order_by().values("audience_roles")
            .annotate(open=Count("id"), firing=Count("id", filter=firing),
                      held=Count("id", filter=firing & Q(delivered_at__isnull=True)),
                      critical=Count("id", filter=Q(severity=Alert.Severity.CRITICAL))))
    counts = {"open": 0, "firing": 0, "held": 0, "critical": 0}
    for row in rows:
        if _addressed_to(role, row["audience_roles"]):
            for key in counts:
                counts[key] += row[key]
    held = counts["held"]
    return {**counts, "summary": f"{counts['firing']} not yet acknowledged" + (f", {held} held until the store opens" if held else "")}


def home_kpis(user, stores, now=None):
    """The home page's figures: tickets in the shop by status, intake today vs the usual, stock value
    at cost and open alerts — all counted for the given stores."""
    from workflow.models import OPEN_STATUSES

    counts = status_counts_by_store(stores)
    open_total = sum(n for per_store in counts.values() for status, n in per_store.items() if status in OPEN_STATUSES)
    ready_total = sum(per_store.get("ready", 0) for per_store in counts.values())
    intake = intake_today(stores, now)
    alerts = open_alert_counts(user, stores)
    return {
        "generated_at": timezone.now().isoformat(),
        "stores": [s.code for s in stores],
        "open_tickets": open_total,
        "ready_for_collection": ready_total,
        "status_counts": counts,
        "intake": intake,
        "stock_value": stock_value_at_cost(stores),
        "alerts": alerts,
    }


def ticket_intake(stores, *, days=56, end=None, category=None):
    """Tickets received per day with the same-weekday baseline and band, by store, by device
    category and by weekday × hour, over the `days` days ending `end` (default yesterday)."""
    end = end or (timezone.localdate() - timedelta(days=1))
    start = end - timedelta(days=days - 1)
    history_start = start - timedelta(days=7 * BASELINE_WEEKS)
    store_ids = [s.id for s in stores]
    counts = daily_counts(store_ids, history_start, end, category)
    offset0 = (start - history_start).days
    daily, errors, inside = [], [], []
    for i in range(days):
        pos = offset0 + i
        mean, sd = same_weekday_baseline(counts, pos)
        actual = int(counts[pos])
        row = {"date": (start + timedelta(days=i)).isoformat(), "received": actual, "expected": mean,
               "lower": max(0.0, mean - Z95 * sd) if mean is not None else None,
               "upper": mean + Z95 * sd if mean is not None else None}
        if mean is not None:
            errors.append(abs(actual - mean))
            inside.append(row["lower"] <= actual <= row["upper"])
        daily.append(row)
    # Tomorrow's expectation from the last eight same weekdays (the prediction the card shows).
    extended = np.append(counts, 0)
    next_mean, next_sd = same_weekday_baseline(extended, len(counts))

    qs = _between(_tickets(store_ids), start, end)
    if category:
        qs = qs.filter(device_model__category=category)
    by_store = [
        {"store": r["store__code"], "store_name": r["store__name"], "received": r["n"], "per_day": r["n"] / days}
        for r in qs.values("store__code", "store__name").annotate(n=Count("id")).order_by("store__code")
    ]
    by_category = [
        {"category": r["device_model__category"], "received": r["n"], "share": r["n"] / max(1, sum(counts[offset0:]))}
        for r in qs.values("device_model__category").annotate(n=Count("id")).order_by("-n")
    ]
    heat = {(r["wd"], r["hour"]): r["n"] for r in qs.annotate(
        wd=ExtractIsoWeekDay("received_at"), hour=ExtractHour("received_at")).values("wd", "hour").annotate(n=Count("id"))}
    weeks = days / 7
    hours = sorted({h for _, h in heat}) or list(range(9, 18))
    by_weekday_hour = [
        {"weekday": WEEKDAYS[wd - 1], "hour": f"{h:02d}:00", "per_week": heat.get((wd, h), 0) / weeks}
        for wd in range(1, 8) for h in range(min(hours), max(hours) + 1)
    ]
    total = int(counts[offset0:].sum())
    return {
        "data_window": {"start": start.isoformat(), "end": end.isoformat(), "days": days,
                        "baseline_from": history_start.isoformat()},
        "model": {
            "name": "same_weekday_baseline", "version": 1, "trained_at": None,
            "method": f"Mean of the same weekday over the previous {BASELINE_WEEKS} weeks, 95 % band mean ± 1.96 sd",
            "backtest": {
                "mae": float(np.mean(errors)) if errors else None,
                "band_coverage": float(np.mean(inside)) if inside else None,
                "days_scored": len(errors),
            },
        },
        "summary": {
            "received": total, "per_day": total / days,
            "busiest_day": max(daily, key=lambda r: r["received"])["date"] if daily else None,
            "days_above_band": sum(1 for r in daily if r["upper"] is not None and r["received"] > r["upper"]),
            "expected_tomorrow": next_mean, "expected_tomorrow_lower": max(0.0, next_mean - Z95 * next_sd) if next_mean is not None else None,
            "expected_tomorrow_upper": next_mean + Z95 * next_sd if next_mean is not None else None,
        },
        "daily": daily,
        "by_store": by_store,
        "by_category": by_category,
        "by_weekday_hour": by_weekday_hour,
    }


def start_of_day(day):
    return timezone.make_aware(datetime.combine(day, dtime.min))
