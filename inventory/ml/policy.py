"""Reorder policy: demand over the protection interval, safety stock, reorder point, order quantity,
supplier choice, projected stockout and stock status.

Plain numpy/scipy on arrays (one element per part and store), no Django. Sources:
- Silver, Pyke & Peterson, *Inventory Management and Production Planning and Scheduling* (3rd ed.),
  ch. 7: demand over the protection interval L + R with variance  P·σ_d² + μ_d²·σ_L², safety stock
  z·σ for a cycle service level, the normal loss function G(z) for expected units short per cycle.
- Harris (1913) / Wilson: the economic order quantity √(2DK / hc).
- Syntetos & Boylan (2005) and Syntetos, Babai & Altay (2012): slow and intermittent demand is
  discrete and skewed, so its reorder point is a quantile of a Poisson or negative binomial
  lead-time demand distribution rather than mean + z·σ.
- Silver, Pyke & Peterson ch. 7 (aggregate service, exchange curves): the reorder points of many items
  are set together so that the share of all replenishment cycles without a stockout meets the target
  at the lowest safety-stock investment (`allocate_reorder_points`). One item's quantile rounded up
  to a whole unit overshoots the target — a slow mover's 90 % quantile often serves 98 % of its cycles
  — so item-by-item quantiles deliver more service than asked and pay for it in stock.
"""
import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

# Below this many units of expected demand per protection interval the normal approximation is poor
# (it gives fractional, often too small, reorder points), so such items use the discrete method.
DISCRETE_BELOW_UNITS = 10.0
INTERMITTENT_CLASSES = ("intermittent", "lumpy")

NORMAL, POISSON, NEGATIVE_BINOMIAL, NO_DEMAND = "normal", "poisson", "negative_binomial", "no_demand"
POLICY_METHOD_NAMES = {
    NORMAL: "Normal lead-time demand, s = μ_P + z·σ_P (Silver, Pyke & Peterson)",
    POISSON: "Poisson lead-time demand quantile (intermittent demand)",
    NEGATIVE_BINOMIAL: "Negative binomial lead-time demand quantile (intermittent demand, Syntetos & Boylan)",
    NO_DEMAND: "No forecast demand: nothing to reorder",
}


def as_float(values):
    return np.asarray(values, dtype=float)


def protection_interval_demand(daily_mean, daily_sd, lead_time_mean, lead_time_sd, review_days):
    """Mean and standard deviation of demand over the protection interval P = L + R.

    Variance  P·σ_d² + μ_d²·σ_L²  (independent daily forecast errors, random lead time;
    Silver, Pyke & Peterson §7.11). Returns (mean, sd, P).
    """
    daily_mean, daily_sd = as_float(daily_mean), as_float(daily_sd)
    period = as_float(lead_time_mean) + as_float(review_days)
    mean = daily_mean * period
    variance = period * daily_sd ** 2 + daily_mean ** 2 * as_float(lead_time_sd) ** 2
    return mean, np.sqrt(np.maximum(variance, 0.0)), period


def safety_factor(service_level):
    """z for a cycle service level: the standard normal quantile Φ⁻¹(CSL)."""
    return stats.norm.ppf(as_float(service_level))


def normal_reorder_point(mean, sd, service_level):
    """Reorder point s = ⌈μ_P + z·σ_P⌉ with safety stock z·σ_P (normal demand over L + R)."""
    safety_stock = safety_factor(service_level) * as_float(sd)
    return np.ceil(as_float(mean) + safety_stock - 1e-9), safety_stock


