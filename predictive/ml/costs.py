"""Repair cost: a model of what a job normally costs, and where the shop spends more than it needs to.

- Expected cost per ticket: gradient-boosted regression trees (Friedman 2001, "Greedy function
  approximation: a gradient boosting machine"; scikit-learn's HistGradientBoostingRegressor, after
  LightGBM, Ke et al. 2017) on what describes the job — repair type, device category, brand, the
  device's bill-of-parts cost and age, store, priority — and deliberately not the technician, so the
  prediction is the shop's norm for the job and a technician's residuals show how they compare.
  Accuracy on a time-ordered holdout (the last 15 % of tickets) against the per-repair-type mean.
- Labour-time outliers: robust z-scores of log labour minutes within each repair type (median and
  MAD, Iglewicz & Hoaglin 1993), technicians whose median time runs above the repair type's shop
  median, and repair types whose labour time varies far more than the others (robust CV of log time).
- Purchasing: lines bought above the cheapest offer of a qualified supplier — one whose measured
  delivery record (on-time and defect rates) meets the shop's thresholds, with a price line valid on
  the order date, costed for the line's quantity rounded up to its pack size and minimum order.
- Savings: monthly saving per opportunity with a 90 % percentile-bootstrap interval (Efron &
  Tibshirani 1993), resampling the tickets or purchase lines behind it.
"""
from dataclasses import dataclass

import numpy as np
import pandas as pd

CATEGORICAL_FEATURES = ["repair_type", "device_category", "brand", "store", "priority"]
NUMERIC_FEATURES = ["bill_parts_cost", "device_age_years", "month"]
HOLDOUT_SHARE = 0.15
MAX_CATEGORIES = 250  # HistGradientBoosting's limit per categorical feature is 255


@dataclass
class CostModel:
    estimator: object
    categories: dict  # feature -> list of levels (codes are positions)
    features: list

    def predict(self, frame):
        with single_thread():
            return np.clip(self.estimator.predict(_design(frame, self.categories, self.features)), 0, None)


def _design(frame, categories, features):
    columns = {}
    for name in features:
        if name in categories:
            lookup = {level: i for i, level in enumerate(categories[name])}
            columns[name] = frame[name].map(lookup).fillna(-1).astype(float).replace(-1, np.nan)
        else:
            columns[name] = frame[name].astype(float)
    return pd.DataFrame(columns)


def fit_cost_model(tickets, seed=0, max_iter=200):
    """Fit the expected-cost model on `tickets` (columns of CATEGORICAL/NUMERIC_FEATURES, `received_at`,
    `total_cost`) and score it on a time-ordered holdout. Returns (CostModel refitted on all tickets,
    metrics dict, holdout predictions frame)."""
    with single_thread():
        return _fit_cost_model(tickets, seed, max_iter)


def single_thread():
    """Run scikit-learn's OpenMP code on one thread: on a shared 2-core machine its spinning threads
    made a 2 s fit take 12 s."""
    import sklearn.ensemble  # noqa: F401  (loads the OpenMP runtime first: threadpoolctl limits only loaded libraries)
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


def _fit_cost_model(tickets, seed, max_iter):
    from sklearn.ensemble import HistGradientBoostingRegressor

    data = tickets.sort_values("received_at").reset_index(drop=True)
    categories = {name: sorted(data[name].dropna().astype(str).unique().tolist()) for name in CATEGORICAL_FEATURES}
    for name in CATEGORICAL_FEATURES:
        data[name] = data[name].astype(str)
    features = CATEGORICAL_FEATURES + NUMERIC_FEATURES
    categorical_mask = [name in categories and len(categories[name]) <= MAX_CATEGORIES for name in features]

    def new_estimator():
        return HistGradientBoostingRegressor(
            loss="squared_error", max_iter=max_iter, learning_rate=0.08, max_leaf_nodes=31, min_samples_leaf=30,
            l2_regularization=1.0, categorical_features=categorical_mask, early_stopping=True, validation_fraction=0.1,
            n_iter_no_change=15, random_state=seed,
        )

    split = int(len(data) * (1 - HOLDOUT_SHARE))
    train, test = data.iloc[:split], data.iloc[split:]
    estimator = new_estimator().fit(_design(train, categories, features), train.total_cost)
    predicted = np.clip(estimator.predict(_design(test, categories, features)), 0, None)
    baseline = test.repair_type.map(train.groupby("repair_type").total_cost.mean()).fillna(train.total_cost.mean()).to_numpy()
    actual = test.total_cost.to_numpy()
    metrics = {
        "holdout_tickets": int(len(test)),
        "holdout_from": str(pd.Timestamp(test.received_at.iloc[0]).date()) if len(test) else None,
        "mae": float(np.mean(np.abs(actual - predicted))),
        "rmse": float(np.sqrt(np.mean((actual - predicted) ** 2))),
        "mape": float(np.mean(np.abs(actual - predicted)[actual > 0] / actual[actual > 0]) * 100),
        "r2": float(1 - np.sum((actual - predicted) ** 2) / np.sum((actual - actual.mean()) ** 2)),
        "baseline": "mean cost of the repair type",
        "baseline_mae": float(np.mean(np.abs(actual - baseline))),
        "baseline_r2": float(1 - np.sum((actual - baseline) ** 2) / np.sum((actual - actual.mean()) ** 2)),
        "iterations": int(estimator.n_iter_),
    }
    metrics["beats_baseline"] = metrics["mae"] < metrics["baseline_mae"]
    final = new_estimator().fit(_design(data, categories, features), data.total_cost)
    holdout = test.assign(expected_cost=predicted)
    return CostModel(final, categories, features), metrics, holdout


