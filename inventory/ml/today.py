"""Today's ordering, read back from the shop's own records; and an out-of-sample demand forecast.

Plain numpy/pandas, no Django.

- Inventory position at each purchase order (`positions_before_orders`): on hand at the close of the
  order day (opening balance + the ledger's net movements), plus units on order (ordered on earlier
  days, not yet received), minus back-orders (units needed by repairs but not yet consumed). This is
  the position the shop looked at when it decided to order.
- The shop's periodic (s, S) levels per part and store (`infer_order_up_to_levels`): the reorder
  level s is the median position just before ordering, the order-up-to level S the median position
  just after (position + quantity ordered). A periodic-review (s, S) shop orders when the position is
  at or below s and raises it to S, so the positions at its orders estimate both levels (medians:
  robust to the odd rush or bulk order). Rounded up: the position at an order is at or *below* s.
- Review weekdays per store (`infer_review_weekdays`): the weekdays on which the store placed at
  least a given share of its orders.
- Out-of-sample forecast (`holdout_forecast`): the moving average of the weeks before a cut-off as the
  expected rate, its one-week-ahead error over the weeks before that as the spread (weekly RMSE / √7
  per day, as the parts-demand model reports its backtest error), and the Syntetos–Boylan class of the
  last 52 weeks (the parts-demand model's own `demand_profiles` / `classify_demands`) — a forecast that uses nothing after the cut-off, to test a policy on data it has
  not seen.
"""
import numpy as np
import pandas as pd

from predictive.ml.parts import classify_demands, demand_profiles


def cumulative_at(event_item, event_day, event_value, query_item, query_day, strictly_before=False):
    """Σ event_value over the events of each query's item on days ≤ query_day (< with
    `strictly_before`), vectorised: events and queries are sorted into one key per (item, day)."""
    event_item, event_day = np.asarray(event_item, dtype=np.int64), np.asarray(event_day, dtype=np.int64)
    query_item, query_day = np.asarray(query_item, dtype=np.int64), np.asarray(query_day, dtype=np.int64)
    if not len(query_item):
        return np.zeros(0)
    if not len(event_item):
        return np.zeros(len(query_item))
    low = min(int(event_day.min()), int(query_day.min())) - 1
    span = max(int(event_day.max()), int(query_day.max())) - low + 2
    keys = event_item * span + (event_day - low)
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    running = np.concatenate([[0.0], np.cumsum(np.asarray(event_value, dtype=float)[order])])
    query_keys = query_item * span + (query_day - low) - (1 if strictly_before else 0)
    upto = np.searchsorted(keys, query_keys, side="right")  # events of this or earlier items up to the day
    item_start = np.searchsorted(keys, query_item * span, side="left")  # first event of the query's item
    return running[upto] - running[item_start]


def positions_before_orders(orders, opening_on_hand, days, lines, receipts):
    """Inventory position of each order's item at the close of its order day, before the order.

    `orders`: item, day (one row per item and day on which it was ordered).
    `opening_on_hand`: array per item, the balance before day 0.
    `days`: item, day, net (signed ledger movement), needed, consumed — the daily ledger summary.
    `lines`: item, day, quantity of every purchase-order line (days before 0 may be clipped to −1).
    `receipts`: item, day, quantity delivered against those lines.
    Returns a float array: on hand + on order − back-orders.
    """
    item, day = orders.item.to_numpy(), orders.day.to_numpy()
    on_hand = np.asarray(opening_on_hand, dtype=float)[item] + cumulative_at(days.item, days.day, days.net, item, day)
    backlog = cumulative_at(days.item, days.day, days.needed, item, day) - cumulative_at(days.item, days.day, days.consumed, item, day)
    on_order = (cumulative_at(lines.item, lines.day, lines.quantity, item, day, strictly_before=True)
                - cumulative_at(receipts.item, receipts.day, receipts.quantity, item, day))
    return on_hand + np.maximum(on_order, 0.0) - np.maximum(backlog, 0.0)


