"""Working calendars of the shop's stores and technicians (opening hours, shifts, public holidays),
built from the database and the Workflow settings for the pure methods in workflow.analytics."""
from datetime import date, timedelta

from django.conf import settings

from mlanalytics.core import shop

from .analytics.worktime import WorkCalendar


def holidays_between(first_day, last_day, store=None):
    """{date: name}: the public holidays of `store` (its own country, else the shop's), or the shop's."""
    region = shop.store_region(store) if store is not None else None
    return shop.holidays_between(first_day, last_day, region)


def store_calendar(store, first_day: date, last_day: date, shift_minutes=None):
    """The store's working calendar over [first_day, last_day]; with `shift_minutes`, a technician's."""
    n_days = (last_day - first_day).days + 1
    return WorkCalendar.build(
        first_day, n_days, store.opening_hours, time_zone=store.timezone or settings.TIME_ZONE,
        holidays=holidays_between(first_day, last_day, store), closed_holidays=set(settings.WORKFLOW_CLOSED_HOLIDAYS),
        holiday_hours=settings.WORKFLOW_HOLIDAY_HOURS, shift_minutes=shift_minutes,
    )


def technician_calendar(technician, first_day, last_day):
    return store_calendar(technician.store, first_day, last_day, shift_minutes=technician.shift_minutes or {})


def padded_range(start, end, before=7, after=60):
    """A calendar range around [start, end] with room for work that runs on after the end."""
    return start - timedelta(days=before), end + timedelta(days=after)
