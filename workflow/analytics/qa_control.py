"""Statistical process control of repair quality: p-charts for QA failure and comeback proportions.

p-chart with variable subgroup sizes (Shewhart; Montgomery, *Introduction to Statistical Quality
Control*, 8th ed., §7.2): for subgroups i with n_i items of which x_i are defective, the centre
line is p̄ = Σx / Σn and the limits are p̄ ± z·√(p̄(1 − p̄)/n_i), the lower one cut at 0.

The limits drawn and judged are *probability limits* (Montgomery §7.2.1): the counts a binomial(n_i, p̄)
process exceeds (or falls below) with at most the tail probability of z-sigma limits, Φ(−z) = 0.00135
for z = 3. A shop's proportions are small (p̄ ≈ 0.02–0.04) and many subgroups hold 30–100 items, where
np̄ is about 1 and the normal-approximation limits above are far too narrow: on the demo data's repair
types they raise a false alarm on one chart in ten every day, the exact limits on about one in a
hundred. With large n the two agree (p_chart_limits stays the textbook formula for reference).

Here a subgroup is a technician, a repair type or a parts supplier over the analysis window (a
"between-groups" chart, the same construction as a funnel plot), and a week for the chart over
time. Limits are first set as *trial limits*: subgroups above the UCL are removed and p̄ recomputed
until none remain (Phase I, Montgomery §7.2.1), so one bad technician does not widen everyone's
limits. A subgroup above the UCL is out of control (quality deteriorated); one below the LCL is
reported as unusually good but is not an alarm.
"""
import numpy as np
import pandas as pd
from scipy.stats import binom, norm

Z = 3.0
MIN_SUBGROUP = 30  # below this many items a proportion is too noisy to judge


def p_chart_limits(p_bar, n, z=Z):
    """(lcl, ucl) arrays for subgroup sizes `n` around centre line `p_bar`."""
    n = np.asarray(n, dtype=float)
    sigma = np.sqrt(max(p_bar * (1 - p_bar), 0.0) / np.maximum(n, 1))
    return np.maximum(p_bar - z * sigma, 0.0), np.minimum(p_bar + z * sigma, 1.0)


def probability_limits(p_bar, n, z=Z):
    """(lcl, ucl) arrays of exact binomial probability limits for subgroup sizes `n` around `p_bar`.

    ucl = k/n with k the (1 − α) quantile of binomial(n, p̄), α = Φ(−z): a proportion above it has
    P(X ≥ x) ≤ α. lcl = k'/n with k' the α quantile: a proportion below it has P(X ≤ x) < α.
    """
    n = np.maximum(np.asarray(n, dtype=float), 1)
    alpha = float(norm.sf(z))
    p_bar = min(max(float(p_bar), 0.0), 1.0)
    return binom.ppf(alpha, n, p_bar) / n, binom.ppf(1 - alpha, n, p_bar) / n


def p_chart(groups: pd.DataFrame, *, z=Z, min_n=MIN_SUBGROUP, phase_one=True, max_rounds=10):
    """Between-groups p-chart.

    groups: columns `key`, `n` (items inspected / repairs) and `x` (failures / comebacks).
    Returns (table, centre) where table adds p, lcl, ucl, signal ("above_ucl" | "below_lcl" | "")
    and out_of_control (above the UCL with at least `min_n` items), sorted by p descending.
    """
    table = groups.copy()
    table["n"] = table["n"].astype(int)
    table["x"] = table["x"].astype(int)
    table["p"] = np.where(table.n > 0, table.x / table.n.clip(lower=1), np.nan)
    judged = table.n >= min_n
    excluded = np.zeros(len(table), dtype=bool)
    p_bar = float(table.x.sum() / max(table.n.sum(), 1))
    for _ in range(max_rounds if phase_one else 1):
        keep = ~excluded
        p_bar = float(table.x[keep].sum() / max(table.n[keep].sum(), 1))
        _, ucl = probability_limits(p_bar, table.n, z)
        above = judged.to_numpy() & (table.p.to_numpy() > ucl)
        if not phase_one or np.array_equal(above, excluded):
            break
        excluded = above
    lcl, ucl = probability_limits(p_bar, table.n, z)
    table["lcl"], table["ucl"] = lcl, ucl
    table["signal"] = np.where(judged & (table.p > table.ucl), "above_ucl",
                               np.where(judged & (table.p < table.lcl), "below_lcl", ""))
    table["out_of_control"] = table.signal == "above_ucl"
    table["judged"] = judged
    table["excess"] = np.where(table.out_of_control, table.x - p_bar * table.n, 0.0)
    return table.sort_values(["p", "n"], ascending=[False, False]).reset_index(drop=True), p_bar


def p_chart_over_time(periods: pd.DataFrame, *, z=Z, centre=None):
    """p-chart of one process over time: columns `period`, `n`, `x` -> adds p, lcl, ucl, signal.

    `centre` fixes p̄ (e.g. from a baseline); otherwise it is Σx/Σn of the periods shown.
    """
    table = periods.sort_values("period").reset_index(drop=True)
    p_bar = float(centre) if centre is not None else float(table.x.sum() / max(table.n.sum(), 1))
    table["p"] = np.where(table.n > 0, table.x / table.n.clip(lower=1), np.nan)
    lcl, ucl = probability_limits(p_bar, table.n, z)
    table["lcl"], table["ucl"] = lcl, ucl
    table["signal"] = np.where((table.n > 0) & (table.p > table.ucl), "above_ucl",
                               np.where((table.n > 0) & (table.p < table.lcl), "below_lcl", ""))
    return table, p_bar