def infer_order_up_to_levels(orders, n_items, min_orders):
    """Per item: number of orders, s = ⌈median position before ordering⌉, S = ⌈median position after⌉
    (at least s + 1), and whether it had at least `min_orders` orders to infer them from.

    `orders`: item, position (before the order), quantity (ordered that day). Returns a DataFrame
    indexed 0..n_items−1 with orders, reorder_level, order_up_to, inferred.
    """
    frame = pd.DataFrame({"item": orders.item.to_numpy(), "before": orders.position.to_numpy(dtype=float),
                          "after": orders.position.to_numpy(dtype=float) + orders.quantity.to_numpy(dtype=float)})
    grouped = frame.groupby("item")
    levels = pd.DataFrame({"orders": grouped.size(), "reorder_level": np.ceil(grouped.before.median() - 1e-9),
                           "order_up_to": np.ceil(grouped.after.median() - 1e-9)}).reindex(range(n_items))
    levels["orders"] = levels.orders.fillna(0).astype(int)
    levels["inferred"] = levels.orders >= max(int(min_orders), 1)
    levels["reorder_level"] = levels.reorder_level.fillna(0).astype(np.int64)
    levels["order_up_to"] = np.maximum(levels.order_up_to.fillna(0), levels.reorder_level + 1).astype(np.int64)
    return levels


def infer_review_weekdays(order_dates, min_share):
    """Weekdays (0 = Monday) on which at least `min_share` of the distinct order dates fall.
    `order_dates`: dates (or timestamps) on which orders were placed. Empty when there are none."""
    dates = pd.to_datetime(pd.Series(order_dates)).dropna().dt.normalize().drop_duplicates()
    if not len(dates):
        return set()
    shares = dates.dt.weekday.value_counts(normalize=True)
    return {int(day) for day, share in shares.items() if share >= min_share}


def holdout_forecast(weekly, average_weeks=26, classify_weeks=52):
    """Forecast per item from the weeks before a cut-off only (the columns of `weekly`, oldest first).

    `weekly`: (items × weeks) units per week. Rate = mean of the last `average_weeks` weeks (a moving
    average); error = RMSE of the same moving average's one-week-ahead forecasts over the weeks that
    have a full average behind them, per day = weekly RMSE / √7; class = Syntetos–Boylan on the last
    `classify_weeks` weeks. Returns a DataFrame with daily_mean, daily_sd, demand_class, adi, cv2.
    """
    weekly = np.asarray(weekly, dtype=float)
    n_items, n_weeks = weekly.shape if weekly.ndim == 2 else (0, 0)
    window = max(min(average_weeks, n_weeks), 1)
    rate = weekly[:, -window:].mean(axis=1) if n_weeks else np.zeros(n_items)
    if n_weeks > window:
        running = np.concatenate([np.zeros((n_items, 1)), np.cumsum(weekly, axis=1)], axis=1)
        averages = (running[:, window:n_weeks] - running[:, : n_weeks - window]) / window  # forecast of week t from t−window..t−1
        errors = weekly[:, window:] - averages
        weekly_rmse = np.sqrt((errors ** 2).mean(axis=1))
    else:  # too short a history to backtest: the spread of the weeks themselves
        weekly_rmse = weekly.std(axis=1, ddof=1) if n_weeks > 1 else np.sqrt(np.maximum(rate, 0.0))
    adi, cv2 = demand_profiles(weekly[:, -classify_weeks:] if n_weeks else weekly)
    return pd.DataFrame({
        "daily_mean": rate / 7.0, "daily_sd": weekly_rmse / np.sqrt(7.0),
        "demand_class": classify_demands(adi, cv2), "adi": adi, "cv2": cv2,
    })


POOLED, POOLED_SIBLINGS = "pooled_stores", "pooled_siblings"


