"""Reads and analytics of the inventory app: the data the methods in `inventory.ml` need, fetched with
aggregated queries, and the composed results the API serves.

Every function takes the store ids it may read (already scoped by the caller) and returns plain
pandas frames or JSON-ready dicts. Nothing loops over parts in Python against the database: rows
are aggregated in SQL and computed on as arrays.
"""
import io
import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import CharField, Count, F, Max, Min, Q, Sum
from django.db.models.functions import Cast
from django.utils import timezone

from .ml import performance as perf
from .ml import policy as pol
from .ml import replay as rp
from .ml import suppliers as sup
from .ml import today as today_ml
from .models import (
    Part,
    PartDay,
    POReceipt,
    PurchaseOrder,
    PurchaseOrderLine,
    Stock,
    StockMovement,
    StockPolicy,
    Supplier,
    SupplierPrice,
)

FORECAST_DEFAULTS = {
    "demand_class": "none", "method": "", "daily_mean": 0.0, "daily_sd": 0.0, "adi": None, "cv2": None,
    "backtest": None, "model_version": None, "trained_at": None,
}
OPEN_PO_STATUSES = (PurchaseOrder.Status.ORDERED, PurchaseOrder.Status.PARTIAL)
DELIVERY_WINDOW_DAYS = 365
STOCKOUT_PROJECTION_DAYS = 3650


def cost_rates():
    """The shop's cost settings as the methods take them."""
    return pol.CostRates(
        holding_rate=settings.INVENTORY_HOLDING_COST_RATE,
        stockout_cost=settings.INVENTORY_STOCKOUT_COST,
        review_days=float(settings.INVENTORY_REVIEW_PERIOD_DAYS),
        max_cover_days=float(settings.INVENTORY_MAX_ORDER_COVER_DAYS) or None,
        late_delivery_weight=settings.INVENTORY_LATE_DELIVERY_WEIGHT,
    )


def today():
    return timezone.localdate()


def local_day_start(day):
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(settings.TIME_ZONE))


def local_dates(values):
    """Aware datetimes (or their ISO text, see `_fetched_datetime`) -> naive local midnight timestamps
    (the shop's calendar day)."""
    series = pd.Series(values)
    sample = series.dropna()
    if len(sample) and isinstance(sample.iloc[0], str):
        stamps = pd.to_datetime(series, utc=True, format="ISO8601")
    else:
        stamps = pd.to_datetime(series, utc=True)
    return stamps.dt.tz_convert(settings.TIME_ZONE).dt.tz_localize(None).dt.normalize()


def _fetched_datetime(field):
    """A datetime column to fetch in bulk. SQLite hands back its stored UTC text, parsed by pandas in
    one vectorised call, instead of building one Python datetime per row (10x faster on 50k rows);
    PostgreSQL's driver converts natively."""
    if connection.vendor == "sqlite":
        return Cast(field, output_field=CharField())
    return F(field)


def _frame(queryset, columns):
    """The rows of a values_list queryset as a DataFrame with `columns`. On PostgreSQL the rows come as
    one CSV text aggregated by the server and parsed by pandas' C reader: no Python object per value,
    several times faster than iterating the ORM's rows for the 10⁵–10⁶ rows of the large scale. Values
    come back as pandas holds the ORM's: numbers (numeric as float, exactly), text as text ('' stays
    ''), booleans, NULL as NaN, datetimes as ISO text (`local_dates` parses both)."""
    if connection.vendor == "postgresql":
        return _server_csv_frame(queryset, columns)
    rows = list(queryset)
    return pd.DataFrame(rows, columns=columns) if rows else pd.DataFrame(columns=columns)


TEXT_FIELDS = {"CharField", "TextField", "SlugField", "EmailField", "DateTimeField", "DateField", "JSONField"}
FREE_TEXT_FIELDS = {"CharField", "TextField", "SlugField", "EmailField", "JSONField"}


def _server_csv_frame(queryset, columns):
    compiler = queryset.query.get_compiler(connection=connection)
    try:
        sql, params = compiler.as_sql()
    except EmptyResultSet:  # e.g. part_id__in=[]: Django knows there are no rows without asking the server
        return pd.DataFrame(columns=columns)
    # The columns in the order the SQL selects them (values_list() hands them back in the order asked for).
    selected = [alias for _, _, alias in compiler.select]
    kinds = [expression.output_field.get_internal_type() for expression, _, _ in compiler.select]
    # The server writes the rows as one CSV text (text quoted, NULL as an unquoted \N), fetched as one value:
    # no per-row trip through the driver, which COPY or a cursor would make.
    names = [f"c{i}" for i in range(len(selected))]
    fields = ", ".join(
        f"""coalesce('"' || replace({name}::text, '"', '""') || '"', '\\N')""" if kind in FREE_TEXT_FIELDS
        else f"coalesce({name}::text, '\\N')" for name, kind in zip(names, kinds))
    statement = connection.ops.compose_sql(sql, params)
    with connection.cursor() as cursor:
        if queryset.ordered:
            # An aggregate need not keep the rows in order: an ordered read goes through COPY, row by row.
            chunks = []
            with cursor.cursor.copy(f"COPY ({statement}) TO STDOUT WITH (FORMAT csv, NULL '\\N')") as copy:
                for block in copy:
                    chunks.append(bytes(block))
            text = b"".join(chunks).decode()
        else:
            cursor.execute(f"SELECT string_agg(concat_ws(',', {fields}), E'\\n') FROM ({statement}) AS q({', '.join(names)})")
            text = cursor.fetchone()[0]
    if not text:
        return pd.DataFrame(columns=columns)
    # NULL is the unquoted \N, so an empty text stays '' as the ORM gives it. Numbers are parsed exactly
    # (round_trip): the server writes the shortest text that reads back as the same double, and pandas'
    # fast reader would be a unit in the last place off for many of them.
    frame = pd.read_csv(io.StringIO(text), names=selected, header=None, keep_default_na=False, na_values=["\\N"],
                        dtype={name: str for name, kind in zip(selected, kinds) if kind in TEXT_FIELDS},
                        float_precision="round_trip")
    for name, kind in zip(selected, kinds):
        if kind == "BooleanField" and frame[name].dtype != bool:  # pandas reads true/false itself, not COPY's t/f
            frame[name] = frame[name].map({"true": True, "false": False, "t": True, "f": False, True: True, False: False})
    asked = list(queryset._fields) or selected
    frame = frame[asked]
    frame.columns = columns
    return frame


# --- Master data and stock -------------------------------------------------------------------------


def parts_frame(part_ids=None):
    qs = Part.objects.all()
    if part_ids is not None:
        qs = qs.filter(pk__in=list(part_ids))
    columns = ["part_id", "sku", "name", "category", "unit_cost", "price", "part_service_level", "part_moq", "part_pack", "is_active"]
    frame = _frame(qs.values_list("id", "sku", "name", "category", "unit_cost", "price", "service_level", "min_order_qty",
                                  "pack_size", "is_active"), columns)
    for column in ("unit_cost", "price", "part_service_level"):
        frame[column] = frame[column].astype(float)
    return frame


def part_families(part_ids=None):
    """Per part: its family of similar parts — the same part category for the same device category (e.g.
    phone screens), None for generic parts — and its device model's release date (NaT unknown)."""
    qs = Part.objects.all() if part_ids is None else Part.objects.filter(pk__in=list(part_ids))
    frame = _frame(qs.values_list("id", "category", "device_model__category", "device_model__released_on"),
                   ["part_id", "category", "device_category", "released_on"])
    frame["family"] = np.where(frame.device_category.notna(), frame.device_category.astype(str) + "/" + frame.category.astype(str),
                               None)
    frame["released_on"] = pd.to_datetime(frame.released_on)
    return frame[["part_id", "family", "released_on"]]


def stock_frame(store_ids, part_ids=None):
    qs = Stock.objects.filter(store_id__in=store_ids)
    if part_ids is not None:
        qs = qs.filter(part_id__in=list(part_ids))
    return _frame(qs.values_list("store_id", "part_id", "on_hand", "reserved", "min_qty", "max_qty"),
                  ["store_id", "part_id", "on_hand", "reserved", "min_qty", "max_qty"])


def suppliers_frame():
    frame = _frame(Supplier.objects.values_list("id", "code", "name", "quoted_lead_time_days", "order_cost",
                                                "monthly_capacity_units", "is_active"),
                   ["supplier_id", "code", "name", "quoted_lead_time_days", "order_cost", "monthly_capacity_units", "is_active"])
    frame["order_cost"] = frame.order_cost.astype(float)
    return frame


def price_list(part_ids=None, active_only=True):
    qs = SupplierPrice.objects.all()
    if active_only:
        qs = qs.filter(supplier__is_active=True)
    if part_ids is not None:
        qs = qs.filter(part_id__in=list(part_ids))
    frame = _frame(qs.values_list("supplier_id", "part_id", "unit_price", "min_order_qty", "pack_size", "lead_time_days"),
                   ["supplier_id", "part_id", "unit_price", "min_order_qty", "pack_size", "lead_time_days"])
    frame["unit_price"] = frame.unit_price.astype(float)
    return frame


def open_order_lines(store_ids, part_ids=None):
    """Outstanding units of ordered (not draft) purchase orders: what is on its way, and when."""
    qs = PurchaseOrderLine.objects.filter(po__store_id__in=store_ids, po__status__in=OPEN_PO_STATUSES,
                                          quantity_received__lt=F("quantity"))
    if part_ids is not None:
        qs = qs.filter(part_id__in=list(part_ids))
    frame = _frame(qs.values_list("po__store_id", "part_id", "po__supplier_id", "po__number", "quantity", "quantity_received",
                                  "unit_price", "po__expected_at", "po__ordered_at"),
                   ["store_id", "part_id", "supplier_id", "number", "quantity", "quantity_received", "unit_price", "expected_at", "ordered_at"])
    frame["outstanding"] = (frame.quantity - frame.quantity_received).astype(int)
    frame["unit_price"] = frame.unit_price.astype(float)
    expected = frame.expected_at.where(frame.expected_at.notna(), frame.ordered_at)
    frame["expected_date"] = local_dates(expected) if len(frame) else pd.Series(dtype="datetime64[ns]")
    return frame


def draft_order_lines(store_ids):
    return _frame(PurchaseOrderLine.objects.filter(po__store_id__in=store_ids, po__status=PurchaseOrder.Status.DRAFT)
                  .values_list("po__store_id", "part_id", "po__number", "quantity", "po__supplier_id"),
                  ["store_id", "part_id", "number", "quantity", "supplier_id"])


# --- Purchasing history ------------------------------------------------------------------------------


