"""Working time of a shop: time only counts while the store is open (and, for a technician, while
they are on shift).

Stage durations, SLA slack and the queue simulation are measured in *working minutes*: a repair
booked in at 17:50 and diagnosed at 09:20 the next morning waited 30 working minutes, not 15 hours.
`WorkCalendar` holds the open minutes of every day and their running total, so converting between
wall-clock time and working time is a binary search (the cumulative-calendar method used by
business-hours calculators).

Times are "local minutes": minutes since local midnight of the calendar's first day, in the store's
time zone. `to_local_minutes()` / `from_local_minutes()` convert aware timestamps both ways.
"""
from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

WEEK = tuple(str(d) for d in range(1, 8))


def parse_hours(hours):
    """["09:00", "18:00"] -> (540, 1080); None or empty -> None (closed)."""
    if not hours:
        return None
    opens, closes = hours
    oh, om = (int(x) for x in str(opens).split(":"))
    ch, cm = (int(x) for x in str(closes).split(":"))
    start, end = oh * 60 + om, ch * 60 + cm
    return (start, end) if end > start else None


@dataclass
class WorkCalendar:
    """Open minutes per day and their running total; converts wall minutes <-> working minutes."""

    first_day: date
    time_zone: str
    open_from: np.ndarray  # minute of the day the clock starts, per day
    open_minutes: np.ndarray  # minutes that count that day (0 = closed / day off)
    cumulative: np.ndarray  # working minutes before each day; length days + 1
    # Plain-list copies for the scalar conversions the simulation calls in its inner loop.
    _open_from: list = field(default=None, repr=False)
    _open_minutes: list = field(default=None, repr=False)
    _cumulative: list = field(default=None, repr=False)

    def __post_init__(self):
        self._open_from = self.open_from.tolist()
        self._open_minutes = self.open_minutes.tolist()
        self._cumulative = self.cumulative.tolist()

    @classmethod
    def build(cls, first_day, n_days, opening_hours, *, time_zone="Europe/London", holidays=None,
              closed_holidays=(), holiday_hours=None, shift_minutes=None):
        """Calendar of `n_days` from `first_day`.

        opening_hours: {"1": ["09:00", "18:00"], ..., "7": None} (ISO weekday keys).
        holidays: {date: name}; a holiday whose name is in `closed_holidays` is closed, any other runs
        on `holiday_hours` (e.g. ["10:00", "16:00"]) when given, or normal hours otherwise.
        shift_minutes: a technician's minutes per ISO weekday ({"1": 480, ...}); the shift starts at
        opening and never runs past closing. 0 or missing = day off.
        """
        holidays = holidays or {}
        open_from = np.zeros(n_days, dtype=np.int64)
        open_minutes = np.zeros(n_days, dtype=np.int64)
        short = parse_hours(holiday_hours) if holiday_hours else None
        for i in range(n_days):
            day = first_day + timedelta(days=i)
            weekday = str(day.isoweekday())
            name = holidays.get(day)
            if name is not None and name in closed_holidays:
                continue
            hours = short if (name is not None and short) else parse_hours((opening_hours or {}).get(weekday))
            if hours is None:
                continue
            minutes = hours[1] - hours[0]
            if shift_minutes is not None:
                minutes = min(minutes, int((shift_minutes or {}).get(weekday) or 0))
                if minutes <= 0:
                    continue
            open_from[i], open_minutes[i] = hours[0], minutes
        cumulative = np.concatenate([[0], np.cumsum(open_minutes)]).astype(np.int64)
        return cls(first_day, time_zone, open_from, open_minutes, cumulative)

    @property
    def n_days(self):
        return len(self.open_minutes)

    # -- wall <-> working ------------------------------------------------------------------------
    def to_working(self, wall):
        """Local wall minutes -> working minutes (time outside open hours does not count)."""
        wall = np.asarray(wall, dtype=np.int64)
        day = np.clip(wall // 1440, 0, self.n_days - 1)
        into_day = np.clip(wall - day * 1440 - self.open_from[day], 0, self.open_minutes[day])
        before = wall < 0
        after = wall >= self.n_days * 1440
        result = self.cumulative[day] + into_day
        return np.where(before, 0, np.where(after, self.cumulative[-1], result))

    def to_wall(self, working):
        """Working minutes -> local wall minutes; a day boundary maps to the closing time of the day before."""
        working = np.asarray(working, dtype=np.int64)
        day = np.searchsorted(self.cumulative[1:], working, side="left")
        day = np.clip(day, 0, self.n_days - 1)
        return day * 1440 + self.open_from[day] + (working - self.cumulative[day])

    def to_working_scalar(self, wall):
        wall = int(wall)
        n_days = len(self._open_minutes)
        if wall < 0:
            return 0
        if wall >= n_days * 1440:
            return self._cumulative[-1]
        day = wall // 1440
        into_day = min(max(wall - day * 1440 - self._open_from[day], 0), self._open_minutes[day])
        return self._cumulative[day] + into_day

    def to_wall_scalar(self, working):
        working = int(working)
        cumulative = self._cumulative
        day = min(bisect_left(cumulative, working, 1) - 1, len(self._open_minutes) - 1)
        return day * 1440 + self._open_from[day] + working - cumulative[day]

    def working_between(self, start_wall, end_wall):
        """Working minutes between two wall times (vectorised; negative spans give 0)."""
        return np.maximum(self.to_working(end_wall) - self.to_working(start_wall), 0)

    def open_minutes_on(self, first, last):
        """Working minutes available on days [first, last] (day indices, inclusive)."""
        first, last = max(0, first), min(self.n_days - 1, last)
        if last < first:
            return 0
        return int(self.cumulative[last + 1] - self.cumulative[first])

    def is_open(self, wall):
        wall = int(wall)
        day = wall // 1440
        if day < 0 or day >= self.n_days:
            return False
        into = wall - day * 1440 - int(self.open_from[day])
        return 0 <= into < int(self.open_minutes[day])

    # -- aware timestamps <-> local minutes --------------------------------------------------------
    def local_minute(self, moment):
        """One aware datetime -> local minutes since first_day midnight (the scalar, pandas-free path)."""
        local = moment.astimezone(ZoneInfo(self.time_zone)).replace(tzinfo=None)
        return (local - datetime.combine(self.first_day, time())).total_seconds() / 60.0

    def moment(self, minute):
        """Local minutes -> aware datetime in the calendar's time zone (the scalar path)."""
        naive = datetime.combine(self.first_day, time()) + timedelta(minutes=float(minute))
        return naive.replace(tzinfo=ZoneInfo(self.time_zone))

    def to_local_minutes(self, stamps):
        """Aware timestamps (Series / array / list) -> local minutes since first_day midnight (float; NaN stays)."""
        return to_local_minutes(stamps, self.first_day, self.time_zone)

    def from_local_minutes(self, minutes):
        """Local minutes -> aware UTC timestamps (pandas DatetimeIndex)."""
        return from_local_minutes(minutes, self.first_day, self.time_zone)


def to_local_minutes(stamps, first_day, time_zone):
    series = pd.Series(stamps)
    if not isinstance(series.dtype, pd.DatetimeTZDtype):
        series = pd.to_datetime(series, utc=True, cache=False)
    index = pd.DatetimeIndex(series)
    local = index.tz_convert(time_zone).tz_localize(None)
    return ((local - pd.Timestamp(first_day)) / pd.Timedelta(minutes=1)).to_numpy(dtype=float)


def from_local_minutes(minutes, first_day, time_zone):
    values = np.asarray(minutes, dtype=float)
    stamps = pd.Timestamp(first_day) + pd.to_timedelta(np.nan_to_num(values), unit="min")
    aware = pd.DatetimeIndex(stamps).tz_localize(
        time_zone, ambiguous=np.zeros(len(values), dtype=bool), nonexistent="shift_forward"
    ).tz_convert("UTC")
    return aware.where(~np.isnan(values))
