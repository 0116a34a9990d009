"""Fast bulk writes for generated data: COPY on PostgreSQL, executemany on SQLite.

Rows are dicts keyed by field attname (e.g. "store_id"); fields a row leaves out get the model
field's default, so a raw insert never misses a NOT NULL column. Ids are assigned here, so rows in
other tables can point at them before they are written.
"""
import json
from datetime import datetime, timezone as dt_timezone

import numpy as np
import pandas as pd
from django.conf import settings
from django.core.management.color import no_style
from django.db import connection, models


class BulkWriter:
    def __init__(self, start_date, tz=None):
        self.connection = connection
        self.vendor = connection.vendor
        self.base = pd.Timestamp(start_date)
        self.tz = tz or settings.TIME_ZONE  # generated local times are the shop's wall-clock times
        self.next_id = {}
        self.written = {}
        self.now = self._format_datetime(datetime.now(dt_timezone.utc))

    # -- ids ------------------------------------------------------------------------------------------
    def allocate_ids(self, model, count):
        """A block of `count` fresh primary keys for `model`."""
        if model not in self.next_id:
            self.next_id[model] = (model.objects.aggregate(m=models.Max("pk"))["m"] or 0) + 1
        first = self.next_id[model]
        self.next_id[model] = first + count
        return np.arange(first, first + count, dtype=np.int64)

    def reset_sequences(self):
        """After explicit ids, move PostgreSQL's sequences past them (SQLite needs nothing)."""
        if self.vendor != "postgresql" or not self.next_id:
            return
        statements = self.connection.ops.sequence_reset_sql(no_style(), list(self.next_id))
        with self.connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)

    # -- time -----------------------------------------------------------------------------------------
    def _format_datetime(self, value):
        value = value.astimezone(dt_timezone.utc)
        return value.strftime("%Y-%m-%d %H:%M:%S") + ("" if self.vendor == "sqlite" else "+00:00")

    def local_minutes_to_db(self, minutes):
        """Local minutes since the first day's midnight -> database datetime strings (UTC); None stays None."""
        values = pd.array(minutes, dtype="Int64")
        mask = values.isna()
        filled = np.where(mask, 0, values.to_numpy(dtype="int64", na_value=0))
        stamps = self.base + pd.to_timedelta(filled, unit="min")
        aware = pd.DatetimeIndex(stamps).tz_localize(
            self.tz, ambiguous=np.zeros(len(filled), dtype=bool), nonexistent="shift_forward"
        ).tz_convert("UTC")
        fmt = "%Y-%m-%d %H:%M:%S" + ("" if self.vendor == "sqlite" else "+00:00")
        text = aware.strftime(fmt)
        return [None if m else t for m, t in zip(mask, text)]

    # -- insert ---------------------------------------------------------------------------------------
    def insert(self, model, rows):
        """Insert dict rows into the model's table in one bulk operation."""
        if not rows:
            return 0
        fields = [f for f in model._meta.concrete_fields]
        columns, defaults = [], []
        for f in fields:
            columns.append(f.column)
            if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
                defaults.append(self.now)
            else:
                # get_default() also gives "" for text fields without a default, as the ORM would.
                value = f.get_default()
                defaults.append(json.dumps(value) if isinstance(f, models.JSONField) and value is not None else value)
        attnames = [f.attname for f in fields]
        json_fields = {f.attname for f in fields if isinstance(f, models.JSONField)}
        tuples = []
        for row in rows:
            values = []
            for name, default in zip(attnames, defaults):
                if name in row:
                    value = row[name]
                    if name in json_fields:
                        value = json.dumps(value)
                    elif isinstance(value, np.generic):
                        value = value.item()
                    values.append(value)
                else:
                    values.append(default)
            tuples.append(values)
        table = self.connection.ops.quote_name(model._meta.db_table)
        column_sql = ", ".join(self.connection.ops.quote_name(c) for c in columns)
        with self.connection.cursor() as cursor:
            if self.vendor == "postgresql":
                with cursor.cursor.copy(f"COPY {table} ({column_sql}) FROM STDIN") as copy:
                    for values in tuples:
                        copy.write_row(values)
            else:
                placeholders = ", ".join(["%s"] * len(columns))
                cursor.executemany(f"INSERT INTO {table} ({column_sql}) VALUES ({placeholders})", tuples)
        self.written[model._meta.label] = self.written.get(model._meta.label, 0) + len(tuples)
        return len(tuples)