def purchase_order_history(window_days=DELIVERY_WINDOW_DAYS, store_ids=None, end=None):
    """Purchase orders placed in the window, with local order / promised / delivery dates and whether
    every line was delivered in full."""
    end = end or today()
    start = local_day_start(end - timedelta(days=window_days - 1))
    qs = PurchaseOrder.objects.filter(ordered_at__gte=start, ordered_at__lt=local_day_start(end + timedelta(days=1)))
    if store_ids is not None:
        qs = qs.filter(store_id__in=store_ids)
    qs = qs.exclude(status__in=[PurchaseOrder.Status.DRAFT, PurchaseOrder.Status.CANCELLED]).annotate(
        short_lines=Count("lines", filter=Q(lines__quantity_received__lt=F("lines__quantity"))),
    )
    qs = qs.annotate(ordered_text=_fetched_datetime("ordered_at"), expected_text=_fetched_datetime("expected_at"),
                     received_text=_fetched_datetime("received_at"))
    frame = _frame(qs.values_list("id", "supplier_id", "store_id", "ordered_text", "expected_text", "received_text", "short_lines"),
                   ["po_id", "supplier_id", "store_id", "ordered_at", "expected_at", "received_at", "short_lines"])
    for column, source in (("ordered", "ordered_at"), ("expected", "expected_at"), ("received", "received_at")):
        frame[column] = local_dates(frame[source]) if len(frame) else pd.Series(dtype="datetime64[ns]")
    frame["in_full"] = frame.received.notna() & (frame.short_lines == 0)
    return frame


def receipt_quality(window_days=DELIVERY_WINDOW_DAYS, store_ids=None, end=None):
    """Units received and found defective per supplier in the window (from delivery receipts)."""
    end = end or today()
    qs = POReceipt.objects.filter(received_at__gte=local_day_start(end - timedelta(days=window_days - 1)))
    if store_ids is not None:
        qs = qs.filter(line__po__store_id__in=store_ids)
    return _frame(qs.values("line__po__supplier_id").annotate(quantity=Sum("quantity"), defective=Sum("defective"))
                  .values_list("line__po__supplier_id", "quantity", "defective"), ["supplier_id", "quantity", "defective"])


def supplier_delivery_stats(window_days=DELIVERY_WINDOW_DAYS, end=None):
    """Per supplier over every store: delivered lead time mean and SD (days from order to delivery),
    on-time rate and defect rate. Suppliers with fewer than 3 deliveries fall back to their quoted
    lead time (SD 0) and the mean on-time and defect rates of the others."""
    suppliers = suppliers_frame().set_index("supplier_id")
    history = purchase_order_history(window_days, end=end)
    quality = receipt_quality(window_days, end=end).set_index("supplier_id")
    received = history[history.received.notna()].copy()
    received["lead_days"] = (received.received - received.ordered).dt.days.astype(float)
    received["on_time"] = received.received <= received.expected
    grouped = received.groupby("supplier_id").lead_days
    stats = pd.DataFrame({"deliveries": grouped.size(), "lead_time_mean": grouped.mean(), "lead_time_sd": grouped.std(ddof=1),
                          "on_time_rate": received.groupby("supplier_id").on_time.mean()})
    stats = stats.reindex(suppliers.index)
    stats["deliveries"] = stats.deliveries.fillna(0).astype(int)
    thin = stats.deliveries < 3
    stats.loc[thin, "lead_time_mean"] = suppliers.quoted_lead_time_days[thin].astype(float)
    stats.loc[thin, "lead_time_sd"] = 0.0
    stats["lead_time_source"] = np.where(thin, "quoted", "delivered")
    stats["lead_time_sd"] = stats.lead_time_sd.fillna(0.0)
    known = stats.on_time_rate[~thin]
    stats.loc[thin, "on_time_rate"] = float(known.mean()) if len(known) else 1.0
    defect = (quality.defective / quality.quantity.where(quality.quantity > 0)).reindex(suppliers.index)
    stats["defect_rate"] = defect.fillna(defect.mean() if defect.notna().any() else 0.0)
    stats["order_cost"] = suppliers.order_cost
    stats["quoted_lead_time_days"] = suppliers.quoted_lead_time_days
    stats.index.name = "supplier_id"
    return stats.reset_index()


def supplier_lead_time_sequences(window_days=DELIVERY_WINDOW_DAYS, end=None):
    """Each supplier's delivered lead times in days, in order of ordering (for the replay)."""
    history = purchase_order_history(window_days, end=end)
    received = history[history.received.notna()].sort_values(["ordered_at", "po_id"])
    received = received.assign(lead=(received.received - received.ordered).dt.days.clip(lower=1))
    return {int(s): group.lead.to_numpy(dtype=np.int64) for s, group in received.groupby("supplier_id")}


# --- Forecast ------------------------------------------------------------------------------------------


def parts_forecast(store_ids, part_ids=None):
    """The parts-demand forecast of the predictive app (its contract), with defaults filled in."""
    from predictive.selectors import parts_demand_forecast

    frame = parts_demand_forecast(store_ids=list(store_ids), part_ids=None if part_ids is None else list(part_ids))
    frame = frame.copy()
    for column, default in FORECAST_DEFAULTS.items():
        if column not in frame.columns:
            frame[column] = default
    if len(frame):
        frame["daily_mean"] = pd.to_numeric(frame.daily_mean, errors="coerce").fillna(0.0).clip(lower=0.0)
        frame["daily_sd"] = pd.to_numeric(frame.daily_sd, errors="coerce").fillna(0.0).clip(lower=0.0)
    return frame


def forecast_model_block(frame):
    """The `model` block for responses built on the parts forecast: which method(s) it came from, the
    newest version and training time, and each backtest metric's median over the series that have it."""
    if frame is None or not len(frame):
        return {"name": "parts_demand", "method": None, "methods": {}, "version": None, "trained_at": None, "backtest": {}}
    methods = frame["method"].fillna("").astype(str).replace("", "none").value_counts()
    versions = [v for v in frame["model_version"].dropna().unique().tolist() if v not in ("", None)]
    trained = pd.to_datetime(frame["trained_at"], errors="coerce", utc=True).dropna()
    metrics = {}
    for backtest in frame["backtest"]:
        if isinstance(backtest, dict):
            for key, value in backtest.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                    metrics.setdefault(key, []).append(float(value))
    return {
        "name": "parts_demand",
        "method": methods.index[0] if len(methods) else None,
        "methods": {str(k): int(v) for k, v in methods.items()},
        "version": str(max(versions, key=str)) if versions else None,
        "trained_at": trained.max().isoformat() if len(trained) else None,
        "backtest": {key: round(float(np.median(values)), 4) for key, values in sorted(metrics.items())},
        "backtest_series": max((len(v) for v in metrics.values()), default=0),
    }


# --- Reorder policy --------------------------------------------------------------------------------------


def policy_inputs(store_ids):
    """What `policy_candidates` reads besides the forecast and delivery statistics: the stores' stock rows,
    the parts and the active price list — read once by a caller that computes policies several times
    (the out-of-sample replay re-estimates them through the window)."""
    return {"stock": stock_frame(store_ids), "parts": parts_frame(), "prices": price_list()}


def policy_candidates(store_ids, service_level=None, forecast=None, as_of=None, delivery=None, inputs=None,
                      demand_only=False):
    """Every (store, part) item paired with each supplier qualified for it, priced by its yearly total
    relevant cost (`ml.policy.sourcing_costs`).

    Items join the parts forecast with stock rows and part settings; a candidate carries the price
    list terms and that supplier's delivered lead time and defect rate. `service_level` overrides each
    part's own target. `inputs`: `policy_inputs(store_ids)` already read. `demand_only`: only the items
    of active parts with forecast demand (what an allocation of demand prices; each candidate's cost is
    its own, so it is the same as in the full set). Returns (items, candidates).
    """
    forecast = parts_forecast(store_ids) if forecast is None else forecast
    if demand_only:
        forecast = forecast[forecast.daily_mean > 0]
        pairs = forecast[["store_id", "part_id"]].drop_duplicates()
    else:
        stock = inputs["stock"] if inputs else stock_frame(store_ids)
        pairs = pd.concat([stock[["store_id", "part_id"]], forecast[["store_id", "part_id"]]]).drop_duplicates()
    items = pairs.merge(forecast, on=["store_id", "part_id"], how="left")
    for column, default in FORECAST_DEFAULTS.items():
        if default is not None:
            items[column] = items[column].fillna(default)
    parts = inputs["parts"] if inputs else parts_frame(items.part_id.unique())
    items = items.merge(parts, on="part_id", how="inner")
    items.loc[~items.is_active.astype(bool), "daily_mean"] = 0.0
    if demand_only:
        items = items[items.daily_mean > 0]
    items["service_level"] = float(service_level) if service_level is not None else items.part_service_level
    items = items.reset_index(drop=True)
    items["item"] = np.arange(len(items))

    prices = inputs["prices"] if inputs else price_list(items.part_id.unique())
    delivery = supplier_delivery_stats(end=as_of) if delivery is None else delivery
    candidates = items[["item", "store_id", "part_id", "daily_mean", "daily_sd", "demand_class", "service_level", "part_moq",
                        "part_pack", "unit_cost"]].merge(prices, on="part_id", how="left").merge(delivery, on="supplier_id", how="left")
    # Items nobody lists keep the part's own cost and the typical lead time, with no supplier.
    no_source = candidates.supplier_id.isna()
    candidates.loc[no_source, "unit_price"] = candidates.loc[no_source, "unit_cost"]
    candidates.loc[no_source, "min_order_qty"] = candidates.loc[no_source, "part_moq"]
    candidates.loc[no_source, "pack_size"] = candidates.loc[no_source, "part_pack"]
    # ... the typical lead time and order cost of the shop's suppliers; with no supplier on record at
    # all, the assumed INVENTORY_FALLBACK_* settings. `lead_time_source` says which.
    known = len(delivery) and delivery.lead_time_mean.notna().any()
    typical_lead = float(delivery.lead_time_mean.median()) if known else float(settings.INVENTORY_FALLBACK_LEAD_TIME_DAYS)
    typical_order_cost = (float(delivery.order_cost.median()) if len(delivery) and delivery.order_cost.notna().any()
                          else float(settings.INVENTORY_FALLBACK_ORDER_COST))
    candidates["lead_time_source"] = candidates.lead_time_source.where(
        candidates.lead_time_mean.notna(), "typical_of_suppliers" if known else "setting")
    candidates["lead_time_mean"] = candidates.lead_time_mean.fillna(typical_lead)
    candidates["lead_time_sd"] = candidates.lead_time_sd.fillna(0.0)
    candidates["defect_rate"] = candidates.defect_rate.fillna(0.0)
    candidates["on_time_rate"] = candidates.on_time_rate.fillna(1.0)
    candidates["order_cost"] = candidates.order_cost.fillna(typical_order_cost)
    candidates["min_order_qty"] = np.maximum(candidates.min_order_qty.fillna(1), candidates.part_moq)
    candidates["pack_size"] = candidates.pack_size.fillna(candidates.part_pack)
    costs = pol.sourcing_costs(
        candidates.daily_mean, candidates.daily_sd, candidates.demand_class, candidates.service_level,
        candidates.unit_price, candidates.defect_rate, candidates.order_cost, candidates.lead_time_mean,
        candidates.lead_time_sd, candidates.min_order_qty, candidates.pack_size, cost_rates(), candidates.on_time_rate,
    )
    for key, values in costs.items():
        candidates[key] = values
    return items, candidates


