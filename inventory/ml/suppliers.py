"""Supplier scorecards, a weighted ranking, and the allocation of demand across suppliers.

Plain pandas/numpy/scipy, no Django.
- Scorecards: on-time rate (delivered on or before the promised date), on-time-in-full (OTIF),
  lead time mean / standard deviation / 90th percentile, defect rate from receipts, and a price
  index (the supplier's price over the median qualified price of the same parts, weighted by the
  value of their demand).
- Ranking: weighted sum of min–max normalised metrics (a simple multi-attribute scoring model,
  as in supplier-selection practice; weights are the user's).
- Allocation: a mixed-integer linear programme (HiGHS through scipy.optimize.milp) choosing how many
  units of each part to buy from each qualified supplier over a horizon, minimising landed cost plus
  a risk penalty, with each used supplier–part line at least its MOQ once per order the horizon
  needs (semi-continuous variables) and each supplier within its capacity. Unmet demand is a
  penalised slack, so the model is always feasible and says what capacity could not cover. What
  the optimum pays per unit of demand counts the units bought only to reach an MOQ.
"""
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

SCORE_METRICS = {
    # weight name: (scorecard column, True when higher is better)
    "price": ("price_index", False),
    "on_time": ("on_time_rate", True),
    "lead_time": ("lead_time_mean", False),
    "lead_time_variability": ("lead_time_sd", False),
    "quality": ("defect_rate", False),
}
DEFAULT_WEIGHTS = {"price": 0.35, "on_time": 0.25, "lead_time": 0.1, "lead_time_variability": 0.15, "quality": 0.15}


def supplier_scorecards(purchase_orders, receipts, prices, part_weights=None):
    """One row per supplier with its delivery, quality and price record.

    `purchase_orders`: supplier_id, ordered (date), expected (date), received (date or NaT), in_full (bool).
    `receipts`: supplier_id, quantity, defective (summed per supplier or per receipt).
    `prices`: supplier_id, part_id, unit_price (the price lists).
    `part_weights`: optional Series part_id -> yearly demand in units, to weight the price index.
    """
    po = purchase_orders.copy()
    received = po[po.received.notna()].copy()
    received["lead_days"] = (pd.to_datetime(received.received) - pd.to_datetime(received.ordered)).dt.days.astype(float)
    received["on_time"] = pd.to_datetime(received.received) <= pd.to_datetime(received.expected)
    received["otif"] = received.on_time & received.in_full.astype(bool)
    delivery = received.groupby("supplier_id").agg(
        orders_received=("lead_days", "size"),
        on_time_rate=("on_time", "mean"),
        otif_rate=("otif", "mean"),
        lead_time_mean=("lead_days", "mean"),
        lead_time_sd=("lead_days", lambda x: float(x.std(ddof=1)) if len(x) > 1 else 0.0),
        lead_time_p90=("lead_days", lambda x: float(np.quantile(x, 0.9))),
    )
    late_by = (pd.to_datetime(received.received) - pd.to_datetime(received.expected)).dt.days.clip(lower=0)
    delivery["mean_days_late"] = late_by.groupby(received.supplier_id).mean()
    orders = po.groupby("supplier_id").size().rename("orders")
    quality = receipts.groupby("supplier_id")[["quantity", "defective"]].sum()
    quality["defect_rate"] = np.where(quality.quantity > 0, quality.defective / quality.quantity.where(quality.quantity > 0, 1), np.nan)
    cards = pd.concat([orders, delivery, quality.rename(columns={"quantity": "units_received", "defective": "units_defective"})], axis=1)
    cards["price_index"] = price_index(prices, part_weights)
    cards.index.name = "supplier_id"
    return cards.reset_index()


def price_index(prices, part_weights=None):
    """Per supplier: Σ w_p·(price_sp / median price_p) / Σ w_p over the parts it lists, where the median
    is over the suppliers qualified for part p and w_p the value of p's demand (1 when unknown)."""
    if prices.empty:
        return pd.Series(dtype=float)
    frame = prices[["supplier_id", "part_id", "unit_price"]].copy()
    frame["unit_price"] = frame.unit_price.astype(float)
    reference = frame.groupby("part_id").unit_price.transform("median")
    frame["ratio"] = frame.unit_price / reference.where(reference > 0)
    weights = pd.Series(1.0, index=frame.index)
    if part_weights is not None:
        weights = frame.part_id.map(part_weights).fillna(0.0) * reference
        # A supplier whose parts nobody needs still gets an index from its list, unweighted.
        unweighted = weights.groupby(frame.supplier_id).transform("sum") <= 0
        weights[unweighted] = 1.0
    frame["w"] = weights
    frame = frame[frame.ratio.notna()]
    return (frame.ratio * frame.w).groupby(frame.supplier_id).sum() / frame.w.groupby(frame.supplier_id).sum()


