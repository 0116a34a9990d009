"""Report subscriptions: which are due, and sending one as an email attachment.

A subscription is due once per period, from 07:00 local time: daily every day, weekly on Mondays,
monthly on the 1st. The report is computed as the subscriber at send time, so a changed role or
store access applies at once. `send_due_reports` is a periodic job (core AppConfig.ready).

The period also sets the data window of pages that declare one (`AnalyticsPage.period_window`): a
daily report covers yesterday, a weekly one the 7 days to yesterday, a monthly one the previous
calendar month, each clamped to what the endpoint accepts (ticket intake needs at least 7 days)."""
import logging
import math
from datetime import datetime, time as dtime, timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.utils import timezone

from mlanalytics.core.models import ReportSubscription
from mlanalytics.core.roles import SUBSCRIBE_REPORTS, has_capability
from mlanalytics.core.scoping import allowed_stores

log = logging.getLogger(__name__)
SEND_AT = dtime(7, 0)


def period_start(period, now):
    """The moment the current period's report becomes due (local time), e.g. this Monday 07:00."""
    local = timezone.localtime(now)
    day = local.date()
    if period == ReportSubscription.Period.WEEKLY:
        day -= timedelta(days=local.weekday())
    elif period == ReportSubscription.Period.MONTHLY:
        day = day.replace(day=1)
    start = timezone.make_aware(datetime.combine(day, SEND_AT))
    if start > now:  # before 07:00 on the due day: the previous period is the current one
        previous = {"daily": timedelta(days=1), "weekly": timedelta(days=7)}.get(period)
        if previous:
            start -= previous
        else:
            prev_month = (day.replace(day=1) - timedelta(days=1)).replace(day=1)
            start = timezone.make_aware(datetime.combine(prev_month, SEND_AT))
    return start


def period_window(period, now):
    """(first day, last day) a report of this period covers when sent at `now`: the last complete day,
    the 7 days to yesterday, or the previous calendar month."""
    yesterday = timezone.localtime(now).date() - timedelta(days=1)
    if period == ReportSubscription.Period.MONTHLY:
        last = timezone.localtime(now).date().replace(day=1) - timedelta(days=1)
        return last.replace(day=1), last
    if period == ReportSubscription.Period.WEEKLY:
        return yesterday - timedelta(days=6), yesterday
    return yesterday, yesterday


def _clamped(field, value):
    low, high = getattr(field, "min_value", None), getattr(field, "max_value", None)
    if low is not None:
        value = max(low, value)
    if high is not None:
        value = min(high, value)
    return value


def window_params(page_cls, period, now):
    """The page's window parameters for the period (see period_window), as the endpoint accepts them."""
    from mlanalytics.core.pages import request_fields

    declared = getattr(page_cls, "period_window", None) or {}
    if not declared:
        return {}
    fields = request_fields(page_cls.api_view)
    first, last = period_window(period, now)
    days = (last - first).days + 1
    params = {}
    for name, unit in declared.items():
        if unit == "end":
            params[name] = last.isoformat()
        elif unit == "start":
            params[name] = first.isoformat()
        elif unit == "days":
            params[name] = _clamped(fields.get(name), days)
        elif unit == "weeks":
            params[name] = _clamped(fields.get(name), math.ceil(days / 7))
    return params


def describe_period_window(page_cls, period, now=None):
    """Words for the subscription page: what window a report of this period covers, or "" if the page has none."""
    params = window_params(page_cls, period, now or timezone.now())
    if not params:
        return ""
    return ", ".join(f"{name.replace('_', ' ')} {value}" for name, value in params.items())


def is_due(subscription, now=None):
    now = now or timezone.now()
    start = period_start(subscription.period, now)
    return subscription.is_active and (subscription.last_sent_at is None or subscription.last_sent_at < start)


def _finish(subscription, status, now):
    subscription.last_sent_at = now
    subscription.last_status = status[:200]
    subscription.save(update_fields=["last_sent_at", "last_status"])
    return status


def send_subscription(subscription, now=None, force=False):
    """Compute and email one subscription's report. Returns what happened, in words."""
    from mlanalytics.core.pages import page_for, run_page_as

    from . import render_report
    from .report import build_report

    now = now or timezone.now()
    user = subscription.user
    page_cls = page_for(subscription.view)
    if page_cls is None:
        return _finish(subscription, "not sent: this report is not available on the server", now)
    capability = page_cls.required_capability()
    if not has_capability(user, SUBSCRIBE_REPORTS) or (capability and not has_capability(user, capability)):
        return _finish(subscription, "not sent: your role no longer includes this report", now)
    params = {**(subscription.params or {}), **window_params(page_cls, subscription.period, now)}
    if subscription.store_id:
        if not allowed_stores(user).filter(pk=subscription.store_id).exists():
            return _finish(subscription, f"not sent: no access to store {subscription.store.code}", now)
        params["store"] = subscription.store.code
    if not user.email:
        return _finish(subscription, "not sent: the account has no email address", now)
    page, data, result, _ = run_page_as(page_cls, user, params)
    if not result.ok:
        detail = result.message or "; ".join(f"{k}: {' '.join(v)}" for k, v in result.errors.items())
        return _finish(subscription, f"not sent: {detail}", now)
    report = build_report(page, user, data, result)
    if report.is_empty and subscription.skip_when_empty and not force:
        return _finish(subscription, "skipped: nothing to report", now)
    content, content_type, filename = render_report(report, subscription.format)
    period = subscription.get_period_display().split(" ")[0].lower()
    message = EmailMessage(
        subject=f"{report.title} · {report.stores} · {period} report",
        body=(f"Your {period} report '{report.title}' for {report.stores} is attached ({subscription.get_format_display()}).\n"
              f"Data window: {report.data_window}. Generated {report.generated_at}.\n\n"
              f"Manage your subscriptions under Report subscriptions in the dashboards."),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[user.email],
    )
    message.attach(filename, content, content_type)
    message.send()
    return _finish(subscription, f"sent {filename}", now)


def send_subscription_now(subscription_id):
    """The "Send now" button's background job (mlanalytics.core.jobs): send one subscription whatever its
    schedule and empty state; its status says what happened."""
    subscription = ReportSubscription.objects.select_related("user", "store").filter(pk=subscription_id).first()
    if subscription is None:
        return "not sent: the subscription was removed"
    try:
        return send_subscription(subscription, force=True)
    except Exception as exc:  # the status column is where the person looks; the log has the trace
        log.exception("report subscription %s failed", subscription.pk)
        return _finish(subscription, f"failed: {exc.__class__.__name__}", timezone.now())


def send_due_reports(now=None):
    """Send every active subscription whose period has come round. Returns how many were processed."""
    now = now or timezone.now()
    done = 0
    for subscription in ReportSubscription.objects.filter(is_active=True).select_related("user", "store"):
        if not is_due(subscription, now):
            continue
        try:
            send_subscription(subscription, now)
        except Exception as exc:  # one broken report must not stop the others; its status says why
            log.exception("report subscription %s failed", subscription.pk)
            _finish(subscription, f"failed: {exc.__class__.__name__}", now)
        done += 1
    return done