def allocate_service(chosen):
    """The chosen suppliers' items with reorder points set together per store and service level
    (`ml.policy.allocate_reorder_points`): the store's replenishment cycles at that level meet it at the
    lowest safety-stock holding cost. Safety stock is then s − μ_P; `service_allocated` says which items.

    A part's weight is the cycles a year of it counts: its D/Q deliveries and the cycle under way at the year's
    turn (a slow mover delivered twice a year shows three cycles in any year: a third of its weight, not nothing)."""
    chosen = chosen.copy()
    quantity = chosen.order_qty.to_numpy(dtype=float)
    deliveries = 365.0 * chosen.daily_mean.to_numpy(dtype=float) / np.where(quantity > 0, quantity, 1.0)
    cycles = np.where((quantity > 0) & (deliveries > 0), deliveries + 1.0, 0.0)
    group, _ = pd.factorize(pd.MultiIndex.from_arrays([chosen.store_id, chosen.service_level.astype(float).round(6)]))
    points, allocated = pol.allocate_reorder_points(
        chosen.protection_demand, chosen.protection_sd, chosen.policy_method, chosen.reorder_point, cycles,
        cost_rates().holding_rate * chosen.unit_price.to_numpy(dtype=float), chosen.service_level, group)
    chosen["reorder_point"] = points
    chosen["safety_stock"] = np.where(allocated, points - chosen.protection_demand.to_numpy(dtype=float), chosen.safety_stock)
    chosen["service_allocated"] = allocated
    return chosen


def compute_policies(store_ids, service_level=None, forecast=None, as_of=None, delivery=None, inputs=None):
    """The recommended reorder policy of every stocked or forecast part at the stores: for each item the
    qualified supplier with the lowest yearly total relevant cost, with its reorder point, safety stock
    and order quantity. `as_of` / `delivery`: the day whose last 365 days of deliveries give the lead
    times (default today), or those delivery statistics themselves; `inputs`: see `policy_candidates`.
    Returns one row per (store, part)."""
    items, candidates = policy_candidates(store_ids, service_level, forecast, as_of, delivery, inputs)
    chosen = pol.choose_suppliers(candidates, ["item"]).set_index("item")
    chosen = allocate_service(chosen)
    keep = ["supplier_id", "unit_price", "lead_time_mean", "lead_time_sd", "lead_time_source", "defect_rate", "on_time_rate",
            "order_cost", "min_order_qty",
            "pack_size", "order_qty", "eoq", "protection_days", "protection_demand", "protection_sd", "reorder_point",
            "safety_stock", "policy_method", "annual_cost", "landed_cost_per_unit", "risk_cost_per_unit"]
    result = items.join(chosen[keep], on="item")
    result["review_days"] = cost_rates().review_days
    result["max_level"] = result.reorder_point + result.order_qty
    result["supplier_id"] = result.supplier_id.astype("Int64")
    return result.drop(columns=["item"])


POLICY_FIELDS = [
    "store_id", "part_id", "computed_at", "demand_class", "forecast_method", "daily_mean", "daily_sd", "adi", "cv2",
    "forecast_backtest", "model_version", "trained_at", "service_level", "policy_method", "supplier_id", "unit_price",
    "lead_time_days", "lead_time_sd", "review_days", "protection_demand", "protection_sd", "safety_stock",
    "reorder_point", "order_qty", "eoq", "max_level", "annual_cost", "lead_time_source",
]
# What requests read: the forecast's per-series details (backtest JSON, dates) stay in the table and are
# summarised per store in StockPolicyRefresh, which keeps a 250k-row read to plain numbers and names.
POLICY_READ_FIELDS = [f for f in POLICY_FIELDS if f not in ("computed_at", "adi", "cv2", "forecast_backtest", "model_version", "trained_at")]


# What every stock position needs (status, position, value, the monitor's order, the lead-time stand-ins);
# the rest of a policy is read only for the rows an answer lists (`with_policy_details`), which keeps the
# read of every row at the large scale to a third of the columns.
POLICY_STATUS_FIELDS = ["id", "store_id", "part_id", "daily_mean", "lead_time_days", "reorder_point", "order_qty", "max_level",
                        "lead_time_source"]
POLICY_DETAIL_FIELDS = [f for f in POLICY_READ_FIELDS if f not in POLICY_STATUS_FIELDS]  # (the row's id: policy_id)
# The forecast a stored policy was computed from (`stored_policies_as_forecast`).
POLICY_FORECAST_FIELDS = ["store_id", "part_id", "demand_class", "forecast_method", "daily_mean", "daily_sd"]


def stored_policies(store_ids, part_ids=None, fields=None, with_demand=False):
    """The stored policy rows, all of POLICY_READ_FIELDS or the `fields` given, of every item or only of
    those `with_demand` (forecast daily mean above zero) (computing them first for stores that have none)."""
    from .services import ensure_stock_policies

    fields = list(fields or POLICY_READ_FIELDS)
    ensure_stock_policies(store_ids)
    qs = StockPolicy.objects.filter(store_id__in=store_ids)
    if part_ids is not None:
        qs = qs.filter(part_id__in=list(part_ids))
    if with_demand:
        qs = qs.filter(daily_mean__gt=0)
    return _frame(qs.values_list(*fields), fields)


def policy_forecast_summary(store_ids):
    """The `model` block of the stores' stored policies, from their per-store forecast summaries:
    methods and series added up, newest version and training time, each backtest metric the
    series-weighted mean of the stores' medians (the median itself for one store)."""
    from .models import StockPolicyRefresh

    rows = list(StockPolicyRefresh.objects.filter(store_id__in=store_ids).values_list("computed_at", "forecast"))
    methods, metrics, weights = {}, {}, {}
    versions, trained = [], []
    for _, summary in rows:
        for method, n in (summary.get("methods") or {}).items():
            methods[method] = methods.get(method, 0) + n
        if summary.get("version") is not None:
            versions.append(str(summary["version"]))
        if summary.get("trained_at"):
            trained.append(summary["trained_at"])
        series = summary.get("backtest_series") or 0
        for key, value in (summary.get("backtest") or {}).items():
            if value is not None and series:
                metrics[key] = metrics.get(key, 0.0) + value * series
                weights[key] = weights.get(key, 0) + series
    ordered = sorted(methods.items(), key=lambda kv: -kv[1])
    return {
        "name": "parts_demand",
        "method": ordered[0][0] if ordered else None,
        "methods": dict(ordered),
        "version": max(versions, key=str) if versions else None,
        "trained_at": max(trained) if trained else None,
        "backtest": {key: round(metrics[key] / weights[key], 4) for key in sorted(metrics)},
        "backtest_series": max(weights.values(), default=0),
        "policy_computed_at": min(at for at, _ in rows).isoformat() if rows else None,
    }


def stored_policies_as_forecast(policies):
    """The forecast columns kept with stored policies, in the predictive contract's shape."""
    frame = policies.rename(columns={"forecast_method": "method", "forecast_backtest": "backtest"})
    for column, default in FORECAST_DEFAULTS.items():
        if column not in frame.columns:
            frame[column] = default
    return frame[["store_id", "part_id", "demand_class", "method", "daily_mean", "daily_sd", "adi", "cv2", "backtest",
                  "model_version", "trained_at"]]


def current_policies(store_ids, service_level=None, part_ids=None, fields=None):
    """Policies for the stores: the stored ones (all of POLICY_READ_FIELDS, or `fields`), or recomputed
    from their stored forecast when a service level other than each part's own is asked for."""
    stored = stored_policies(store_ids, part_ids, fields if service_level is None else None)
    if service_level is None or stored.empty:
        frame = stored.rename(columns={"lead_time_days": "lead_time_mean", "id": "policy_id"})
        if "supplier_id" in frame:
            frame["supplier_id"] = frame.supplier_id.astype("Int64")
        return frame
    forecast = stored_policies_as_forecast(stored)
    computed = compute_policies(store_ids, service_level=service_level, forecast=forecast)
    if part_ids is not None:
        computed = computed[computed.part_id.isin(list(part_ids))]
    computed = computed.rename(columns={"method": "forecast_method", "backtest": "forecast_backtest"})
    keep = [c if c != "lead_time_days" else "lead_time_mean" for c in POLICY_READ_FIELDS]
    return computed[[c for c in keep if c in computed.columns]]


# --- Stock positions (monitor, overview, suggestions) ---------------------------------------------------


POSITION_COLUMNS = [
    "store_id", "part_id", "on_hand", "reserved", "min_qty", "max_qty", "demand_class", "forecast_method", "daily_mean",
    "daily_sd", "service_level", "policy_method", "supplier_id", "unit_price", "lead_time_mean", "lead_time_sd", "review_days",
    "protection_demand", "protection_sd", "safety_stock", "reorder_point", "order_qty", "eoq", "max_level", "annual_cost",
    "sku", "name", "category", "unit_cost", "price", "is_active", "available", "backordered", "approved_min_max", "on_order",
    "next_delivery", "position", "days_of_cover", "days_to_stockout", "projected_stockout_date", "status", "lead_time_source",
]


def item_keys(store_ids, part_ids):
    """One int64 per (store, part), ordered as the pairs are: for aligning frames by item with numpy."""
    return (np.asarray(store_ids, dtype=np.int64) << 32) | np.asarray(part_ids, dtype=np.int64)


def _spread(column, at, size):
    """A column's values placed at rows `at` of a frame of `size` rows, missing (NaN / None) elsewhere —
    what an outer merge gives the rows one side lacks (integers become floats, as there)."""
    if isinstance(column.dtype, pd.api.extensions.ExtensionDtype) and pd.api.types.is_numeric_dtype(column.dtype):
        column = column.astype(float)  # e.g. Int64 with <NA>: NaN, restored by the caller
    values = column.to_numpy()
    if len(at) == size:
        out = np.empty(size, dtype=values.dtype) if values.dtype != object else np.empty(size, dtype=object)
        out[at] = values
        return out
    if values.dtype.kind in "iub":
        out = np.full(size, np.nan)
    elif values.dtype.kind in "fc":
        out = np.full(size, np.nan, dtype=values.dtype)
    else:
        out = np.full(size, np.nan, dtype=object)
    out[at] = values
    return out


def outer_join_items(left, right):
    """left ⟗ right on (store_id, part_id), one row per item in (store, part) order: pandas' outer merge
    by key arithmetic (no hashing of 10⁵ pairs of columns)."""
    left_keys = item_keys(left.store_id, left.part_id)
    right_keys = item_keys(right.store_id, right.part_id)
    keys = np.union1d(left_keys, right_keys)
    columns = {"store_id": (keys >> 32).astype(np.int64), "part_id": (keys & 0xFFFFFFFF).astype(np.int64)}
    for side, side_keys in ((left, left_keys), (right, right_keys)):
        at = np.searchsorted(keys, side_keys)
        for name in side.columns:
            if name not in ("store_id", "part_id"):
                columns[name] = _spread(side[name], at, len(keys))
    frame = pd.DataFrame(columns)
    for side in (left, right):
        for name in side.columns:
            if isinstance(side[name].dtype, pd.Int64Dtype):
                frame[name] = frame[name].astype("Int64")
    return frame