def discrete_reorder_point(mean, sd, service_level):
    """Smallest s with P(D_P ≤ s) ≥ CSL for intermittent demand over the protection interval.

    Negative binomial fitted by moments when the variance exceeds the mean (overdispersed, lumpy
    demand), Poisson otherwise. Returns (reorder point, method name per element).
    """
    mean, sd = as_float(mean), as_float(sd)
    service_level = np.broadcast_to(as_float(service_level), mean.shape)
    variance = sd ** 2
    reorder_point = np.zeros_like(mean)
    method = np.full(mean.shape, POISSON, dtype=object)
    positive = mean > 0
    overdispersed = positive & (variance > mean * 1.0001)
    poisson = positive & ~overdispersed
    if poisson.any():
        reorder_point[poisson] = stats.poisson.ppf(service_level[poisson], mean[poisson])
    if overdispersed.any():
        m, v = mean[overdispersed], variance[overdispersed]
        n, p = m ** 2 / (v - m), m / v
        reorder_point[overdispersed] = stats.nbinom.ppf(service_level[overdispersed], n, p)
        method[overdispersed] = NEGATIVE_BINOMIAL
    return np.maximum(reorder_point, 0.0), method


def reorder_points(mean, sd, service_level, demand_class):
    """Reorder point and safety stock per item, choosing the method by demand pattern.

    Intermittent or lumpy items, and any item expecting fewer than DISCRETE_BELOW_UNITS over the
    protection interval, get the discrete (Poisson / negative binomial) quantile; the rest the normal
    formula. Safety stock is reported as s − μ_P for the discrete method (the stock held beyond the
    expected demand). Returns (reorder_point, safety_stock, method).
    """
    mean, sd = as_float(mean), as_float(sd)
    service_level = np.broadcast_to(as_float(service_level), mean.shape)
    demand_class = np.asarray(demand_class, dtype=object)
    discrete = np.isin(demand_class, INTERMITTENT_CLASSES) | (mean < DISCRETE_BELOW_UNITS)
    reorder_point = np.zeros_like(mean)
    safety_stock = np.zeros_like(mean)
    method = np.full(mean.shape, NORMAL, dtype=object)
    normal = ~discrete & (mean > 0)
    if normal.any():
        reorder_point[normal], safety_stock[normal] = normal_reorder_point(mean[normal], sd[normal], service_level[normal])
    discrete &= mean > 0
    if discrete.any():
        reorder_point[discrete], method[discrete] = discrete_reorder_point(mean[discrete], sd[discrete], service_level[discrete])
        safety_stock[discrete] = reorder_point[discrete] - mean[discrete]
    method[mean <= 0] = NO_DEMAND
    return reorder_point, safety_stock, method


def protection_cdf(mean, sd, method, points):
    """P(D_P ≤ s) for each item (rows) at each of its candidate reorder points `points` (items × k), from the
    distribution its reorder point method uses: normal, Poisson, or negative binomial by moments."""
    mean, sd, points = as_float(mean)[:, None], as_float(sd)[:, None], as_float(points)
    method = np.asarray(method, dtype=object)
    cdf = np.ones(points.shape)
    variance = sd ** 2
    normal = (method == NORMAL) & (mean[:, 0] > 0)
    nb = (method == NEGATIVE_BINOMIAL) & (variance[:, 0] > mean[:, 0] * 1.0001) & (mean[:, 0] > 0)
    poisson = np.isin(method, (POISSON, NEGATIVE_BINOMIAL)) & ~nb & (mean[:, 0] > 0)
    if normal.any():
        cdf[normal] = stats.norm.cdf(points[normal], mean[normal], np.maximum(sd[normal], 1e-9))
    if poisson.any():
        cdf[poisson] = stats.poisson.cdf(points[poisson], mean[poisson])
    if nb.any():
        m, v = mean[nb], variance[nb]
        cdf[nb] = stats.nbinom.cdf(points[nb], m ** 2 / (v - m), m / v)
    return cdf


