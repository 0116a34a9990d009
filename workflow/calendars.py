"""Working calendars of the shop's stores and technicians (opening hours, shifts, bank holidays),
built from the database and the Workflow settings for the pure methods in workflow.analytics."""
from datetime import date, timedelta
from functools import lru_cache

import holidays as holiday_calendars
from django.conf import settings

from .analytics.worktime import WorkCalendar


@lru_cache(maxsize=64)
def _holidays(first_year, last_year):
    country = settings.WORKFLOW_HOLIDAY_COUNTRY
    if not country:
        return {}
    found = holiday_calendars.country_holidays(country, subdiv=settings.WORKFLOW_HOLIDAY_SUBDIVISION or None,
                                               years=range(first_year, last_year + 1))
    return dict(found.items())


def holidays_between(first_day, last_day):
    return {d: n for d, n in _holidays(first_day.year, last_day.year).items() if first_day <= d <= last_day}


def store_calendar(store, first_day: date, last_day: date, shift_minutes=None):
    """The store's working calendar over [first_day, last_day]; with `shift_minutes`, a technician's."""
    n_days = (last_day - first_day).days + 1
    return WorkCalendar.build(
        first_day, n_days, store.opening_hours, time_zone=store.timezone or "Europe/London",
        holidays=holidays_between(first_day, last_day), closed_holidays=set(settings.WORKFLOW_CLOSED_HOLIDAYS),
        holiday_hours=settings.WORKFLOW_HOLIDAY_HOURS, shift_minutes=shift_minutes,
    )


def technician_calendar(technician, first_day, last_day):
    return store_calendar(technician.store, first_day, last_day, shift_minutes=technician.shift_minutes or {})


def padded_range(start, end, before=7, after=60):
    """A calendar range around [start, end] with room for work that runs on after the end."""
    return start - timedelta(days=before), end + timedelta(days=after)