def _policy_defaults(frame):
    """What a position without a stored policy (or a column of one) holds: no demand, nothing to reorder."""
    for column in ("daily_mean", "daily_sd", "reorder_point", "order_qty", "max_level", "safety_stock", "protection_demand",
                   "lead_time_mean", "lead_time_sd", "review_days", "unit_price"):
        if column in frame:
            frame[column] = frame[column].fillna(0.0).astype(float)
    if "demand_class" in frame:
        frame["demand_class"] = frame.demand_class.fillna("none")
    if "policy_method" in frame:
        frame["policy_method"] = frame.policy_method.fillna(pol.NO_DEMAND)
    return frame


def stock_positions(store_ids, service_level=None, part_ids=None, as_of=None, policies=None, detail=True):
    """Every part at every store with its stock, what is on order, its policy and its status.

    Columns include on_hand, reserved, available (on hand − reserved, ≥ 0), backordered (reserved beyond on
    hand), on_order, position (on hand − reserved + on order), the policy
    (reorder_point, safety_stock, order_qty, max_level; approved min/max when a manager set them),
    days_of_cover, days_to_stockout (deliveries counted), projected_stockout_date, status.
    Set-based throughout: two bulk reads, arrays, and a per-item step only for items with deliveries due.
    `detail=False`: of the stored policy only what the status and position need (POLICY_STATUS_FIELDS);
    `with_policy_details()` adds the rest to the rows an answer lists.
    """
    as_of = as_of or today()
    if policies is None:
        lean = not detail and service_level is None
        policies = current_policies(store_ids, service_level, part_ids, fields=POLICY_STATUS_FIELDS if lean else None)
    stock = stock_frame(store_ids, part_ids)
    if not len(stock) and not len(policies):  # e.g. a category with no parts: the same columns, no rows
        return pd.DataFrame({column: pd.Series(dtype=float) for column in POSITION_COLUMNS})
    frame = outer_join_items(stock, policies)
    parts = parts_frame().set_index("part_id")  # every part (thousands): cheaper than picking out the ones held
    at = parts.index.get_indexer(frame.part_id)
    known = at >= 0
    for column in ("sku", "name", "category", "unit_cost", "price", "is_active"):
        values = parts[column].to_numpy()
        if known.all():
            frame[column] = values[at]
        else:
            frame[column] = pd.Series(values[np.where(known, at, 0)]).where(known).to_numpy()
    for column in ("on_hand", "reserved"):
        frame[column] = frame[column].fillna(0).astype(int)
    _policy_defaults(frame)
    frame["lead_time_source"] = frame.lead_time_source.fillna("none") if "lead_time_source" in frame else "none"
    frame["available"] = (frame.on_hand - frame.reserved).clip(lower=0)
    # Units reserved for committed repairs beyond the shelf: back-orders the position must cover.
    frame["backordered"] = (frame.reserved - frame.on_hand).clip(lower=0)

    # A manager's approved min/max replaces the computed reorder point and maximum.
    approved = frame.min_qty.notna() | frame.max_qty.notna()
    frame["approved_min_max"] = approved
    frame["reorder_point"] = frame.min_qty.where(frame.min_qty.notna(), frame.reorder_point)
    frame["max_level"] = frame.max_qty.where(frame.max_qty.notna(), frame.max_level)
    frame["max_level"] = np.maximum(frame.max_level, frame.reorder_point)

    # What is on order: per item its outstanding units, next delivery and (for the projection) each delivery.
    n = len(frame)
    on_order = np.zeros(n, dtype=np.int64)
    next_delivery = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    orders = open_order_lines(store_ids, part_ids)
    due = np.zeros(0, dtype=np.int64)
    if len(orders):
        orders["offset"] = (orders.expected_date - pd.Timestamp(as_of)).dt.days.clip(lower=0)
        keys, wanted = item_keys(frame.store_id, frame.part_id), item_keys(orders.store_id, orders.part_id)
        row = np.minimum(np.searchsorted(keys, wanted), n - 1)
        orders = orders.assign(row=row)[keys[row] == wanted].sort_values("row", kind="stable")  # lines of items held
        due, first = np.unique(orders.row.to_numpy(), return_index=True)
        outstanding = orders.outstanding.to_numpy(dtype=np.int64)
        on_order[due] = np.add.reduceat(outstanding, first) if len(due) else 0
        next_delivery[due] = np.minimum.reduceat(orders.expected_date.to_numpy(dtype="datetime64[ns]"), first) if len(due) else 0
        arrival_days = np.split(orders.offset.to_numpy(), first[1:])
        arrival_quantities = np.split(outstanding, first[1:])
    frame["on_order"] = on_order
    frame["next_delivery"] = next_delivery
    frame["position"] = frame.on_hand - frame.reserved + frame.on_order

    with np.errstate(divide="ignore", invalid="ignore"):
        frame["days_of_cover"] = np.where(frame.daily_mean > 0, frame.available / frame.daily_mean, np.inf)
    days = pol.days_until_stockout(frame.available, frame.daily_mean)
    if len(due):
        days[due] = pol.days_until_stockout(frame.available.to_numpy()[due], frame.daily_mean.to_numpy()[due],
                                            arrival_days, arrival_quantities)
    frame["days_to_stockout"] = days
    # Beyond ten years a projected date means nothing (and overflows a timestamp).
    finite = np.isfinite(days) & (days <= STOCKOUT_PROJECTION_DAYS)
    projected = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    projected[finite] = (pd.Timestamp(as_of) + pd.to_timedelta(np.floor(days[finite]), unit="D")).to_numpy()
    frame["projected_stockout_date"] = projected
    frame["status"] = pol.stock_status(frame.available, frame.reorder_point, frame.max_level, frame.days_to_stockout,
                                       frame.lead_time_mean, frame.daily_mean)
    return frame


def with_policy_details(rows):
    """Rows of a `stock_positions(detail=False)` frame with the rest of their stored policy
    (POLICY_DETAIL_FIELDS: forecast class and method, spread, supplier and price, safety stock, …), read
    for these rows only. Rows that already carry them come back as they are."""
    missing = [c for c in POLICY_DETAIL_FIELDS if c not in rows.columns]
    if not missing:
        return rows
    rows = rows.copy()
    fields = ["store_id", "part_id", *missing]
    details = pd.DataFrame(columns=fields)
    if len(rows):
        if "policy_id" in rows:  # the lean read kept each row's policy id: read exactly those
            policies = StockPolicy.objects.filter(pk__in=sorted(set(rows.policy_id.dropna().astype(int))))
        else:
            policies = StockPolicy.objects.filter(store_id__in=sorted(set(rows.store_id.astype(int))),
                                                  part_id__in=sorted(set(rows.part_id.astype(int))))
        details = _frame(policies.values_list(*fields), fields)
    keys = item_keys(details.store_id, details.part_id) if len(details) else np.zeros(0, dtype=np.int64)
    at = pd.Index(keys).get_indexer(item_keys(rows.store_id, rows.part_id))
    for column in missing:
        values = details[column].to_numpy() if len(details) else np.zeros(0, dtype=object)
        picked = pd.Series(values[np.where(at >= 0, at, 0)] if len(values) else np.full(len(rows), np.nan, dtype=object),
                           index=rows.index)
        rows[column] = picked.where(at >= 0)
    rows["supplier_id"] = rows.supplier_id.astype("Float64").astype("Int64") if "supplier_id" in missing else rows.supplier_id
    return _policy_defaults(rows)


def status_counts(positions):
    counts = positions.status.value_counts() if len(positions) else pd.Series(dtype=int)
    return {status: int(counts.get(status, 0)) for status in pol.STATUSES}


def stock_status_of(stock, as_of=None):
    """Status, days of cover and projected stockout of one Stock row from its stored policy — the cheap
    path used by every stock movement (two indexed queries, no forecast)."""
    policy = StockPolicy.objects.filter(store_id=stock.store_id, part_id=stock.part_id).values(
        "daily_mean", "reorder_point", "max_level", "lead_time_days", "safety_stock").first()
    if policy is None:
        return None
    as_of = as_of or today()
    reorder_point = stock.min_qty if stock.min_qty is not None else policy["reorder_point"]
    max_level = max(stock.max_qty if stock.max_qty is not None else policy["max_level"], reorder_point)
    lines = PurchaseOrderLine.objects.filter(part_id=stock.part_id, po__store_id=stock.store_id, po__status__in=OPEN_PO_STATUSES,
                                             quantity_received__lt=F("quantity")).values_list("quantity", "quantity_received", "po__expected_at")
    offsets, quantities = [], []
    for quantity, received, expected in lines:
        offsets.append(max((timezone.localtime(expected).date() - as_of).days, 0) if expected else 0)
        quantities.append(quantity - received)
    available = max(stock.on_hand - stock.reserved, 0)
    days = float(pol.days_until_stockout([available], [policy["daily_mean"]], [offsets], [quantities])[0])
    status = pol.stock_status([available], [reorder_point], [max_level], [days], [policy["lead_time_days"]], [policy["daily_mean"]])[0]
    cover = available / policy["daily_mean"] if policy["daily_mean"] > 0 else None
    return {
        "status": status, "available": available, "reorder_point": int(reorder_point), "max_level": int(max_level),
        "on_order": int(sum(quantities)), "days_of_cover": None if cover is None else round(cover, 1),
        "days_to_stockout": None if not math.isfinite(days) else round(days, 1),
        "projected_stockout_date": None if not days <= STOCKOUT_PROJECTION_DAYS
        else (as_of + timedelta(days=math.floor(days))).isoformat(),
        "lead_time_days": round(policy["lead_time_days"], 1), "daily_mean": policy["daily_mean"],
    }


# --- Demand history: the PartDay summary of the ledger ------------------------------------------------------

REDATE_DAYS = 62  # a consumption is re-dated to its ticket's wait, which began at most this long before
LAST_DAY = date(9999, 12, 31)  # "until now" for a read of the daily summary (no row is dated after today)