def _discrete_cdf_table(mean, sd, method, k):
    """P(D_P ≤ s) for s = 0 … k − 1 (items × k) of Poisson / negative binomial items, by the pmf recursions
    p(s+1) = p(s)·μ/(s+1) and p(s+1) = p(s)·(s+n)/(s+1)·(1−p): the same figures as scipy's cdf, a table at once."""
    mean, variance = as_float(mean), as_float(sd) ** 2
    nb = (np.asarray(method, dtype=object) == NEGATIVE_BINOMIAL) & (variance > mean * 1.0001)
    with np.errstate(divide="ignore", invalid="ignore"):
        n = np.where(nb, mean ** 2 / (variance - mean), 1.0)
        p = np.where(nb, mean / variance, 1.0)
        first = np.where(nb, np.exp(n * np.log(p)), np.exp(-mean))
    s = np.arange(k - 1)[None, :]
    step = np.where(nb[:, None], (s + n[:, None]) / (s + 1) * (1 - p[:, None]), mean[:, None] / (s + 1))
    pmf = first[:, None] * np.cumprod(np.concatenate([np.ones((len(mean), 1)), step], axis=1), axis=1)
    return np.minimum(np.cumsum(pmf, axis=1), 1.0)


ALLOCATION_CANDIDATES = 64  # reorder points tried per item, upward from the lowest one worth trying


def allocate_reorder_points(mean, sd, method, reorder_point, cycles_per_year, unit_holding, service_level, group):
    """Reorder points that meet a cycle service level across a group of items (a store's parts at one
    target) at the lowest safety-stock holding cost (Silver, Pyke & Peterson ch. 7, aggregate service).

    For each group: minimise Σ h_i·s_i subject to Σ c_i·P(D_i ≤ s_i) / Σ c_i ≥ target, with c_i the item's
    replenishment cycles a year (the cycles the target counts; `selectors.allocate_service` passes D/Q + 1)
    and h_i its yearly holding cost per unit. The Lagrangian h_i·s + λ·c_i·(1 − F_i(s)) is minimised item by item and λ found by bisection, so
    cheap, often-ordered items carry more service and dear, rarely-ordered ones less, while the cycles of
    the group together are served at the target. `reorder_point`: each item's own quantile at the target
    (kept for items outside the allocation: no demand, no order quantity, or a range wider than
    ALLOCATION_CANDIDATES units). Returns (reorder points, bool per item: set by the allocation).
    """
    mean, sd, reorder_point = as_float(mean), as_float(sd), as_float(reorder_point).copy()
    cycles, holding = as_float(cycles_per_year), np.maximum(as_float(unit_holding), 1e-9)
    method = np.asarray(method, dtype=object)
    n = len(mean)
    service_level = np.broadcast_to(as_float(service_level), (n,))
    group = np.asarray(group)
    allocated = np.zeros(n, dtype=bool)
    if not n:
        return reorder_point, allocated
    candidate = (mean > 0) & (cycles > 0) & np.isin(method, (NORMAL, POISSON, NEGATIVE_BINOMIAL))
    for key in np.unique(group[candidate]):
        # One group at a time (a store's parts at one level), so the candidate table stays small at any scale.
        members = np.nonzero(candidate & (group == key))[0]
        # Candidates: from 0 (discrete) or the 1 % quantile (normal) upwards.
        m, d, kind = mean[members], sd[members], method[members]
        with np.errstate(invalid="ignore", divide="ignore"):
            low = np.where(kind == NORMAL, np.floor(stats.norm.ppf(0.01, m, np.maximum(d, 1e-9))), 0.0)
        points = np.maximum(np.nan_to_num(low), 0.0)[:, None] + np.arange(ALLOCATION_CANDIDATES)[None, :]
        discrete = kind != NORMAL
        cdf = np.empty(points.shape)
        cdf[discrete] = _discrete_cdf_table(m[discrete], d[discrete], kind[discrete], ALLOCATION_CANDIDATES)
        cdf[~discrete] = protection_cdf(m[~discrete], d[~discrete], kind[~discrete], points[~discrete])
        covers = cdf[:, -1] >= np.maximum(service_level[members], 0.9999)  # the candidates reach the far tail
        members, points, cdf = members[covers], points[covers], cdf[covers]
        if not len(members):
            continue
        target = float(service_level[members].mean())
        c = cycles[members]
        weight, stock, risk = c / c.sum(), holding[members][:, None] * points, c[:, None] * (1.0 - cdf)
        at = np.arange(len(members))

        def choice(lam):
            k = (stock + lam * risk).argmin(axis=1)
            return k, float((weight * cdf[at, k]).sum())

        lo, hi = 1e-6, 1e12
        if choice(hi)[1] < target:  # out of the candidates' reach: each item keeps its own quantile
            continue
        for _ in range(32):  # λ to a part in 10⁸: far finer than one unit of any reorder point
            mid = math.sqrt(lo * hi)
            lo, hi = (lo, mid) if choice(mid)[1] >= target else (mid, hi)
        reorder_point[members] = points[at, choice(hi)[0]]
        allocated[members] = True
    return reorder_point, allocated