def pool_new_items(fitted, weekly, store, part, family=None, released_weeks=None, average_weeks=26):
    """The forecast of the items whose part is new: too young at the chain for the moving average of
    `average_weeks` (it divides a few weeks of sales by all of them) or never sold at all.

    `fitted`: `holdout_forecast(weekly, …)`; `weekly`: (items × weeks) units, oldest first, of every item of
    the stores pooled; `store`, `part`: per item; `family`: per item, the group of similar parts (same device
    category and part kind) or None; `released_weeks`: per item, weeks since its device model's release
    (NaN unknown, negative not yet released). Uses only the weeks given (the data before the cut-off).

    - A part first sold at the chain L < window weeks ago: its chain rate over those L weeks, shared out by
      store volume (the store's units of all parts over the window / the stores'), at every store —
      a store that has not sold it yet gets its share, one that has gets it without the dilution.
    - A part the chain sells but the store has not sold in the window: its chain rate over the window, shared
      out the same way (one unit held where it sells once in years; the allocation weighs that against service).
    - A part never sold whose device model was released within the window: the median chain rate over
      their lives of its family's young parts (first sold within the window), shared out the same way
      (a family with none: not stocked).
    A part whose model is released after the cut-off is not stocked before it (no look-ahead).
    Daily spread of a pooled item: Poisson (σ_d = √μ_d) unless its own is larger. Returns a copy of
    `fitted` with `pooled` (None, POOLED or POOLED_SIBLINGS) per item.
    """
    weekly = np.asarray(weekly, dtype=float)
    out = fitted.copy()
    out["pooled"] = None
    n_items, n_weeks = weekly.shape
    if not n_items or not n_weeks:
        return out
    window = max(min(average_weeks, n_weeks), 1)
    store, part = np.asarray(store), np.asarray(part)
    volume = pd.Series(weekly[:, -window:].sum(axis=1)).groupby(store).sum()
    share = (volume / volume.sum()).reindex(store).to_numpy() if volume.sum() > 0 else np.zeros(n_items)
    # Weeks since each part's first sale anywhere (0: never sold in these weeks).
    sold = weekly > 0
    first_item = np.where(sold.any(axis=1), sold.argmax(axis=1), n_weeks)
    first_part = pd.Series(first_item).groupby(part).transform("min").to_numpy()
    life = n_weeks - first_part
    # The part's chain rate a week over its life (the weeks since its first sale).
    tail = np.where(np.arange(n_weeks)[None, :] >= first_part[:, None], weekly, 0.0).sum(axis=1)
    chain_units = pd.Series(tail).groupby(part).transform("sum").to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        chain_rate = np.where(life > 0, chain_units / np.maximum(life, 1), 0.0)
    young = (life > 0) & (life < window)
    # An established part the store has not sold in the window: its share of the part's chain rate.
    window_units = pd.Series(weekly[:, -window:].sum(axis=1)).groupby(part).transform("sum").to_numpy()
    unsold = ~young & (fitted.daily_mean.to_numpy(dtype=float) <= 0) & (window_units > 0)
    rate = np.where(young, chain_rate * share, np.where(unsold, window_units / window * share, np.nan))
    source = np.where(young | unsold, POOLED, None).astype(object)
    if family is not None and released_weeks is not None:
        family = pd.Series(family, dtype=object)
        released = np.asarray(released_weeks, dtype=float)
        # One rate per part of the family (not per store): the median over the family's young parts.
        first_store = ~pd.Series(part).duplicated().to_numpy()
        young_parts = pd.DataFrame({"family": family, "rate": chain_rate})[young & first_store & family.notna().to_numpy()]
        typical = young_parts.groupby("family").rate.median()
        never = (life == 0) & family.notna().to_numpy() & (released >= 0) & (released < window)
        sibling = family.map(typical).to_numpy(dtype=float)
        use = never & np.isfinite(sibling) & (sibling > 0)
        rate = np.where(use, sibling * share, rate)
        source = np.where(use, POOLED_SIBLINGS, source)
    pooled = np.isfinite(rate) & (rate > 0)
    daily = np.where(pooled, rate / 7.0, out.daily_mean.to_numpy(dtype=float))
    out["daily_mean"] = daily
    out["daily_sd"] = np.where(pooled, np.maximum(np.sqrt(daily), out.daily_sd.to_numpy(dtype=float)), out.daily_sd)
    out["demand_class"] = np.where(pooled & (out.demand_class.to_numpy() == "none"), "intermittent", out.demand_class)
    out["pooled"] = np.where(pooled, source, None)
    return out
