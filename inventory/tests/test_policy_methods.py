"""The reorder-policy methods on textbook cases with known answers (no database)."""
import math

import numpy as np
import pytest
from scipy import stats

from inventory.ml import policy as pol


def test_eoq_matches_chopra_meindl_best_buy_example():
    # Chopra & Meindl, Supply Chain Management, Example 11-1: D = 12,000 units/yr, S = $4,000 per order,
    # h = 20 % of C = $500 -> Q* = sqrt(2 * 12000 * 4000 / 100) = 979.8 units.
    eoq = pol.economic_order_quantity(12000, 4000, 500, 0.20)
    assert eoq == pytest.approx(979.8, abs=0.1)


def test_safety_stock_with_lead_time_uncertainty_matches_chopra_meindl_example():
    # Chopra & Meindl, Example 12-5 (Dell): daily demand D = 2,500, σ_D = 500, lead time L = 7 days with
    # s_L = 7 days, CSL = 90 % -> σ_L = sqrt(7 * 500² + 2500² * 7²) = 17,550 and ss = 1.2816 * 17,550 = 22,491.
    mean, sd, period = pol.protection_interval_demand(2500, 500, 7, 7, 0)
    assert period == 7
    assert mean == 17500
    assert sd == pytest.approx(17550, abs=1)
    reorder_point, safety_stock = pol.normal_reorder_point(mean, sd, 0.90)
    assert safety_stock == pytest.approx(22491, abs=2)
    assert reorder_point == math.ceil(17500 + safety_stock)


def test_safety_stock_without_lead_time_uncertainty_is_z_sigma_root_l():
    # Same example with a certain lead time: σ_L = sqrt(7) * 500 = 1,323 and ss = 1.2816 * 1,323 = 1,695.
    mean, sd, _ = pol.protection_interval_demand(2500, 500, 7, 0, 0)
    assert sd == pytest.approx(1322.9, abs=0.1)
    assert pol.normal_reorder_point(mean, sd, 0.90)[1] == pytest.approx(1695, abs=1)


def test_review_period_lengthens_the_protection_interval():
    mean, sd, period = pol.protection_interval_demand(10, 3, 4, 0, 3)
    assert period == 7 and mean == 70 and sd == pytest.approx(3 * math.sqrt(7))


def test_order_quantity_is_rounded_up_to_moq_and_whole_packs():
    assert pol.round_order_quantity([63.2], [1], [12])[0] == 72
    assert pol.round_order_quantity([63.2], [100], [12])[0] == 108  # MOQ 100 is 8.33 packs -> 9 packs
    assert pol.round_order_quantity([5], [1], [1])[0] == 5
    assert pol.round_order_quantity([0], [10], [5])[0] == 0  # no demand, no order


def test_order_quantity_is_eoq_capped_at_the_cover_limit():
    # EOQ for D = 365/yr, K = 20, h = 0.25, c = 4: sqrt(2*365*20/1) = 120.8 -> 121 units.
    quantity, eoq = pol.order_quantity([1.0], [20], [4], 0.25, [1], [1], max_cover_days=None)
    assert eoq[0] == pytest.approx(120.83, abs=0.01) and quantity[0] == 121
    capped, _ = pol.order_quantity([1.0], [20], [4], 0.25, [1], [1], max_cover_days=30)
    assert capped[0] == 30


def test_intermittent_item_reorder_point_is_the_poisson_quantile():
    # Mean 0.5 units over the protection interval, variance equal to the mean: P(X <= 1) = 0.910 < 0.95
    # <= P(X <= 2) = 0.986, so s = 2.
    p = [math.exp(-0.5) * 0.5 ** k / math.factorial(k) for k in range(4)]
    assert sum(p[:2]) < 0.95 <= sum(p[:3])
    reorder_point, safety_stock, method = pol.reorder_points([0.5], [math.sqrt(0.5)], 0.95, ["intermittent"])
    assert method[0] == pol.POISSON
    assert reorder_point[0] == 2
    assert safety_stock[0] == pytest.approx(1.5)


def test_lumpy_item_uses_the_negative_binomial_fitted_by_moments():
    mean, sd = 2.0, 2.0  # variance 4 > mean 2
    n, p = mean ** 2 / (sd ** 2 - mean), mean / sd ** 2
    expected = stats.nbinom.ppf(0.95, n, p)
    reorder_point, _, method = pol.reorder_points([mean], [sd], 0.95, ["lumpy"])
    assert method[0] == pol.NEGATIVE_BINOMIAL and reorder_point[0] == expected
    # A lumpy item needs more stock than a Poisson one with the same mean.
    assert expected > stats.poisson.ppf(0.95, mean)


def test_smooth_fast_mover_uses_the_normal_formula_and_no_demand_orders_nothing():
    reorder_point, safety_stock, method = pol.reorder_points([40, 0], [10, 0], 0.95, ["smooth", "none"])
    assert list(method) == [pol.NORMAL, pol.NO_DEMAND]
    assert safety_stock[0] == pytest.approx(1.6449 * 10, abs=0.01) and reorder_point[0] == 57
    assert reorder_point[1] == 0