def build_part_days(store_id, since):
    """PartDay rows of one store from the local day `since` until now, from the ledger.

    Per part and day: net movement, closing balance (the last movement's balance_after), units
    consumed, and units needed — consumption dated at the start of its ticket's awaiting_parts wait
    when the ticket waited, so demand is counted on the day the repair needed the part; the units
    consumed after that moment are the ones that `waited` (not on the shelf). Returns
    (frame, last movement id summarised).
    """
    from workflow.models import TicketStatusEvent

    # The newest movement of the whole ledger before the store is read: every movement of the store up to it is
    # summarised, so its unsummarised ones are those above it (`ledger_tail` reads from here, not from the
    # store's own last movement, which for a quiet store lies far back in the ledger).
    ceiling = int(StockMovement.objects.aggregate(m=Max("id"))["m"] or 0)
    columns = ["id", "part_id", "kind", "ticket_id", "at", "quantity", "balance_after", "unit_cost"]
    moves = _frame(StockMovement.objects.filter(store_id=store_id, at__gte=local_day_start(since)).order_by("at", "id")
                   .annotate(at_text=_fetched_datetime("at"))
                   .values_list("id", "part_id", "kind", "ticket_id", "at_text", "quantity", "balance_after", "unit_cost"), columns)
    last_id = max(ceiling, int(moves.id.max()) if len(moves) else 0)
    out_columns = ["part_id", "day", "needed", "waited", "consumed", "consumed_cost", "net", "closing_balance"]
    if moves.empty:
        return pd.DataFrame(columns=out_columns), last_id
    moves["at"] = pd.to_datetime(moves["at"], utc=True, format="ISO8601") if isinstance(moves["at"].iloc[0], str) \
        else pd.to_datetime(moves["at"], utc=True)
    moves["day"] = moves["at"].dt.tz_convert(settings.TIME_ZONE).dt.tz_localize(None).dt.normalize()
    grouped = moves.groupby(["part_id", "day"], sort=False)
    summary = pd.DataFrame({"net": grouped.quantity.sum(), "closing_balance": grouped.balance_after.last()})
    used = moves[moves.kind == StockMovement.Kind.CONSUMPTION].copy()
    used["cost"] = -used.quantity * used.unit_cost.astype(float)
    used_by_day = used.groupby(["part_id", "day"])
    summary["consumed"] = (-used_by_day.quantity.sum()).reindex(summary.index).fillna(0)
    summary["consumed_cost"] = used_by_day.cost.sum().reindex(summary.index).fillna(0.0)
    first_wait = pd.Series(dict(
        TicketStatusEvent.objects.filter(to_status="awaiting_parts", ticket__store_id=store_id,
                                         at__gte=local_day_start(since - timedelta(days=REDATE_DAYS)))
        .values("ticket_id").annotate(first=Min("at")).values_list("ticket_id", "first")), dtype=object)
    wait_at = pd.to_datetime(used.ticket_id.map(first_wait), utc=True) if len(first_wait) else pd.Series(pd.NaT, index=used.index)
    waited_for = wait_at.notna() & (wait_at <= used["at"])
    wait_day = wait_at.dt.tz_convert(settings.TIME_ZONE).dt.tz_localize(None).dt.normalize()
    used["needed_day"] = wait_day.where(waited_for, used.day)
    used["units"] = -used.quantity
    used["waited"] = np.where(waited_for & (used["at"] > wait_at), used.units, 0)
    needs = used.groupby(["part_id", "needed_day"]).agg(needed=("units", "sum"), waited=("waited", "sum"))
    needs.index.names = ["part_id", "day"]
    frame = summary.join(needs, how="outer").reset_index()
    frame = frame[frame.day >= pd.Timestamp(since)]
    for column in ("needed", "waited", "consumed", "net"):
        frame[column] = frame[column].fillna(0).astype(np.int64)
    frame["consumed_cost"] = frame.consumed_cost.fillna(0.0).astype(float).round(2)
    frame["closing_balance"] = frame.closing_balance.astype("Int64")
    return frame[out_columns], last_id


def _parsed_days(values):
    """'YYYY-MM-DD' texts (a date cast to text) as timestamps, in one vectorised parse."""
    try:
        return pd.to_datetime(values, format="%Y-%m-%d")
    except ValueError:  # a backend that writes a time after the date
        return pd.to_datetime(values.astype(str).str[:10], format="%Y-%m-%d")


def part_days(store_ids, start, end, fields=("needed", "waited")):
    """PartDay rows of the stores between two local dates (the summary is brought up to date first)."""
    from .services import ensure_part_days

    ensure_part_days(store_ids)
    qs = PartDay.objects.filter(store_id__in=store_ids, day__gte=start, day__lte=end)
    columns = ["store_id", "part_id", "day", *fields]
    frame = _frame(qs.annotate(day_text=Cast("day", output_field=CharField())).values_list("store_id", "part_id", "day_text", *fields),
                   columns)
    frame["day"] = _parsed_days(frame.day) if len(frame) else pd.Series(dtype="datetime64[ns]")
    return frame


def daily_demand(store_ids, start, end):
    """Units of each part needed per store and local day in [start, end], and how many of them waited
    for stock (see `build_part_days`)."""
    frame = part_days(store_ids, start, end, ("needed", "waited"))
    frame = frame[frame.needed > 0].rename(columns={"needed": "units"})
    return frame.reset_index(drop=True)


def ledger_tail(store_ids):
    """The ledger movements of the stores newer than their PartDay summary (ids above the store's
    `PartDayRefresh.last_movement_id`; every movement of a store without one), as a queryset to
    aggregate: one range read on the primary key from the oldest summary on."""
    from django.db.models import Case, IntegerField, Value, When

    from .models import PartDayRefresh

    last = dict(PartDayRefresh.objects.filter(store_id__in=store_ids).values_list("store_id", "last_movement_id"))
    bounds = [last.get(s, 0) for s in store_ids]
    movements = StockMovement.objects.filter(store_id__in=store_ids, id__gt=min(bounds, default=0))
    if len(set(bounds)) > 1:
        movements = movements.filter(id__gt=Case(*[When(store_id=s, then=Value(v)) for s, v in last.items()],
                                                 default=Value(0), output_field=IntegerField()))
    return movements


def net_movements_since(store_ids, since, days=None):
    """Net units moved per (store, part) from the local day `since` until now: on hand then = on hand now
    − this. PartDay sums, plus the ledger movements newer than the summary. `days`: the stores' PartDay
    rows from `since` on (with `net`), when the caller has read them already."""
    from .services import ensure_part_days

    ensure_part_days(store_ids)
    if days is None:
        summarised = _frame(PartDay.objects.filter(store_id__in=store_ids, day__gte=since).values("store_id", "part_id")
                            .annotate(net=Sum("net")).values_list("store_id", "part_id", "net"), ["store_id", "part_id", "net"])
    else:
        summarised = days.groupby(["store_id", "part_id"], as_index=False).net.sum()
    newer = _frame(ledger_tail(store_ids).values("store_id", "part_id").annotate(net=Sum("quantity"))
                   .values_list("store_id", "part_id", "net"), ["store_id", "part_id", "net"])
    both = pd.concat([frame for frame in (summarised, newer) if len(frame)]) if len(summarised) or len(newer) else summarised
    if both.empty:
        return both
    both["net"] = both.net.astype(np.int64)
    return both.groupby(["store_id", "part_id"], as_index=False).net.sum()


# --- Replay: today's ordering against the recommended policy --------------------------------------------------

REPLAY_LABELS = ("today", "recommended", "recommended_out_of_sample")
# The service levels the stored replay also replays its out-of-sample policy at (target against delivered).
REPLAY_SERVICE_LEVELS = (0.90, 0.95, 0.99)


def service_level_label(level):
    """The replay label of the out-of-sample policy at a service level asked for every part."""
    return f"recommended_out_of_sample@{float(level):g}"


def closed_dates(first_day, last_day):
    """The days the shop is shut between two dates: the bank holidays WORKFLOW_CLOSED_HOLIDAYS names,
    from the shop's holiday calendar (the same one the working-time analytics use)."""
    from workflow.calendars import holidays_between

    closed = set(settings.WORKFLOW_CLOSED_HOLIDAYS)
    return {day for day, name in holidays_between(first_day, last_day).items() if name in closed}


def _review_mask(days, closed, weekdays=None, every=1):
    """One review flag per day: open days, on the given weekdays or every `every` days."""
    mask = np.array([d not in closed for d in days], dtype=bool)
    if weekdays is not None:
        mask &= np.array([d.weekday() in weekdays for d in days], dtype=bool)
    elif every > 1:
        mask &= (np.arange(len(days)) % every) == 0
    return mask


def habitual_suppliers(store_ids, start, end):
    """The supplier each store bought each part from most often in the window (its habit)."""
    lines = _frame(PurchaseOrderLine.objects.filter(po__store_id__in=store_ids, po__ordered_at__gte=local_day_start(start),
                                                    po__ordered_at__lt=local_day_start(end + timedelta(days=1)))
                   .exclude(po__status__in=[PurchaseOrder.Status.DRAFT, PurchaseOrder.Status.CANCELLED])
                   .values("po__store_id", "part_id", "po__supplier_id").annotate(n=Count("id"))
                   .values_list("po__store_id", "part_id", "po__supplier_id", "n"), ["store_id", "part_id", "supplier_id", "n"])
    lines = lines.sort_values(["store_id", "part_id", "n", "supplier_id"], ascending=[True, True, False, True])
    return lines.drop_duplicates(["store_id", "part_id"])[["store_id", "part_id", "supplier_id"]]


def purchase_lines_since(store_ids, since, end):
    """Every placed purchase-order line of the stores that was ordered on or after `since`, or was still
    on its way then, with its local order day; and every receipt against those lines up to `end`.
    Returns (lines: store_id, part_id, ordered, quantity; receipts: store_id, part_id, received, quantity)."""
    since_at, end_at = local_day_start(since), local_day_start(end + timedelta(days=1))
    placed = (PurchaseOrderLine.objects.filter(po__store_id__in=store_ids, po__ordered_at__isnull=False, po__ordered_at__lt=end_at)
              .exclude(po__status__in=[PurchaseOrder.Status.DRAFT, PurchaseOrder.Status.CANCELLED])
              .filter(Q(po__ordered_at__gte=since_at) | Q(po__received_at__isnull=True) | Q(po__received_at__gte=since_at)))
    lines = _frame(placed.annotate(ordered_text=_fetched_datetime("po__ordered_at"))
                   .values_list("id", "po__store_id", "part_id", "ordered_text", "quantity"),
                   ["line_id", "store_id", "part_id", "ordered", "quantity"])
    lines["ordered"] = local_dates(lines.ordered) if len(lines) else pd.Series(dtype="datetime64[ns]")
    receipts = _frame(POReceipt.objects.filter(line__in=placed, received_at__lt=end_at)
                      .annotate(received_text=_fetched_datetime("received_at"))
                      .values_list("line__po__store_id", "line__part_id", "received_text", "quantity"),
                      ["store_id", "part_id", "received", "quantity"])
    receipts["received"] = local_dates(receipts.received) if len(receipts) else pd.Series(dtype="datetime64[ns]")
    return lines, receipts


def _day_index(dates, origin):
    return (pd.to_datetime(dates) - pd.Timestamp(origin)).dt.days.to_numpy(dtype=np.int64)


