"""Inventory performance measures, on plain arrays and frames (no Django).

- Turnover = cost of goods used / average inventory value at cost; days of cover = inventory value /
  cost used per day; GMROI = gross margin / average inventory at cost (standard retail measures).
- ABC by value (Pareto): items sorted by yearly consumption value; A up to 80 % of the cumulative
  value, B up to 95 %, C the rest. XYZ by variability: coefficient of variation of weekly demand,
  X ≤ 0.5, Y ≤ 1.0, Z above (or no demand).
- Stock profile from a ledger: the end-of-day balance of each item is its last movement's balance
  (or the opening balance), which gives stockout days and unit-days held without a daily table.
"""
import numpy as np
import pandas as pd

ABC_LIMITS = (0.80, 0.95)
XYZ_LIMITS = (0.5, 1.0)


def abc_classes(values, limits=ABC_LIMITS):
    """Pareto ABC class per item by value (Series in, Series of 'A'/'B'/'C' out). An item is A while
    the cumulative share *before* it is below the A limit, so the top item is always A."""
    values = pd.Series(values, dtype=float).fillna(0.0)
    total = values.sum()
    if total <= 0:
        return pd.Series("C", index=values.index)
    ordered = values.sort_values(ascending=False, kind="stable")
    before = (ordered.cumsum() - ordered) / total
    classes = np.where(before < limits[0], "A", np.where(before < limits[1], "B", "C"))
    classes = pd.Series(classes, index=ordered.index)
    classes[ordered <= 0] = "C"
    return classes.reindex(values.index)


def xyz_classes(weekly_demand, limits=XYZ_LIMITS):
    """XYZ class per item from a (weeks × items) DataFrame of demand: CV = sd/mean of weekly units."""
    mean = weekly_demand.mean(axis=0)
    sd = weekly_demand.std(axis=0, ddof=1)
    cv = (sd / mean.where(mean > 0)).astype(float)
    classes = np.where(cv.isna(), "Z", np.where(cv <= limits[0], "X", np.where(cv <= limits[1], "Y", "Z")))
    return pd.Series(classes, index=weekly_demand.columns), cv


def stock_profile(opening, movements, n_days):
    """Per item: days closing at zero stock and unit-days held, over days 0..n_days-1.

    `opening`: Series item -> balance before day 0. `movements`: item, day (0-based), balance_after,
    in ledger order (the last row of a day gives that day's closing balance).
    Returns a DataFrame indexed by item with zero_days and unit_days.
    """
    items = opening.index
    closing = movements.drop_duplicates(["item", "day"], keep="last")[["item", "day", "balance_after"]]
    starts = pd.DataFrame({"item": items, "day": 0, "balance_after": opening.to_numpy()})
    # An item's opening balance holds from day 0 until its first movement day.
    segments = pd.concat([starts, closing[closing.day > 0], closing[closing.day == 0]], ignore_index=True)
    segments = segments.drop_duplicates(["item", "day"], keep="last").sort_values(["item", "day"], kind="stable")
    next_day = segments.groupby("item").day.shift(-1).fillna(n_days)
    segments["length"] = (next_day - segments.day).clip(lower=0)
    segments["zero"] = np.where(segments.balance_after <= 0, segments.length, 0)
    segments["units"] = segments.balance_after.clip(lower=0) * segments.length
    profile = segments.groupby("item")[["zero", "units"]].sum()
    return profile.rename(columns={"zero": "zero_days", "units": "unit_days"}).reindex(items, fill_value=0)


def turnover(cost_of_goods_used, average_inventory_value):
    return cost_of_goods_used / average_inventory_value if average_inventory_value > 0 else None


def gmroi(gross_margin, average_inventory_value):
    return gross_margin / average_inventory_value if average_inventory_value > 0 else None


def days_of_cover(inventory_value, cost_used_per_day):
    return inventory_value / cost_used_per_day if cost_used_per_day > 0 else None