# ---------------------------------------------------------------------------------------------
# Bootstrap
# ---------------------------------------------------------------------------------------------


def bootstrap_total(values, months, n_boot=400, level=0.9, seed=0):
    """Monthly total of per-item savings `values` and its percentile-bootstrap interval (items resampled)."""
    values = np.asarray(values, float)
    if not len(values) or months <= 0:
        return 0.0, (0.0, 0.0)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(values), size=(n_boot, len(values)))
    totals = values[draws].sum(axis=1) / months
    tail = (1 - level) / 2
    return float(values.sum() / months), (float(np.quantile(totals, tail)), float(np.quantile(totals, 1 - tail)))


def bootstrap_statistic(n_items, statistic, n_boot=400, level=0.9, seed=0):
    """Percentile-bootstrap interval of `statistic(indices)` with the n items resampled with replacement.

    Used where the saving depends on an estimated quantity (a median) that must be re-estimated in
    every resample, not only summed. `statistic` takes a 2-D array of item indices (one resample per
    row) and returns one value per row. Returns (estimate on all items, (low, high)).
    """
    if n_items == 0:
        return 0.0, (0.0, 0.0)
    rng = np.random.default_rng(seed)
    estimate = float(statistic(np.arange(n_items)[None, :])[0])
    draws = statistic(rng.integers(0, n_items, size=(n_boot, n_items)))
    tail = (1 - level) / 2
    return estimate, (float(np.quantile(draws, tail)), float(np.quantile(draws, 1 - tail)))


def technician_saving(minutes, rates, norm_minutes, months):
    """Monthly labour cost saved if the technician's tickets ran at the norm: each ticket's minutes are
    scaled by norm / (the technician's median minutes), so the estimate moves with that median."""
    minutes, rates = np.asarray(minutes, float), np.asarray(rates, float)

    def statistic(idx):
        m, r = minutes[idx], rates[idx]
        factor = 1 - norm_minutes / np.median(m, axis=1, keepdims=True)
        return (m * r / 60 * factor).sum(axis=1) / months

    return statistic


def variability_saving(minutes, rates, months):
    """Monthly labour cost above running every ticket at the repair type's median time."""
    minutes, rates = np.asarray(minutes, float), np.asarray(rates, float)

    def statistic(idx):
        m, r = minutes[idx], rates[idx]
        return ((m - np.median(m, axis=1, keepdims=True)) * r / 60).sum(axis=1) / months

    return statistic


# ---------------------------------------------------------------------------------------------
# Labour time
# ---------------------------------------------------------------------------------------------


def labour_variability(tickets, min_tickets=20):
    """Per repair type: robust spread of log labour minutes (1.4826·MAD), mean and median minutes, and
    a flag when the spread is more than twice the median spread across repair types."""
    data = tickets[tickets.labour_minutes > 0].copy()
    data["log_minutes"] = np.log(data.labour_minutes)
    rows = []
    for repair_type, group in data.groupby("repair_type"):
        if len(group) < min_tickets:
            continue
        logs = group.log_minutes.to_numpy()
        spread = 1.4826 * np.median(np.abs(logs - np.median(logs)))
        rows.append({"repair_type": repair_type, "tickets": int(len(group)), "median_minutes": float(np.median(group.labour_minutes)),
                     "mean_minutes": float(group.labour_minutes.mean()), "log_spread": float(spread),
                     "cv": float(group.labour_minutes.std() / group.labour_minutes.mean())})
    table = pd.DataFrame(rows, columns=["repair_type", "tickets", "median_minutes", "mean_minutes", "log_spread", "cv"])
    if len(table):
        typical = float(table.log_spread.median())
        table["spread_vs_typical"] = table.log_spread / typical if typical > 0 else np.nan
        table["high_variance"] = table.spread_vs_typical > 2.0
    return table.sort_values("log_spread", ascending=False).reset_index(drop=True)