def economic_order_quantity(annual_demand, order_cost, unit_cost, holding_rate):
    """Harris–Wilson EOQ = √(2·D·K / (h·c)); 0 where there is no demand or no holding cost."""
    annual_demand, order_cost, unit_cost = as_float(annual_demand), as_float(order_cost), as_float(unit_cost)
    holding = as_float(holding_rate) * unit_cost
    with np.errstate(divide="ignore", invalid="ignore"):
        eoq = np.sqrt(2.0 * annual_demand * order_cost / holding)
    return np.where((annual_demand > 0) & (holding > 0), eoq, 0.0)


def round_order_quantity(quantity, min_order_qty, pack_size):
    """Round an order quantity up to the supplier's minimum order and to whole packs (0 stays 0)."""
    quantity = as_float(quantity)
    pack = np.maximum(as_float(pack_size), 1.0)
    wanted = np.maximum(quantity, as_float(min_order_qty))
    rounded = np.ceil(wanted / pack - 1e-9) * pack
    return np.where(quantity > 0, rounded, 0.0)


def order_quantity(daily_mean, order_cost, unit_cost, holding_rate, min_order_qty, pack_size, max_cover_days=None):
    """EOQ on annual demand 365·μ_d, capped at `max_cover_days` of demand (obsolescence guard: a
    phone model's parts lose their market), then rounded up to MOQ and pack size.
    Returns (rounded quantity, raw EOQ)."""
    daily_mean = as_float(daily_mean)
    eoq = economic_order_quantity(daily_mean * 365.0, order_cost, unit_cost, holding_rate)
    wanted = eoq
    if max_cover_days:
        wanted = np.minimum(eoq, np.maximum(daily_mean * max_cover_days, 1.0))
    wanted = np.where(daily_mean > 0, np.maximum(wanted, 1.0), 0.0)
    return round_order_quantity(wanted, min_order_qty, pack_size), eoq


def normal_loss(z):
    """Standard normal loss function G(z) = φ(z) − z·(1 − Φ(z)): expected units short per unit of σ."""
    z = as_float(z)
    return stats.norm.pdf(z) - z * stats.norm.sf(z)


def expected_shortage(mean, sd, reorder_point, method):
    """Expected units short per replenishment cycle, E[(D_P − s)⁺].

    Normal items: σ·G((s − μ)/σ). Discrete items: μ − s + Σ_{k<s} (s − k)·P(D = k) from the same
    Poisson / negative binomial distribution their reorder point came from.
    """
    mean, sd, s = as_float(mean), as_float(sd), as_float(reorder_point)
    method = np.asarray(method, dtype=object)
    shortage = np.zeros_like(mean)
    normal = (method == NORMAL) & (sd > 0)
    if normal.any():
        shortage[normal] = sd[normal] * normal_loss((s[normal] - mean[normal]) / sd[normal])
    flat = (method == NORMAL) & (sd <= 0)
    shortage[flat] = np.maximum(mean[flat] - s[flat], 0)
    discrete = np.isin(method, (POISSON, NEGATIVE_BINOMIAL)) & (mean > 0)
    if discrete.any():
        m, v, sd_ = mean[discrete], sd[discrete] ** 2, s[discrete]
        nb = method[discrete] == NEGATIVE_BINOMIAL
        n, p = _nb_params(m, v)
        below = np.zeros_like(m)
        for k in range(int(min(sd_.max(), 2000))):
            # Only the items whose reorder point is above k have a term (s − k)·P(D = k): most reorder points
            # are a few units, so the work shrinks fast as k grows.
            active = k < sd_
            for rows, pmf in ((active & nb, lambda r: stats.nbinom.pmf(k, n[r], p[r])),
                              (active & ~nb, lambda r: stats.poisson.pmf(k, m[r]))):
                if rows.any():
                    below[rows] += (sd_[rows] - k) * pmf(rows)
        shortage[discrete] = np.maximum(m - sd_ + below, 0.0)
    return shortage


