"""Shop calendars for the demo generator: opening hours, the shop's public holidays, and working time.

Work in the shop only advances while the shop is open, so the generator measures every stage in
*working minutes* and converts to wall-clock time through a cumulative calendar. Times inside the
generator are local minutes since the first day's midnight (int64); conversion to aware UTC
happens once, when rows are written.
"""
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from mlanalytics.core.shop import holidays_between

# Christmas Day, Boxing Day and New Year's Day the shops close; other public holidays they open short.
CLOSED_HOLIDAYS = {"Christmas Day", "Boxing Day", "New Year's Day"}
SHORT_HOURS = (10 * 60, 16 * 60)


def shop_holidays(start, end):
    """The shop's public holidays between two dates (England and Wales for the UK demo), as {date: name}."""
    return holidays_between(start, end)


def parse_hours(hours):
    if not hours:
        return None
    opens, closes = hours
    oh, om = (int(x) for x in opens.split(":"))
    ch, cm = (int(x) for x in closes.split(":"))
    return oh * 60 + om, ch * 60 + cm


@dataclass
class WorkCalendar:
    """Open minutes per day and their running total; converts wall minutes <-> working minutes."""

    open_from: np.ndarray  # minute of day the shop opens, per day
    open_minutes: np.ndarray  # minutes open that day (0 = closed)
    cumulative: np.ndarray  # working minutes before each day; length days + 1

    @classmethod
    def build(cls, first_day, n_days, opening_hours, holiday_dates, works_on=None):
        """`opening_hours` maps ISO weekday "1".."7" to ["09:00","18:00"] or None; `works_on` is an
        optional set of ISO weekdays a person works (technician days off)."""
        open_from = np.zeros(n_days, dtype=np.int64)
        open_minutes = np.zeros(n_days, dtype=np.int64)
        for i in range(n_days):
            day = first_day + timedelta(days=i)
            weekday = day.isoweekday()
            name = holiday_dates.get(day)
            if name in CLOSED_HOLIDAYS:
                continue
            if works_on is not None and weekday not in works_on:
                continue
            hours = SHORT_HOURS if name else parse_hours(opening_hours.get(str(weekday)))
            if hours is None:
                continue
            open_from[i], open_minutes[i] = hours[0], hours[1] - hours[0]
        cumulative = np.concatenate([[0], np.cumsum(open_minutes)])
        return cls(open_from, open_minutes, cumulative)

    @property
    def n_days(self):
        return len(self.open_minutes)

    def to_working(self, wall):
        """Wall-clock local minutes -> working minutes (time outside opening hours does not count)."""
        wall = np.asarray(wall, dtype=np.int64)
        day = np.clip(wall // 1440, 0, self.n_days - 1)
        into_day = np.clip(wall - day * 1440 - self.open_from[day], 0, self.open_minutes[day])
        return self.cumulative[day] + into_day

    def to_wall(self, working):
        """Working minutes -> wall-clock local minutes; a boundary maps to the closing time of the day before."""
        working = np.asarray(working, dtype=np.int64)
        day = np.searchsorted(self.cumulative[1:], working, side="left")
        day = np.clip(day, 0, self.n_days - 1)
        return day * 1440 + self.open_from[day] + (working - self.cumulative[day])

    def to_wall_scalar(self, working):
        day = int(np.searchsorted(self.cumulative[1:], working, side="left"))
        day = min(day, self.n_days - 1)
        return day * 1440 + int(self.open_from[day]) + int(working - self.cumulative[day])

    def to_working_scalar(self, wall):
        day = min(max(int(wall) // 1440, 0), self.n_days - 1)
        into_day = min(max(int(wall) - day * 1440 - int(self.open_from[day]), 0), int(self.open_minutes[day]))
        return int(self.cumulative[day]) + into_day


def days_between(start: date, end: date):
    return (end - start).days + 1