def labour_outlier_tickets(tickets, z_threshold=3.5):
    """Tickets whose labour time is extreme for their repair type: robust z of log minutes > threshold."""
    data = tickets[tickets.labour_minutes > 0].copy()
    logs = np.log(data.labour_minutes)
    median = logs.groupby(data.repair_type).transform("median")
    mad = (logs - median).abs().groupby(data.repair_type).transform("median") * 1.4826
    data["robust_z"] = (logs - median) / mad.replace(0, np.nan)
    return data[data.robust_z > z_threshold].sort_values("robust_z", ascending=False)


def technician_labour_gaps(tickets, min_tickets=15, min_ratio=1.15):
    """Technician × repair type cells whose median labour time is at least `min_ratio` × the repair
    type's shop-wide median, with the labour cost above that norm."""
    data = tickets[tickets.labour_minutes > 0].copy()
    norm = data.groupby("repair_type").labour_minutes.median()
    rows = []
    for (technician, repair_type), group in data.groupby(["technician", "repair_type"]):
        if len(group) < min_tickets:
            continue
        ratio = float(group.labour_minutes.median() / norm[repair_type])
        if ratio < min_ratio:
            continue
        rows.append({"technician": technician, "repair_type": repair_type, "tickets": int(len(group)), "median_ratio": ratio,
                     "norm_minutes": float(norm[repair_type]), "median_minutes": float(group.labour_minutes.median()),
                     "index": group.index.to_numpy()})
    return rows


def labour_opportunities(tickets, months, seed=0):
    """Savings from labour time: technicians above the repair type's norm, and high-variance repair types.

    Technician cells: achievable = the same tickets at the shop median time of the repair type (each
    ticket's minutes × norm / technician median). High-variance repair types: achievable = every
    ticket at the type's median time, i.e. the excess of the mean over the median a standard process
    would remove. Labour is costed at each ticket's technician hourly rate.
    """
    data = tickets[tickets.labour_minutes > 0]
    out = []
    for cell in technician_labour_gaps(data):
        group = data.loc[cell["index"]]
        cost = group.labour_minutes * group.hourly_cost / 60
        statistic = technician_saving(group.labour_minutes, group.hourly_cost, cell["norm_minutes"], months)
        monthly, interval = bootstrap_statistic(len(group), statistic, seed=seed)
        out.append({
            "kind": "labour_time_technician", "technician": cell["technician"], "repair_type": cell["repair_type"],
            "current_monthly_cost": float(cost.sum() / months), "achievable_monthly_cost": float(cost.sum() / months - monthly),
            "monthly_saving": monthly, "saving_interval_90": list(interval),
            "evidence": {"tickets": cell["tickets"], "median_minutes": cell["median_minutes"], "norm_minutes": cell["norm_minutes"],
                         "median_ratio": round(cell["median_ratio"], 3)},
        })
    variability = labour_variability(data)
    flagged = variability[variability.high_variance.astype(bool)] if len(variability) else variability
    for row in flagged.itertuples():
        out.extend(variability_opportunities(data[data.repair_type == row.repair_type], row, months, seed))
    return out


def variability_opportunities(group, row, months, seed=0):
    """The saving from standardising one high-variance repair type, one opportunity per store
    (the spread is judged shop-wide; the saving is where the tickets are)."""
    out = []
    by_store = group.groupby("store") if "store" in group else [(None, group)]
    for store, rows in by_store:
        cost = rows.labour_minutes * rows.hourly_cost / 60
        statistic = variability_saving(rows.labour_minutes, rows.hourly_cost, months)
        monthly, interval = bootstrap_statistic(len(rows), statistic, seed=seed)
        out.append({
            "kind": "labour_time_variability", "repair_type": row.repair_type, "store": store,
            "current_monthly_cost": float(cost.sum() / months), "achievable_monthly_cost": float(cost.sum() / months - monthly),
            "monthly_saving": monthly, "saving_interval_90": list(interval),
            "evidence": {"tickets": int(len(rows)), "tickets_shop_wide": int(row.tickets), "log_spread": round(float(row.log_spread), 4),
                         "spread_vs_typical": round(float(row.spread_vs_typical), 2), "mean_minutes": round(float(rows.labour_minutes.mean()), 1),
                         "median_minutes": float(rows.labour_minutes.median())},
        })
    return out