def todays_ordering(key, opening_at_first, first, start, end, rows, lines, receipts):
    """Today's ordering per item, read back from the purchase orders placed in the window [start, end]
    (`ml.today`): the periodic (s, S) levels of each item with at least INVENTORY_TODAY_MIN_ORDERS
    orders, and each store's review weekdays. `rows` are the daily ledger summary since `first`.
    Returns (reorder_level, order_up_to, inferred flag, orders per item, review weekdays per store)."""
    n = len(key)
    item_of = lambda frame: key.get_indexer(pd.MultiIndex.from_frame(frame[["store_id", "part_id"]])) if len(frame) else np.zeros(0, int)
    days = rows.assign(item=item_of(rows), day=_day_index(rows.day, first) if len(rows) else np.zeros(0, int))
    days = days[days.item >= 0]
    line_frame = lines.assign(item=item_of(lines), day=np.maximum(_day_index(lines.ordered, first), -1) if len(lines) else np.zeros(0, int))
    line_frame = line_frame[line_frame.item >= 0]
    receipt_frame = receipts.assign(item=item_of(receipts),
                                    day=np.maximum(_day_index(receipts.received, first), -1) if len(receipts) else np.zeros(0, int))
    receipt_frame = receipt_frame[receipt_frame.item >= 0]
    window_first, window_last = (start - first).days, (end - first).days
    placed = line_frame[(line_frame.day >= window_first) & (line_frame.day <= window_last)]
    orders = placed.groupby(["item", "day"], as_index=False).quantity.sum()
    orders["position"] = today_ml.positions_before_orders(orders, opening_at_first, days, line_frame, receipt_frame)
    levels = today_ml.infer_order_up_to_levels(orders, n, settings.INVENTORY_TODAY_MIN_ORDERS)
    # Review weekdays per store, from the dates the store placed orders on (any part).
    store_of_line = lines[(lines.ordered >= pd.Timestamp(start)) & (lines.ordered <= pd.Timestamp(end))]
    weekdays = {int(store_id): today_ml.infer_review_weekdays(group.ordered, settings.INVENTORY_TODAY_REVIEW_MIN_SHARE)
                for store_id, group in store_of_line.groupby("store_id")}
    return levels, weekdays


def holdout_origins(start, end):
    """The days the out-of-sample policy is re-estimated on: the window's first day, then every
    INVENTORY_HOLDOUT_REFIT_DAYS (as the stored policies are refreshed as time goes on)."""
    every = max(int(settings.INVENTORY_HOLDOUT_REFIT_DAYS), 1)
    origins, day = [], start
    while day <= end:
        origins.append(day)
        day += timedelta(days=every)
    return origins