def normalise_weights(weights):
    """User weights -> non-negative weights summing to 1 over the known criteria."""
    merged = {name: float((weights or {}).get(name, 0.0 if weights else DEFAULT_WEIGHTS[name])) for name in SCORE_METRICS}
    total = sum(max(v, 0.0) for v in merged.values())
    if total <= 0:
        raise ValueError("at least one ranking weight must be positive")
    return {name: max(v, 0.0) / total for name, v in merged.items()}


def _scaled(values, higher_is_better):
    """Min–max scale to 0..1 with 1 = best; all equal (or missing) -> 1 (nobody is worse)."""
    values = values.astype(float)
    lo, hi = values.min(skipna=True), values.max(skipna=True)
    if not np.isfinite(lo) or not np.isfinite(hi) or hi - lo < 1e-12:
        return pd.Series(1.0, index=values.index)
    scaled = (values - lo) / (hi - lo)
    scaled = scaled if higher_is_better else 1.0 - scaled
    return scaled.fillna(scaled.mean())


def rank_suppliers(cards, weights=None):
    """Weighted multi-criteria score per supplier, its rank (1 = best), and a reliability score
    (the mean of the on-time and lead-time-variability scores) with its own rank."""
    weights = normalise_weights(weights)
    ranked = cards.copy()
    for name, (column, higher) in SCORE_METRICS.items():
        ranked[f"{name}_score"] = _scaled(ranked[column], higher)
    ranked["score"] = sum(weights[name] * ranked[f"{name}_score"] for name in SCORE_METRICS)
    ranked["reliability_score"] = (ranked["on_time_score"] + ranked["lead_time_variability_score"]) / 2.0
    ranked["rank"] = ranked.score.rank(ascending=False, method="min").astype(int)
    ranked["reliability_rank"] = ranked.reliability_score.rank(ascending=False, method="min").astype(int)
    return ranked.sort_values(["rank", "supplier_id"]).reset_index(drop=True), weights


@dataclass
class AllocationResult:
    status: str
    objective: float
    allocation: pd.DataFrame  # part_id, supplier_id, units, cost_per_unit, cost
    unallocated: pd.Series  # part_id -> units capacity could not cover
    message: str


def allocate_demand(candidates, demand, capacity=None, shortage_penalty=None, time_limit=20.0, min_lots=1):
    """Minimum-cost allocation of each part's demand across its qualified suppliers.

    min Σ c_ps·x_ps + P·Σ u_p
    s.t. Σ_s x_ps + u_p ≥ D_p                 (each part's demand is covered, or counted as unmet)
         Σ_p x_ps ≤ Cap_s                     (supplier capacity over the horizon)
         x_ps = 0  or  n·MOQ_ps ≤ x_ps ≤ max(D_p, n·MOQ_ps)   (semi-continuous: a used line meets its MOQ)

    n = `min_lots`, the purchase orders the horizon needs at least (each one at least the MOQ): the MOQ
    holds per order, not only once per horizon. Units bought beyond D_p to meet it are charged in the
    objective (see `effective_unit_costs`).
    `candidates`: part_id, supplier_id, cost_per_unit, min_order_qty. `demand`: Series part_id -> units.
    `capacity`: Series supplier_id -> units over the horizon (missing / NaN = unlimited).
    """
    demand = demand[demand > 0]
    cand = candidates[candidates.part_id.isin(demand.index)].reset_index(drop=True)
    if cand.empty:
        return AllocationResult("optimal", 0.0, cand.assign(units=[], cost=[]), demand * 0, "nothing to allocate")
    parts = pd.Index(demand.index.unique())
    n_x, n_u = len(cand), len(parts)
    cost = cand.cost_per_unit.to_numpy(float)
    penalty = shortage_penalty if shortage_penalty is not None else 10.0 * float(cost.max() + 1.0)
    c = np.concatenate([cost, np.full(n_u, penalty)])
    part_row = parts.get_indexer(cand.part_id)
    d = demand.reindex(parts).to_numpy(float)
    moq = cand.min_order_qty.to_numpy(float).clip(min=0) * max(int(min_lots), 1)
    upper = np.maximum(d[part_row], moq)
    rows = [sparse.csr_matrix((np.ones(n_x), (part_row, np.arange(n_x))), shape=(n_u, n_x + n_u))
            + sparse.csr_matrix((np.ones(n_u), (np.arange(n_u), n_x + np.arange(n_u))), shape=(n_u, n_x + n_u))]
    lower_bounds, upper_bounds = [d], [np.full(n_u, np.inf)]
    if capacity is not None:
        cap = capacity.reindex(cand.supplier_id.unique()).dropna()
        if len(cap):
            suppliers = pd.Index(cap.index)
            sup_row = suppliers.get_indexer(cand.supplier_id)
            used = sup_row >= 0
            rows.append(sparse.csr_matrix((np.ones(used.sum()), (sup_row[used], np.nonzero(used)[0])),
                                          shape=(len(suppliers), n_x + n_u)))
            lower_bounds.append(np.full(len(suppliers), -np.inf))
            upper_bounds.append(cap.to_numpy(float))
    constraints = LinearConstraint(sparse.vstack(rows).tocsr(), np.concatenate(lower_bounds), np.concatenate(upper_bounds))
    # Semi-continuous (integrality 2) only where an MOQ above one unit makes it matter.
    integrality = np.concatenate([np.where(moq > 1, 2, 0), np.zeros(n_u)]).astype(int)
    lower = np.concatenate([np.where(moq > 1, moq, 0.0), np.zeros(n_u)])
    bounds = Bounds(lower, np.concatenate([upper, d]))
    result = milp(c, constraints=constraints, integrality=integrality, bounds=bounds,
                  options={"time_limit": time_limit, "disp": False})
    if result.x is None:
        return AllocationResult("failed", float("nan"), cand.assign(units=0.0, cost=0.0), pd.Series(d, index=parts), result.message)
    x = np.where(np.abs(result.x) < 1e-6, 0.0, result.x)
    allocation = cand.assign(units=x[:n_x], cost=x[:n_x] * cost)
    unallocated = pd.Series(x[n_x:], index=parts)
    status = "optimal" if result.status == 0 else ("time_limit" if result.status == 1 else "failed")
    return AllocationResult(status, float((allocation.cost).sum()), allocation, unallocated, result.message)