def _nb_params(mean, variance):
    with np.errstate(divide="ignore", invalid="ignore"):
        excess = np.where(variance > mean, variance - mean, np.nan)
        n = np.where(np.isfinite(excess), mean ** 2 / excess, 1.0)
        p = np.where(np.isfinite(excess), mean / variance, 0.5)
    return n, p


@dataclass
class CostRates:
    """The shop's cost parameters: holding rate per year (share of unit cost), GBP per unit short."""

    holding_rate: float = 0.25
    stockout_cost: float = 25.0
    review_days: float = 1.0
    max_cover_days: float | None = 180.0
    late_delivery_weight: float = 0.5  # share of the unit price charged per unit of late-delivery probability


def sourcing_costs(daily_mean, daily_sd, demand_class, service_level, unit_price, defect_rate, order_cost,
                   lead_time_mean, lead_time_sd, min_order_qty, pack_size, rates: CostRates, on_time_rate=1.0):
    """Yearly total relevant cost of sourcing an item from one candidate supplier.

    TRC = D·c/(1 − defect rate)     [purchase, replacing defective units]
        + K·D/Q                     [ordering]
        + h·c·(Q/2 + SS)            [holding cycle and safety stock]
        + B·E[short per cycle]·D/Q  [stockouts; larger for suppliers whose lead time varies more]
        + w·(1 − on-time rate)·c·D  [late deliveries]
    The first four follow Silver, Pyke & Peterson ch. 7. Safety stock sized on the delivered
    lead-time distribution absorbs a late supplier's delays at the service level, so on cost alone a
    cheap, chronically late supplier would win; the last term is the late-delivery criterion of
    weighted-sum supplier selection (Weber & Current 1993), pricing each unit's chance of arriving
    after its promise at w × its price. Purchase, ordering and cycle holding over D are the landed cost
    per unit; safety-stock holding, stockouts and lateness over D are the supplier's risk cost per unit.
    Returns a dict of arrays.
    """
    daily_mean = as_float(daily_mean)
    annual_demand = daily_mean * 365.0
    price = as_float(unit_price)
    quantity, eoq = order_quantity(daily_mean, order_cost, price, rates.holding_rate, min_order_qty, pack_size,
                                   rates.max_cover_days)
    mean, sd, period = protection_interval_demand(daily_mean, daily_sd, lead_time_mean, lead_time_sd, rates.review_days)
    reorder_point, safety_stock, method = reorder_points(mean, sd, service_level, demand_class)
    short_per_cycle = expected_shortage(mean, sd, reorder_point, method)
    with np.errstate(divide="ignore", invalid="ignore"):
        cycles = np.where(quantity > 0, annual_demand / np.where(quantity > 0, quantity, 1.0), 0.0)

    def per_unit(total):
        return np.where(annual_demand > 0, total / np.where(annual_demand > 0, annual_demand, 1.0), 0.0)

    purchase = annual_demand * price / np.maximum(1.0 - as_float(defect_rate), 0.5)
    ordering = as_float(order_cost) * cycles
    cycle_holding = rates.holding_rate * price * quantity / 2.0
    safety_holding = rates.holding_rate * price * np.maximum(safety_stock, 0.0)
    stockout = rates.stockout_cost * short_per_cycle * cycles
    lateness = rates.late_delivery_weight * (1.0 - np.clip(as_float(on_time_rate), 0.0, 1.0)) * price * annual_demand
    return {
        "order_qty": quantity, "eoq": eoq, "protection_days": period, "protection_demand": mean, "protection_sd": sd,
        "reorder_point": reorder_point, "safety_stock": safety_stock, "policy_method": method,
        "expected_short_per_cycle": short_per_cycle, "orders_per_year": cycles,
        "annual_purchase": purchase, "annual_ordering": ordering, "annual_holding": cycle_holding + safety_holding,
        "annual_stockout": stockout, "annual_lateness": lateness,
        "annual_cost": purchase + ordering + cycle_holding + safety_holding + stockout + lateness,
        "landed_cost_per_unit": np.where(annual_demand > 0, per_unit(purchase + ordering + cycle_holding), price),
        "risk_cost_per_unit": np.where(annual_demand > 0, per_unit(safety_holding + stockout + lateness),
                                       rates.late_delivery_weight * (1.0 - np.clip(as_float(on_time_rate), 0.0, 1.0)) * price),
    }