def test_expected_shortage_uses_the_normal_loss_function():
    # G(1.645) = φ(1.645) − 1.645·(1 − Φ(1.645)) ≈ 0.0209 (Silver, Pyke & Peterson table B.1).
    assert pol.normal_loss(1.645) == pytest.approx(0.0209, abs=0.0002)
    assert pol.expected_shortage([100], [20], [100 + 1.645 * 20], [pol.NORMAL])[0] == pytest.approx(20 * 0.0209, abs=0.005)


def test_expected_shortage_of_a_poisson_item_is_exact():
    # E[(X − 1)+] for X ~ Poisson(0.5) = E[X] − 1 + P(X = 0) = 0.5 − 1 + e^-0.5.
    expected = 0.5 - 1 + math.exp(-0.5)
    assert pol.expected_shortage([0.5], [math.sqrt(0.5)], [1], [pol.POISSON])[0] == pytest.approx(expected, abs=1e-9)


def test_days_until_stockout_counts_deliveries_that_arrive_in_time():
    # 2 on hand at 1 a day: out after 2 days; 5 arriving in 1 day push that to 7; 5 arriving in 5 days come too late.
    days = pol.days_until_stockout([2, 2, 2, 0], [1, 1, 1, 0], [[1], [5], [], []], [[5], [5], [], []])
    assert list(days[:3]) == [7, 2, 2]
    assert np.isinf(days[3])  # no demand: never runs out


def test_stock_status_classes():
    status = pol.stock_status(
        available=[0, 1, 3, 30, 5, 4],
        reorder_point=[2, 2, 2, 4, 0, 4],
        max_level=[10, 10, 10, 10, 0, 12],
        days_to_stockout=[0, 1, 30, 300, np.inf, 40],
        lead_time_days=[3, 3, 3, 3, 3, 3],
        daily_mean=[0.5, 1, 0.1, 0.1, 0, 0.1],
    )
    assert list(status) == [pol.OUT, pol.CRITICAL, pol.OK, pol.OVER, pol.OVER, pol.LOW]


def _candidate(price, on_time, lead, lead_sd, defects=0.0, daily=0.5):
    return pol.sourcing_costs([daily], [0.8], ["intermittent"], [0.95], [price], [defects], [15], [lead], [lead_sd], [1], [1],
                              pol.CostRates(), on_time_rate=[on_time])


def test_supplier_choice_pays_for_lateness_and_lead_time_spread():
    reliable = _candidate(price=20.0, on_time=0.92, lead=3, lead_sd=0.3)
    cheap_but_late = _candidate(price=18.6, on_time=0.02, lead=8.5, lead_sd=4.0)  # 7 % cheaper, nearly always late
    assert cheap_but_late["landed_cost_per_unit"][0] < reliable["landed_cost_per_unit"][0]
    assert cheap_but_late["risk_cost_per_unit"][0] > reliable["risk_cost_per_unit"][0]
    assert reliable["annual_cost"][0] < cheap_but_late["annual_cost"][0]
    # Equally reliable suppliers: the cheaper one wins.
    assert _candidate(19.0, 0.92, 3, 0.3)["annual_cost"][0] < reliable["annual_cost"][0]


def test_total_relevant_cost_adds_up_its_parts():
    costs = _candidate(price=20.0, on_time=0.9, lead=3, lead_sd=0.3, defects=0.02)
    parts = sum(costs[k][0] for k in ("annual_purchase", "annual_ordering", "annual_holding", "annual_stockout", "annual_lateness"))
    assert costs["annual_cost"][0] == pytest.approx(parts)
    assert costs["annual_purchase"][0] == pytest.approx(0.5 * 365 * 20 / 0.98)
    assert costs["annual_lateness"][0] == pytest.approx(0.5 * 0.1 * 20 * 0.5 * 365)


def test_discrete_reorder_point_uses_the_larger_of_the_poisson_and_the_forecast_error_variance():
    # Mean 0.5 over the protection interval. A forecast error SD of 0.1 (variance 0.01) is smaller than the
    # Poisson variance 0.5, which is kept: s = 2 as in the textbook Poisson case, not the 1 a variance of 0.01
    # would give.
    small, _, method = pol.reorder_points([0.5], [0.1], 0.95, ["intermittent"])
    assert method[0] == pol.POISSON and small[0] == 2 == stats.poisson.ppf(0.95, 0.5)
    # An error SD of 2 (variance 4 > 0.5) is larger: the negative binomial with mean 0.5 and variance 4, whose
    # 95 % quantile lies above the Poisson one.
    large, _, method = pol.reorder_points([0.5], [2.0], 0.95, ["intermittent"])
    n, p = 0.5 ** 2 / (4 - 0.5), 0.5 / 4
    assert method[0] == pol.NEGATIVE_BINOMIAL and large[0] == stats.nbinom.ppf(0.95, n, p) > small[0]
    # Monotone in the error: a larger spread never lowers the reorder point.
    points = [pol.reorder_points([3.0], [sd], 0.95, ["intermittent"])[0][0] for sd in (0.5, 1.0, 1.7, 2.5, 4.0)]
    assert points == sorted(points) and points[0] == stats.poisson.ppf(0.95, 3.0)
