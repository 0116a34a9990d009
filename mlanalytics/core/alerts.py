"""The one alert service every app raises and resolves alerts through.

Lifecycle: firing → acknowledged → resolved. One open alert per dedup key (a partial unique index
backs this up). An alert raised while its store is closed is held (mute timing) and delivered when
the store opens; a snoozed alert stays quiet until its snooze ends.
"""
from datetime import datetime, time as dtime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from . import live
from .cache import bump_on_commit
from .models import Alert, Store


def _day_minutes(hours):
    """["09:00", "18:00"] -> (540, 1080): minutes of the day the store opens and closes. "24:00" closes at
    midnight, so a store open all day is ["00:00", "24:00"]."""
    opens, closes = ((int(h) * 60 + int(m)) for h, m in (t.split(":") for t in hours))
    return opens, closes


def store_is_open(store, at=None):
    """True when `at` falls inside the store's opening hours for that weekday (store's own time zone)."""
    if store is None:
        return True
    at = at or timezone.now()
    local = at.astimezone(ZoneInfo(store.timezone or settings.TIME_ZONE))
    hours = (store.opening_hours or {}).get(str(local.isoweekday()))
    if not hours:
        return False
    opens, closes = _day_minutes(hours)
    minute = local.hour * 60 + local.minute + local.second / 60
    return opens <= minute < closes


def next_opening(store, after=None):
    """The next moment the store opens after `after` (or now when it is open already)."""
    after = after or timezone.now()
    tz = ZoneInfo(store.timezone or settings.TIME_ZONE)
    local = after.astimezone(tz)
    for day in range(0, 8):
        date = (local + timezone.timedelta(days=day)).date()
        hours = (store.opening_hours or {}).get(str(date.isoweekday()))
        if not hours:
            continue
        midnight = datetime.combine(date, dtime(0, 0), tzinfo=tz)
        opens, closes = (midnight + timezone.timedelta(minutes=m) for m in _day_minutes(hours))
        if closes > local:
            return max(opens, local)
    return None


def serialize_alert(alert):
    return {
        "id": alert.id,
        "kind": alert.kind,
        "severity": alert.severity,
        "state": alert.state,
        "store": alert.store.code if alert.store_id else None,
        "store_id": alert.store_id,
        "title": alert.title,
        "message": alert.message,
        "subject_type": alert.subject_type,
        "subject_id": alert.subject_id,
        "fired_at": alert.fired_at.isoformat(),
        "delivered_at": alert.delivered_at.isoformat() if alert.delivered_at else None,
        "acknowledged_at": alert.acknowledged_at.isoformat() if alert.acknowledged_at else None,
        "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
        "snoozed_until": alert.snoozed_until.isoformat() if alert.snoozed_until else None,
        "data": alert.data,
    }


def _deliver(alert, now):
    alert.delivered_at = now
    alert.save(update_fields=["delivered_at"])
    live.publish("alert", serialize_alert(alert), alert.store_id, audience_roles=alert.audience_roles or None)


def raise_alert(*, kind, dedup_key, title, store=None, severity=Alert.Severity.WARNING, message="",
                subject_type="", subject_id="", data=None, audience_roles=("manager", "staff"), now=None):
    """Fire an alert, or refresh the open one with the same key. Returns (alert, created)."""
    now = now or timezone.now()
    if isinstance(store, int):
        store = Store.objects.get(pk=store)
    existing = Alert.objects.filter(dedup_key=dedup_key).exclude(state=Alert.State.RESOLVED).first()
    if existing:
        # The condition is seen again: its words follow the latest figures ("runs out on 3 Dec", not the date
        # of the first sighting), so the inbox, the bell and the catch-up never show a stale title.
        before = (existing.title, existing.severity, existing.message)
        existing.last_seen_at = now
        existing.title = title[:200]
        existing.severity = severity
        existing.message = message or existing.message
        existing.data = data if data is not None else existing.data
        existing.save(update_fields=["last_seen_at", "title", "severity", "message", "data"])
        if (existing.title, existing.severity, existing.message) != before:
            bump_on_commit("alerts")  # cached pages listing alerts show the new words
        return existing, False
    try:
        with transaction.atomic():
            alert = Alert.objects.create(
                kind=kind, dedup_key=dedup_key, title=title[:200], store=store, severity=severity, message=message,
                subject_type=subject_type, subject_id=str(subject_id), data=data or {},
                audience_roles=list(audience_roles or []), fired_at=now, last_seen_at=now,
            )
    except IntegrityError:  # raced with another process raising the same alert
        return Alert.objects.filter(dedup_key=dedup_key).exclude(state=Alert.State.RESOLVED).get(), False
    bump_on_commit("alerts")
    if store_is_open(store, now):
        _deliver(alert, now)
    return alert, True


def resolve_alert(alert, user=None, now=None):
    if alert.state == Alert.State.RESOLVED:
        return alert
    alert.state = Alert.State.RESOLVED
    alert.resolved_at = now or timezone.now()
    alert.save(update_fields=["state", "resolved_at"])
    bump_on_commit("alerts")
    live.publish("alert_resolved", serialize_alert(alert), alert.store_id)
    return alert


def resolve_by_key(dedup_key, now=None):
    """Resolve the open alert with this key, if any (the condition cleared). Returns it or None."""
    alert = Alert.objects.filter(dedup_key=dedup_key).exclude(state=Alert.State.RESOLVED).first()
    return resolve_alert(alert, now=now) if alert else None


def acknowledge(alert, user, now=None):
    if alert.state == Alert.State.FIRING:
        alert.state = Alert.State.ACKNOWLEDGED
        alert.acknowledged_at = now or timezone.now()
        alert.acknowledged_by = user
        alert.save(update_fields=["state", "acknowledged_at", "acknowledged_by"])
        bump_on_commit("alerts")
        live.publish("alert_acknowledged", serialize_alert(alert), alert.store_id)
    return alert


def snooze(alert, user, until):
    alert.snoozed_until = until
    alert.save(update_fields=["snoozed_until"])
    bump_on_commit("alerts")
    return alert


def wake_snoozed_alerts(now=None):
    """Alerts still firing whose snooze has ended are due again: they go back to the delivery queue, so the
    next delivery (at once, or when the store opens) notifies the browsers as a new alert would.
    Returns how many woke."""
    from . import audit

    now = now or timezone.now()
    woken = 0
    for alert in Alert.objects.filter(state=Alert.State.FIRING, snoozed_until__isnull=False, snoozed_until__lte=now):
        ended = alert.snoozed_until
        alert.snoozed_until = None
        alert.delivered_at = None
        alert.save(update_fields=["snoozed_until", "delivered_at"])
        audit.record(None, "alert.snooze_ended", alert, changes={"until": ended.isoformat()})
        woken += 1
    if woken:
        bump_on_commit("alerts")
    return woken


def release_held_alerts(now=None):
    """Deliver alerts held back while their store was closed, now that it is open, and alerts whose snooze
    has ended (wake_snoozed_alerts). Periodic job, every minute. Returns how many were delivered."""
    now = now or timezone.now()
    wake_snoozed_alerts(now)
    released = 0
    held = Alert.objects.filter(delivered_at__isnull=True).exclude(state=Alert.State.RESOLVED).select_related("store")
    for alert in held:
        if store_is_open(alert.store, now) and not (alert.snoozed_until and alert.snoozed_until > now):
            _deliver(alert, now)
            released += 1
    return released