# ---------------------------------------------------------------------------------------------
# Purchasing
# ---------------------------------------------------------------------------------------------


def qualified_suppliers(records, min_on_time, max_defect, min_deliveries):
    """Which suppliers' measured delivery record qualifies them as an alternative source.

    `records`: one row per supplier with deliveries (orders received), on_time_rate and defect_rate from
    the purchase-order history. Qualified = at least `min_deliveries` deliveries, an on-time rate of at
    least `min_on_time` and a defect rate of at most `max_defect`; a supplier without a record is not
    qualified (there is nothing to judge it on). Returns a boolean Series on the records' index.
    """
    deliveries = pd.to_numeric(records.deliveries, errors="coerce").fillna(0)
    on_time = pd.to_numeric(records.on_time_rate, errors="coerce")
    defects = pd.to_numeric(records.defect_rate, errors="coerce").fillna(0.0)  # nothing received back faulty
    return (deliveries >= min_deliveries) & (on_time >= min_on_time) & (defects <= max_defect)


def cheapest_offers(lines, offers):
    """Per purchase line, the offer that would have cost least for the units the line needed.

    `lines`: part, quantity, unit_price, ordered_at (plus anything else, kept); `offers`: the price-list
    lines of the qualified suppliers — part, supplier, price, min_order_qty, pack_size, valid_from (empty =
    always valid). An offer counts for a line only if it was valid on the order date; the line's quantity
    is rounded up to the offer's pack size and minimum order quantity and costed at its price. Returns the
    lines that have an offer, with cheapest_supplier, cheapest_units, cheapest_cost and cheapest_price
    (= cost / quantity: the price per unit the line needed).
    """
    columns = ["cheapest_supplier", "cheapest_units", "cheapest_cost", "cheapest_price"]
    if lines.empty or offers.empty:
        return lines.iloc[0:0].assign(**{c: [] for c in columns})
    base = lines.assign(_line=np.arange(len(lines)))
    merged = base[["_line", "part", "quantity", "ordered_at"]].merge(
        offers.rename(columns={"supplier": "cheapest_supplier"}), on="part", how="inner")
    valid_from = pd.to_datetime(merged.valid_from)
    merged = merged[valid_from.isna() | (valid_from <= pd.to_datetime(merged.ordered_at).dt.normalize())]
    pack = merged.pack_size.fillna(1).clip(lower=1)
    units = np.maximum(np.ceil(merged.quantity / pack) * pack, merged.min_order_qty.fillna(1).clip(lower=1))
    merged = merged.assign(cheapest_units=units, cheapest_cost=units * merged.price.astype(float))
    merged["cheapest_price"] = merged.cheapest_cost / merged.quantity
    best = merged.sort_values(["_line", "cheapest_price", "cheapest_supplier"]).drop_duplicates("_line").set_index("_line")
    return base.join(best[columns], on="_line", how="inner").drop(columns="_line")


def overpriced_purchases(lines, offers):
    """Purchase lines that cost more than the cheapest qualified offer for them (see cheapest_offers).

    Returns those lines with excess (what the line cost above that offer) and excess_per_unit.
    """
    data = cheapest_offers(lines, offers)
    data["excess"] = data.unit_price * data.quantity - data.cheapest_cost
    data["excess_per_unit"] = data.excess / data.quantity
    return data[data.excess_per_unit > 0.005]


def purchasing_opportunities(lines, offers, months, seed=0, min_monthly=1.0):
    """Savings from buying each line from the cheapest qualified offer, per store and current supplier."""
    over = overpriced_purchases(lines, offers)
    out = []
    spend = (lines.unit_price * lines.quantity).groupby([lines.store, lines.supplier]).sum()
    for (store, supplier), group in over.groupby(["store", "supplier"]):
        monthly, interval = bootstrap_total(group.excess.to_numpy(), months, seed=seed)
        if monthly < min_monthly:
            continue
        current = float(spend.get((store, supplier), 0.0) / months)
        out.append({
            "kind": "parts_above_cheapest_supplier", "store": store, "supplier": supplier,
            "current_monthly_cost": current, "achievable_monthly_cost": current - monthly,
            "monthly_saving": monthly, "saving_interval_90": list(interval),
            "evidence": {"lines_above_cheapest": int(len(group)), "units": int(group.quantity.sum()),
                         "mean_premium_pct": round(float((group.excess_per_unit / group.cheapest_price).mean() * 100), 1),
                         "overpaid_total": round(float(group.excess.sum()), 2)},
        })
    return out