def effective_unit_costs(result, demand, columns=("cost_per_unit",)):
    """Per part: what the optimum pays per unit of demand it covers, Σ_s x_ps·c_ps / (D_p − u_p), so units
    bought only to reach an MOQ are paid for by the demand they came with; and those surplus units,
    Σ_s x_ps − (D_p − u_p). Returns a DataFrame indexed by part with one column per cost column and
    `surplus_units`."""
    allocation = result.allocation[result.allocation.units > 0]
    covered = (demand - result.unallocated.reindex(demand.index).fillna(0.0)).clip(lower=0)
    bought = allocation.groupby("part_id").units.sum()
    frame = pd.DataFrame(index=bought.index)
    share = covered.reindex(bought.index)
    for column in columns:
        spent = (allocation.units * allocation[column]).groupby(allocation.part_id).sum()
        frame[column] = spent / share.where(share > 0)
    frame["surplus_units"] = (bought - share).clip(lower=0)
    return frame


def allocation_cost(shares, candidates, demand):
    """Cost of buying `demand` with a given allocation: `shares` has part_id, supplier_id, share (per
    part summing to 1). Returns a frame part_id, supplier_id, units, cost_per_unit, cost."""
    merged = shares.merge(candidates[["part_id", "supplier_id", "cost_per_unit"]], on=["part_id", "supplier_id"], how="inner")
    merged["units"] = merged.share * merged.part_id.map(demand).fillna(0.0)
    merged["cost"] = merged.units * merged.cost_per_unit
    return merged


def todays_mix_costs(mix, terms, columns=("cost_per_unit",), min_lots=1):
    """What today's mix of suppliers pays for each store's demand under the same per-order MOQ rule as the
    optimum (`allocate_demand`): every supplier a part is bought from gets at least min_lots × its MOQ
    over the horizon — the stores' units of the part from it added up, as the optimum buys a part for
    all of them — and the units bought beyond the demand only to reach it are paid for by the demand
    they came with, in proportion to it (as `effective_unit_costs` charges the optimum).

    `mix`: store_id, part_id, supplier_id, units (each store's demand split by today's shares).
    `terms`: part_id, supplier_id, min_order_qty and the per-unit cost `columns`.
    Returns `mix`'s rows with a qualified supplier: units, bought (units + their share of the surplus)
    and, per cost column, `<column>_spent` on them."""
    merged = mix.merge(terms[["part_id", "supplier_id", "min_order_qty", *columns]], on=["part_id", "supplier_id"], how="inner")
    merged = merged[merged.units > 0]
    pooled = merged.groupby(["part_id", "supplier_id"]).units.transform("sum")
    lots = merged.min_order_qty.astype(float).clip(lower=0) * max(int(min_lots), 1)
    lots = lots.where(lots > 1, 0.0)  # as in the allocation: a minimum only where it is more than one unit
    merged = merged.assign(bought=merged.units * np.maximum(pooled, lots) / pooled)
    return merged.assign(**{f"{column}_spent": merged.bought * merged[column] for column in columns})