def holdout_policies(store_ids, items, rows, start, data_first, service_level, delivery_before, origins, service_levels=()):
    """The recommended policy as it would have been computed on each origin day from the data before it
    only: the demand of the INVENTORY_HOLDOUT_HISTORY_DAYS before it (`ml.today.holdout_forecast`) and
    the suppliers' deliveries of the 365 days before it (`delivery_before[origin]`). Returns per origin
    the policies aligned with `items` (None when the first origin has less than
    INVENTORY_HOLDOUT_MIN_WEEKS weeks of history), and what was used. `service_levels`: also the policies
    with every part at each of these levels, from the same forecasts (returned in the info's `at_levels`)."""
    key = pd.MultiIndex.from_frame(items[["store_id", "part_id"]])
    needed = rows[rows.needed > 0]
    columns = key.get_indexer(pd.MultiIndex.from_frame(needed[["store_id", "part_id"]])) if len(needed) else np.zeros(0, int)
    needed = needed.assign(item=columns)[columns >= 0] if len(needed) else needed.assign(item=columns)
    average_weeks = int(settings.INVENTORY_HOLDOUT_AVERAGE_WEEKS)
    method = f"moving_average_{average_weeks}w_before_origin"
    per_origin, weeks_used, at_levels = [], [], {float(level): [] for level in service_levels}
    inputs = policy_inputs(store_ids)  # the same stock rows, parts and price list at every re-estimate
    families = items[["part_id"]].merge(part_families(items.part_id.unique()), on="part_id", how="left")
    pooled_counts = []
    for origin in origins:
        history_first = max(origin - timedelta(days=int(settings.INVENTORY_HOLDOUT_HISTORY_DAYS)), data_first)
        n_weeks = (origin - history_first).days // 7
        if n_weeks < settings.INVENTORY_HOLDOUT_MIN_WEEKS:
            return None, {"weeks": n_weeks, "reason": f"fewer than {settings.INVENTORY_HOLDOUT_MIN_WEEKS} weeks of history "
                                                     "before the window"}, {}
        first_week = pd.Timestamp(origin - timedelta(days=7 * n_weeks))
        history = needed[(needed.day >= first_week) & (needed.day < pd.Timestamp(origin))]
        weekly = np.zeros((len(items), n_weeks))
        if len(history):
            week = ((history.day - first_week).dt.days // 7).to_numpy()
            np.add.at(weekly, (history.item.to_numpy(), week), history.needed.to_numpy(dtype=float))
        fitted = today_ml.holdout_forecast(weekly, average_weeks=average_weeks)
        # New parts: pooled from the part's sales at the other stores, or its family's (the data before the origin).
        released = ((pd.Timestamp(origin) - families.released_on).dt.days / 7.0).to_numpy(dtype=float)
        fitted = today_ml.pool_new_items(fitted, weekly, items.store_id.to_numpy(), items.part_id.to_numpy(),
                                         families.family.to_numpy(), released, average_weeks=average_weeks)
        pooled_counts.append(int(fitted.pooled.notna().sum()))
        forecast = pd.concat([items[["store_id", "part_id"]].reset_index(drop=True), fitted], axis=1).assign(
            method=method, backtest=None, model_version=None, trained_at=None)
        policies = compute_policies(store_ids, service_level=service_level, forecast=forecast, delivery=delivery_before[origin],
                                    inputs=inputs)
        per_origin.append(items[["store_id", "part_id"]].merge(policies, on=["store_id", "part_id"], how="left"))
        for level, policies_at in at_levels.items():
            computed = compute_policies(store_ids, service_level=level, forecast=forecast, delivery=delivery_before[origin],
                                        inputs=inputs)
            policies_at.append(items[["store_id", "part_id"]].merge(computed, on=["store_id", "part_id"], how="left"))
        weeks_used.append(n_weeks)
    return per_origin, {
        "method": f"re-estimated every {settings.INVENTORY_HOLDOUT_REFIT_DAYS} days from the data before each re-estimate "
                  f"only: {average_weeks}-week moving average of demand, error SD = its one-week-ahead RMSE / √7, "
                  "Syntetos–Boylan class of the last 52 weeks, supplier lead times of the 365 days before; a new part "
                  "(first sold at the chain within the average, or not sold at the store in it) gets its chain rate "
                  "shared out by store volume, a part never sold of a model released within it its family's "
                  "(ml.today.pool_new_items)",
        "origins": [o.isoformat() for o in origins], "history_weeks_at_first_origin": weeks_used[0] if weeks_used else 0,
        "pooled_items_per_origin": pooled_counts,
    }, at_levels


def replay_shared(store_ids, service_level=None, end=None, days=365):
    """What every chunk of a replay shares: the policies of all its stores, suppliers, price lists, the
    suppliers' delivered lead times in the window, and their delivery statistics the day before it
    (read once, not once per chunk)."""
    end = end or (today() - timedelta(days=1))
    start = end - timedelta(days=days - 1)
    return {"policies": current_policies(store_ids, service_level), "suppliers": suppliers_frame().reset_index(drop=True),
            "prices": price_list(active_only=False), "sequences": supplier_lead_time_sequences(end=end),
            "delivery_before": {origin: supplier_delivery_stats(end=origin - timedelta(days=1)) for origin in holdout_origins(start, end)}}


def replay_inputs(store_ids, days=365, service_level=None, end=None, shared=None, service_levels=()):
    """Everything the replay needs for the stores over the last `days` days up to `end` (yesterday):
    the demand, opening stock and deliveries on the way, and the three policies replayed — today's
    ordering read back from the purchase orders, the recommended policy, and the recommended policy
    computed from the data before the window only."""
    end = end or (today() - timedelta(days=1))
    start = end - timedelta(days=days - 1)
    run_up = int(settings.INVENTORY_TODAY_FALLBACK_RATE_DAYS)
    history_days = int(settings.INVENTORY_HOLDOUT_HISTORY_DAYS)
    first = start - timedelta(days=max(history_days, run_up))
    shared = shared or replay_shared(store_ids, service_level, end, days)
    policies = shared["policies"][shared["policies"].store_id.isin(store_ids)]
    positions = stock_frame(store_ids)
    items = positions.merge(policies[["store_id", "part_id", "supplier_id", "unit_price", "reorder_point", "order_qty",
                                      "demand_class", "daily_mean"]], on=["store_id", "part_id"], how="left")
    parts = parts_frame(items.part_id.unique())
    items = items.merge(parts[["part_id", "sku", "unit_cost", "part_moq", "part_pack"]], on="part_id", how="inner").reset_index(drop=True)
    key = pd.MultiIndex.from_frame(items[["store_id", "part_id"]])

    # The daily ledger summary from the start of the history the holdout policy learns from.
    rows = part_days(store_ids, first, end, ("needed", "waited", "consumed", "net"))
    data_first = rows.day.min().date() if len(rows) else start

    # Demand per day (run-up + window) as a dense (days x items) matrix.
    run_up_start = start - timedelta(days=run_up)
    demand_rows = rows[(rows.needed > 0) & (rows.day >= pd.Timestamp(run_up_start))]
    calendar = pd.date_range(run_up_start, end, freq="D")
    matrix = np.zeros((len(calendar), len(items)), dtype=np.int32)
    observed_waited = np.zeros(len(items), dtype=np.int64)
    if len(demand_rows):
        col = key.get_indexer(pd.MultiIndex.from_frame(demand_rows[["store_id", "part_id"]]))
        row = ((demand_rows.day - calendar[0]).dt.days).to_numpy()
        ok = col >= 0
        np.add.at(matrix, (row[ok], col[ok]), demand_rows.needed.to_numpy(dtype=np.int64)[ok])
        in_window = ok & (demand_rows.day >= pd.Timestamp(start)).to_numpy()
        np.add.at(observed_waited, col[in_window], demand_rows.waited.to_numpy(dtype=np.int64)[in_window])
    # What really happened: units needed in the window, and how many of them waited for stock.
    items["observed_units"] = matrix[run_up:].sum(axis=0)
    items["observed_waited"] = observed_waited
    observed = {"units": int(items.observed_units.sum()), "waited": int(observed_waited.sum())}

    # Opening stock: today's on hand minus everything that moved since the history began; at the window's
    # start, that plus the history's movements.
    net = net_movements_since(store_ids, first)
    opening_at_first = items.on_hand.to_numpy(dtype=np.int64).copy()
    if len(net):
        col = key.get_indexer(pd.MultiIndex.from_frame(net[["store_id", "part_id"]]))
        ok = col >= 0
        np.subtract.at(opening_at_first, col[ok], net.net.to_numpy(dtype=np.int64)[ok])
    before_window = rows[rows.day < pd.Timestamp(start)]
    opening = opening_at_first.copy()
    if len(before_window):
        col = key.get_indexer(pd.MultiIndex.from_frame(before_window[["store_id", "part_id"]]))
        ok = col >= 0
        np.add.at(opening, col[ok], before_window.net.to_numpy(dtype=np.int64)[ok])
    opening = np.maximum(opening, 0)

    # Deliveries already on their way when the window began (ordered before, received inside).
    window_start = local_day_start(start)
    pipeline = _frame(POReceipt.objects.filter(line__po__store_id__in=store_ids, line__po__ordered_at__lt=window_start,
                                               received_at__gte=window_start, received_at__lt=local_day_start(end + timedelta(days=1)))
                      .values_list("line__po__store_id", "line__part_id", "received_at", "quantity", "defective"),
                      ["store_id", "part_id", "received_at", "quantity", "defective"])
    pipe_item = np.zeros(0, dtype=np.int64)
    pipe_day = np.zeros(0, dtype=np.int64)
    pipe_qty = np.zeros(0, dtype=np.int64)
    if len(pipeline):
        col = key.get_indexer(pd.MultiIndex.from_frame(pipeline[["store_id", "part_id"]]))
        ok = col >= 0
        pipe_item = col[ok]
        pipe_day = (local_dates(pipeline.received_at) - pd.Timestamp(start)).dt.days.to_numpy()[ok]
        pipe_qty = (pipeline.quantity - pipeline.defective).to_numpy(dtype=np.int64)[ok]

    suppliers = shared["suppliers"]
    supplier_index = pd.Index(suppliers.supplier_id)
    prices = shared["prices"][shared["prices"].part_id.isin(items.part_id.unique())]
    cheapest = prices.sort_values(["part_id", "unit_price", "supplier_id"]).drop_duplicates("part_id").set_index("part_id")
    habit = habitual_suppliers(store_ids, start, end).set_index(["store_id", "part_id"]).supplier_id
    habit_supplier = habit.reindex(key).to_numpy(dtype=float)
    fallback = items.part_id.map(cheapest.supplier_id).to_numpy(dtype=float)
    habit_supplier = np.where(np.isnan(habit_supplier), fallback, habit_supplier)
    price_of = prices.set_index(["supplier_id", "part_id"]).unit_price

    def as_index_and_price(supplier_ids):
        supplier_ids = np.where(np.isnan(supplier_ids), fallback, supplier_ids)
        known = ~np.isnan(supplier_ids)
        ids = np.where(known, supplier_ids, suppliers.supplier_id.iloc[0] if len(suppliers) else 0).astype(np.int64)
        price = price_of.reindex(pd.MultiIndex.from_arrays([ids, items.part_id.to_numpy()])).to_numpy(dtype=float)
        price = np.where(np.isnan(price), items.unit_cost.to_numpy(dtype=float), price)
        return supplier_index.get_indexer(ids).clip(min=0), price

    habit_idx, habit_price = as_index_and_price(habit_supplier)
    rec_idx, rec_price = as_index_and_price(items.supplier_id.astype(float).to_numpy())
    sequences = shared["sequences"]
    window_days = pd.date_range(start, end, freq="D").date
    closed = closed_dates(start, end)
    store_order = sorted(items.store_id.unique())
    store_index = pd.Index(store_order).get_indexer(items.store_id)
    quoted = suppliers.quoted_lead_time_days.to_numpy(dtype=np.int64)

    # Today's ordering, read back from the purchase orders of the window.
    lines, receipts = purchase_lines_since(store_ids, first, end)
    levels, weekdays = todays_ordering(key, opening_at_first, first, start, end, rows, lines, receipts)
    assumed_weekdays = set(settings.INVENTORY_TODAY_FALLBACK_REVIEW_WEEKDAYS)
    review = np.zeros((len(window_days), len(store_order)), dtype=bool)
    for column, store_id in enumerate(store_order):
        review[:, column] = _review_mask(window_days, closed, weekdays=weekdays.get(int(store_id)) or assumed_weekdays)
    inferred = levels.inferred.to_numpy()
    active = (matrix.sum(axis=0) > 0) | (levels.orders.to_numpy() > 0)
    items["today_orders"] = levels.orders.to_numpy()
    items["today_inferred"] = inferred
    items["today_assumed"] = ~inferred & active  # replayed with the assumed rate-based rule
    items["today_reorder_level"] = np.where(inferred, levels.reorder_level.to_numpy(), np.nan)
    items["today_order_up_to"] = np.where(inferred, levels.order_up_to.to_numpy(), np.nan)

    # The recommended policy computed, as the window goes on, from the data before each re-estimate only.
    origins = sorted(shared["delivery_before"])
    holdout, holdout_info, holdout_at = holdout_policies(store_ids, items, rows, start, data_first, service_level,
                                                         shared["delivery_before"], origins, service_levels)
    every = int(settings.INVENTORY_REVIEW_PERIOD_DAYS)
    replayed = {
        "today": rp.OrderUpToPolicy(
            supplier=habit_idx, unit_price=habit_price, pack_size=items.part_pack.to_numpy(), min_order_qty=items.part_moq.to_numpy(),
            review_days=review, reorder_level=levels.reorder_level.to_numpy(), order_up_to=levels.order_up_to.to_numpy(),
            rate_based=~inferred, quoted_lead=quoted[habit_idx], rate_window_days=run_up,
            buffer_days=int(settings.INVENTORY_TODAY_FALLBACK_BUFFER_DAYS), cover_days=int(settings.INVENTORY_TODAY_FALLBACK_COVER_DAYS)),
        "recommended": rp.ReorderPointPolicy(supplier=rec_idx, unit_price=rec_price,
                                             reorder_point=items.reorder_point.fillna(0).to_numpy(dtype=np.int64),
                                             order_qty=items.order_qty.fillna(0).to_numpy(dtype=np.int64),
                                             review_days=_review_mask(window_days, closed, every=every)),
    }
    def re_estimated(per_origin, name):
        sourced = [as_index_and_price(h.supplier_id.astype(float).to_numpy()) for h in per_origin]
        return rp.ReorderPointPolicy(
            supplier=np.vstack([idx for idx, _ in sourced]), unit_price=np.vstack([price for _, price in sourced]),
            reorder_point=np.vstack([h.reorder_point.fillna(0).to_numpy(dtype=np.int64) for h in per_origin]),
            order_qty=np.vstack([h.order_qty.fillna(0).to_numpy(dtype=np.int64) for h in per_origin]),
            period_starts=np.array([(o - start).days for o in origins]),
            review_days=_review_mask(window_days, closed, every=every), name=name)

    if holdout is not None:
        replayed["recommended_out_of_sample"] = re_estimated(holdout, "recommended_out_of_sample")
        for level, per_origin in holdout_at.items():
            replayed[service_level_label(level)] = re_estimated(per_origin, service_level_label(level))
    return {
        "start": start, "end": end, "run_up": run_up, "items": items, "demand": matrix, "observed": observed,
        "replay_items": rp.ReplayItems(store_index=store_index, unit_cost=items.unit_cost.to_numpy(dtype=float),
                                       opening_on_hand=opening, pipeline_day=pipe_day, pipeline_item=pipe_item,
                                       pipeline_qty=pipe_qty),
        "suppliers": rp.Suppliers(order_cost=suppliers.order_cost.to_numpy(dtype=float),
                                  lead_times=[sequences.get(int(s), np.zeros(0, dtype=np.int64)) for s in suppliers.supplier_id],
                                  quoted_lead=quoted),
        "policies_replayed": replayed,
        "review_weekdays": {int(s): sorted(weekdays.get(int(s)) or assumed_weekdays) for s in store_order},
        "assumed_weekdays": sorted(int(s) for s in store_order if not weekdays.get(int(s))),
        "holdout": holdout_info,
        "policies": policies,
    }


REPLAY_ITEMS_PER_CHUNK = 20000  # bounds the (days × items) demand matrix: ~35 MB a chunk


@dataclass
class PolicyReplay:
    """A replay of the same demand through each policy: the items (in order), what really happened, the
    results per policy label (REPLAY_LABELS), and how today's ordering and the holdout policy were built."""

    start: date
    end: date
    items: pd.DataFrame
    observed: dict
    results: dict
    review_weekdays: dict
    assumed_weekdays: list
    holdout: dict
    policies: pd.DataFrame

    @property
    def today(self):
        return self.results["today"]

    @property
    def recommended(self):
        return self.results["recommended"]

    @property
    def out_of_sample(self):
        return self.results.get("recommended_out_of_sample")


def policy_replay(store_ids, days=365, service_level=None, end=None, service_levels=()):
    """Replay the last `days` days of actual demand through today's ordering, the recommended policy and
    the recommended policy built from the data before the window (`ml.replay`); with `service_levels`, that
    out-of-sample policy also with every part at each of these levels (labels `service_level_label`). Stores are replayed in
    chunks of about REPLAY_ITEMS_PER_CHUNK items (a store's purchase orders never span chunks) and the
    results added up. Returns a PolicyReplay."""
    rates = cost_rates()
    counts = dict(Stock.objects.filter(store_id__in=store_ids).values("store_id").annotate(n=Count("id")).values_list("store_id", "n"))
    chunks, current, size = [], [], 0
    for store_id in sorted(store_ids):
        if current and size + counts.get(store_id, 0) > REPLAY_ITEMS_PER_CHUNK:
            chunks.append(current)
            current, size = [], 0
        current.append(store_id)
        size += counts.get(store_id, 0)
    if current:
        chunks.append(current)
    end = end or (today() - timedelta(days=1))
    shared = replay_shared(store_ids, service_level, end, days)
    parts = []
    for chunk in chunks:
        inputs = replay_inputs(chunk, days, service_level, end, shared, service_levels)
        results = {label: rp.replay_policy(inputs["demand"], inputs["run_up"], inputs["replay_items"], policy, inputs["suppliers"],
                                           rates.holding_rate, rates.stockout_cost)
                   for label, policy in inputs["policies_replayed"].items()}
        del inputs["demand"]
        parts.append((inputs, results))
    labels = [label for label in [*REPLAY_LABELS, *map(service_level_label, service_levels)]
              if all(label in r for _, r in parts)]
    first = parts[0][0]
    return PolicyReplay(
        start=first["start"], end=first["end"],
        items=pd.concat([p[0]["items"] for p in parts], ignore_index=True),
        observed={key: sum(p[0]["observed"][key] for p in parts) for key in first["observed"]},
        results={label: rp.combine_results([r[label] for _, r in parts]) for label in labels},
        review_weekdays={k: v for p in parts for k, v in p[0]["review_weekdays"].items()},
        assumed_weekdays=[s for p in parts for s in p[0]["assumed_weekdays"]],
        holdout=first["holdout"], policies=pd.concat([p[0]["policies"] for p in parts], ignore_index=True),
    )


def store_replay_summaries(replay):
    """Per store: the additive totals (`ml.replay.TOTAL_FIELDS`) of each policy, per demand class too,
    what really happened, and how today's ordering was read back — what `StockReplay` stores and what
    the cost-optimization answer adds up over the stores asked about."""
    items = replay.items
    classes = items.demand_class.fillna("none").to_numpy()
    summaries = {}
    for store_id in sorted(items.store_id.unique()):
        mask = (items.store_id == store_id).to_numpy()
        store_items = items[mask]
        summary = {
            "policies": {label: result.totals(mask) for label, result in replay.results.items() if label in REPLAY_LABELS},
            # The out-of-sample policy with every part at each of REPLAY_SERVICE_LEVELS (when replayed).
            "service_levels": {f"{level:g}": replay.results[service_level_label(level)].totals(mask)
                               for level in REPLAY_SERVICE_LEVELS if service_level_label(level) in replay.results},
            "by_demand_class": {
                name: {label: result.totals(mask & (classes == name)) for label, result in replay.results.items()
                       if label in REPLAY_LABELS}
                for name in sorted(set(classes[mask])) if store_items.observed_units[classes[mask] == name].sum() > 0},
            "observed": {"units": int(store_items.observed_units.sum()), "waited": int(store_items.observed_waited.sum())},
            "today_policy": {
                "items_inferred": int(store_items.today_inferred.sum()), "items_assumed": int(store_items.today_assumed.sum()),
                "review_weekdays": replay.review_weekdays.get(int(store_id), []),
                "review_weekdays_assumed": int(store_id) in replay.assumed_weekdays,
            },
            "holdout": replay.holdout,
        }
        summaries[int(store_id)] = summary
    return summaries


# --- Dead and excess stock -------------------------------------------------------------------------------------


def last_consumption(store_ids, since):
    """The last local day each (store, part) consumed anything, looking back to `since`."""
    frame = _frame(PartDay.objects.filter(store_id__in=store_ids, day__gte=since, consumed__gt=0).values("store_id", "part_id")
                   .annotate(last=Max("day")).values_list("store_id", "part_id", "last"), ["store_id", "part_id", "last"])
    frame["last"] = pd.to_datetime(frame["last"])
    return frame


def dead_and_excess_stock(positions, store_ids, dead_days=None, as_of=None):
    """Dead stock: on hand with no consumption in `dead_days` days. Excess: on hand above the maximum
    level of the policy, for items that are not dead. Both valued at unit cost."""
    as_of = as_of or today()
    dead_days = dead_days or settings.INVENTORY_DEAD_STOCK_DAYS
    last = last_consumption(store_ids, as_of - timedelta(days=3 * dead_days))
    frame = positions.merge(last, on=["store_id", "part_id"], how="left")
    frame["last_consumed"] = frame["last"]
    cutoff = pd.Timestamp(as_of - timedelta(days=dead_days))
    frame["dead"] = (frame.on_hand > 0) & (frame.last_consumed.isna() | (frame.last_consumed < cutoff))
    frame["stock_value"] = frame.on_hand * frame.unit_cost
    frame["excess_units"] = np.where(~frame.dead, (frame.available - frame.max_level).clip(lower=0), 0)
    frame["excess_value"] = frame.excess_units * frame.unit_cost
    return frame


# --- Performance -------------------------------------------------------------------------------------------------


def inventory_value_history(store_ids, start, as_of=None):
    """Inventory value at cost at the end of each month since `start` (and now), per store, rebuilt from
    today's stock and the ledger: value at a moment = value now − value of the movements after it, at
    the part's standard cost. The movements' value per store and local month comes from the daily
    summary (PartDay: a day's net movement × the part's cost), plus the ledger movements newer than it,
    in exact decimals. Returns a DataFrame: one row per store, one column per month end, the last one `now`."""
    from .services import ensure_part_days

    as_of = as_of or today()
    now_value = pd.Series(dict(Stock.objects.filter(store_id__in=store_ids).values("store_id")
                               .annotate(v=Sum(F("on_hand") * F("part__unit_cost"))).values_list("store_id", "v")), dtype=float)
    now_value = now_value.reindex(store_ids).fillna(0.0)
    boundaries = []
    month = date(start.year, start.month, 1)
    while True:
        month = date(month.year + (month.month == 12), month.month % 12 + 1, 1)
        if month > as_of:
            break
        boundaries.append(month)
    values = pd.DataFrame(index=pd.Index(store_ids, name="store_id"))
    if boundaries:
        ensure_part_days(store_ids)
        moved = {}  # (store id, first day of the local month) -> value of the movements in it
        # Summed per store and day in SQL (a few hundred rows a store), into months here: no date function per row.
        for store_id, day, value in (PartDay.objects.filter(store_id__in=store_ids, day__gte=boundaries[0])
                                     .values("store_id", "day").annotate(v=Sum(F("net") * F("part__unit_cost")))
                                     .values_list("store_id", "day", "v")):
            key = (store_id, day.replace(day=1))
            moved[key] = moved.get(key, Decimal(0)) + (value or Decimal(0))
        for store_id, at, value in (ledger_tail(store_ids).filter(at__gte=local_day_start(boundaries[0]))
                                    .values_list("store_id", "at", F("quantity") * F("part__unit_cost"))):
            key = (store_id, timezone.localtime(at).date().replace(day=1))
            moved[key] = moved.get(key, Decimal(0)) + value
        for boundary in boundaries:
            after = {}
            for (store_id, month), value in moved.items():
                if month >= boundary:
                    after[store_id] = after.get(store_id, Decimal(0)) + value
            column = pd.Series({s: float(v) for s, v in after.items()}, dtype=float)
            values[boundary.isoformat()] = now_value - column.reindex(values.index).fillna(0.0)
    values["now"] = now_value
    return values


def average_inventory_value(history):
    """Mean of the month-end values (and now) of the stores together."""
    return float(history.sum(axis=0).mean()) if len(history) else 0.0


def consumption_cost(store_ids, start, end):
    """Cost of the parts consumed at the stores between two local dates (at the cost booked on each
    movement), from the daily summary: one figure."""
    from .services import ensure_part_days

    ensure_part_days(store_ids)
    total = PartDay.objects.filter(store_id__in=store_ids, day__gte=start, day__lte=end, consumed__gt=0).aggregate(
        cost=Sum("consumed_cost"))["cost"]
    return float(total or 0.0)


def consumption_summary(store_ids, start, end):
    """Units, cost (at the cost booked on each movement) and sales value of parts consumed per store and
    SKU between two local dates, from the daily summary."""
    from .services import ensure_part_days

    ensure_part_days(store_ids)
    rows = _frame(PartDay.objects.filter(store_id__in=store_ids, day__gte=start, day__lte=end, consumed__gt=0)
                  .values("store_id", "part_id").annotate(units=Sum("consumed"), cost=Sum("consumed_cost"),
                                                          revenue=Sum(F("consumed") * F("part__price")))
                  .values_list("store_id", "part_id", "units", "cost", "revenue"), ["store_id", "part_id", "units", "cost", "revenue"])
    for column in ("cost", "revenue"):
        rows[column] = rows[column].astype(float)
    return rows


def weekly_demand_matrix(daily, start, end):
    """Units needed per week (rows) and part (columns), over the stores, from `daily_demand` rows."""
    if daily.empty:
        return pd.DataFrame()
    daily = daily.assign(week=((daily.day - pd.Timestamp(start)).dt.days // 7).astype(int))
    n_weeks = max(int(((pd.Timestamp(end) - pd.Timestamp(start)).days + 1) // 7), 1)
    daily = daily[daily.week < n_weeks]
    matrix = daily.pivot_table(index="week", columns="part_id", values="units", aggfunc="sum", fill_value=0)
    return matrix.reindex(range(n_weeks), fill_value=0)


def stockout_days(store_ids, start, end, days=None):
    """Days each (store, part) with demand in the window closed the day at zero stock: its opening
    balance, then the closing balance of each day with movements (PartDay), held until the next.
    `days`: PartDay rows from `start` with needed, closing_balance and net, through today (fetched here
    when omitted); the opening balance is today's stock less their net movement."""
    if days is None:
        days = part_days(store_ids, start, LAST_DAY, ("needed", "closing_balance", "net"))
    net = net_movements_since(store_ids, start, days)
    days = days[days.day <= pd.Timestamp(end)]
    demanded = days[days.needed > 0][["store_id", "part_id"]].drop_duplicates()
    items = pd.MultiIndex.from_frame(demanded) if len(demanded) else pd.MultiIndex.from_tuples([], names=["store_id", "part_id"])
    if not len(items):
        return pd.DataFrame(columns=["zero_days", "unit_days"])
    stock = stock_frame(store_ids).set_index(["store_id", "part_id"])
    net = net.set_index(["store_id", "part_id"]).net.astype(float) if len(net) else pd.Series(dtype=float)
    opening = (stock.on_hand - net.reindex(stock.index).fillna(0.0)).clip(lower=0)
    opening = opening.reindex(items).fillna(0)
    moves = days[days.closing_balance.notna()].copy()
    n_days = (end - start).days + 1
    moves["item"] = items.get_indexer(pd.MultiIndex.from_frame(moves[["store_id", "part_id"]]))
    moves = moves[moves.item >= 0]
    moves["day"] = (moves.day - pd.Timestamp(start)).dt.days.to_numpy()
    moves = moves.rename(columns={"closing_balance": "balance_after"})[["item", "day", "balance_after"]]
    moves["balance_after"] = moves.balance_after.astype(np.int64)
    profile = perf.stock_profile(pd.Series(opening.to_numpy(), index=np.arange(len(items))), moves, n_days)
    profile.index = items
    return profile


def purchase_line_shares(store_ids, window_days, end=None):
    """Today's allocation: per store and part, each supplier's share of the units ordered in the window."""
    end = end or today()
    lines = _frame(PurchaseOrderLine.objects.filter(
        po__store_id__in=store_ids, po__ordered_at__gte=local_day_start(end - timedelta(days=window_days - 1)),
        po__ordered_at__lt=local_day_start(end + timedelta(days=1)))
        .exclude(po__status__in=[PurchaseOrder.Status.DRAFT, PurchaseOrder.Status.CANCELLED])
        .values("po__store_id", "part_id", "po__supplier_id").annotate(units=Sum("quantity"))
        .values_list("po__store_id", "part_id", "po__supplier_id", "units"), ["store_id", "part_id", "supplier_id", "units"])
    lines["share"] = lines.units / lines.groupby(["store_id", "part_id"]).units.transform("sum")
    return lines


def supplier_performance(store_ids, window_days, end=None):
    history = purchase_order_history(window_days, store_ids, end)
    quality = receipt_quality(window_days, store_ids, end)
    prices = price_list(active_only=False)
    cards = sup.supplier_scorecards(history, quality, prices)
    received = history[history.received.notna()]
    cycle = (received.received - received.ordered).dt.days
    return cards, history, cycle