def choose_suppliers(candidates, key_columns):
    """Pick, per item, the candidate with the lowest yearly total relevant cost; items without demand
    (all costs zero) by the lowest landed + risk cost per unit. `candidates` has one row per item and
    qualified supplier, with the columns `sourcing_costs` returns."""
    ranked = candidates.assign(_per_unit=candidates.landed_cost_per_unit + candidates.risk_cost_per_unit)
    ordered = ranked.sort_values(list(key_columns) + ["annual_cost", "_per_unit"], kind="stable")
    return ordered.drop_duplicates(list(key_columns), keep="first").drop(columns=["_per_unit"])


def days_until_stockout(available, daily_mean, arrival_days=None, arrival_quantities=None):
    """Projected days until stock runs out: on hand plus expected deliveries against the forecast.

    Stock lasts available/μ days; a delivery due before that moment extends it by quantity/μ.
    Returns a float per item (0 = out now; inf = never, i.e. no forecast demand). `arrival_days`
    and `arrival_quantities` are, per item, sequences of delivery offsets in days and quantities.
    """
    available, daily_mean = as_float(available), as_float(daily_mean)
    with np.errstate(divide="ignore", invalid="ignore"):
        days = np.where(daily_mean > 0, np.maximum(available, 0) / daily_mean, np.inf)
    if arrival_days is None:
        return days
    days = days.copy()
    for i, (offsets, quantities) in enumerate(zip(arrival_days, arrival_quantities)):
        if not len(offsets) or not daily_mean[i] > 0:
            continue
        stock_days = max(available[i], 0) / daily_mean[i]
        for offset, quantity in sorted(zip(offsets, quantities)):
            if offset > stock_days:
                break  # the shelf is empty before this delivery arrives
            stock_days += quantity / daily_mean[i]
        days[i] = stock_days
    return days


OK, LOW, CRITICAL, OUT, OVER = "ok", "low", "critical", "out", "over"
STATUSES = (OK, LOW, CRITICAL, OUT, OVER)


def stock_status(available, reorder_point, max_level, days_to_stockout, lead_time_days, daily_mean):
    """Status of each item on the shelf:

    out       nothing available and the item is stocked (it has demand or a reorder point);
    critical  projected to run out within the supplier's lead time (an order now comes too late);
    low       at or below the reorder point;
    over      above the maximum level (reorder point + order quantity; any stock when no demand);
    ok        otherwise.
    """
    available, reorder_point, max_level = as_float(available), as_float(reorder_point), as_float(max_level)
    stocked = (reorder_point > 0) | (as_float(daily_mean) > 0)
    status = np.full(available.shape, OK, dtype=object)
    status[available > max_level] = OVER
    status[stocked & (available <= reorder_point)] = LOW
    status[stocked & (as_float(days_to_stockout) <= as_float(lead_time_days))] = CRITICAL
    status[stocked & (available <= 0)] = OUT
    return status
