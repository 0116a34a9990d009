"""Demand classes, intermittent-demand forecasts and demand quantiles on textbook cases (no database)."""
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from predictive.ml import parts as pm


def test_adi_and_cv2_follow_syntetos_boylan_definitions():
    # 10 periods, 3 with demand (3, 5, 4): ADI = 10/3; sizes' CV² = (std/mean)² = (0.8165/4)².
    adi, cv2 = pm.demand_profile([0, 0, 3, 0, 0, 0, 5, 0, 4, 0])
    assert adi == pytest.approx(10 / 3)
    assert cv2 == pytest.approx((np.std([3, 5, 4]) / 4) ** 2)
    assert pm.demand_profile([0, 0, 0]) == (float("inf"), 0.0)


@pytest.mark.parametrize("adi, cv2, expected", [
    (1.0, 0.2, "smooth"), (1.0, 0.8, "erratic"), (2.0, 0.2, "intermittent"), (2.0, 0.8, "lumpy"),
    (1.32, 0.2, "intermittent"), (1.31, 0.49, "erratic"), (float("inf"), 0.0, "none"),
])
def test_classes_use_the_132_and_049_cut_offs(adi, cv2, expected):
    assert pm.classify_demand(adi, cv2) == expected


def test_each_series_gets_a_method_of_its_class_and_a_rate_near_its_true_mean():
    rng = np.random.default_rng(0)
    weeks = pd.date_range("2023-01-02", periods=156, freq="W-MON")
    smooth = rng.poisson(12, 156).astype(float)
    intermittent = (rng.random(156) < 0.15) * 1.0  # one unit in 15 % of weeks
    lumpy = (rng.random(156) < 0.2) * rng.choice([1, 1, 2, 10], 156)
    frame = pd.concat([pd.DataFrame({"unique_id": uid, "ds": weeks, "y": y})
                       for uid, y in (("smooth", smooth), ("intermittent", intermittent), ("lumpy", lumpy))])
    result = pm.forecast_parts_demand(frame).set_index("unique_id")
    assert result.at["smooth", "demand_class"] == "smooth"
    assert result.at["smooth", "method"] in ("ets", "ses")
    assert result.at["smooth", "rate"] == pytest.approx(12, rel=0.15)
    assert result.at["intermittent", "demand_class"] == "intermittent"
    assert result.at["intermittent", "method"] in ("croston_sba", "tsb", "adida")
    assert result.at["intermittent", "rate"] == pytest.approx(0.15, abs=0.08)
    assert result.at["lumpy", "demand_class"] == "lumpy"
    # The chosen method's backtest error is the lowest of its candidates.
    candidates = result.at["intermittent", "candidates"]
    assert result.at["intermittent", "error_sd"] == pytest.approx(min(candidates.values()), abs=1e-3)
    # Croston-type forecasts beat the naive forecast's squared error on intermittent demand.
    assert result.at["intermittent", "rmsse"] < result.at["intermittent", "naive_rmsse"]


def test_demand_quantiles_are_poisson_without_overdispersion_and_match_moments_otherwise():
    q = [0.5, 0.9, 0.99]
    np.testing.assert_array_equal(pm.demand_quantiles([3.0], [3.0], q)[0], stats.poisson.ppf(q, 3.0))
    mean, var = 4.0, 12.0
    n, p = mean ** 2 / (var - mean), mean / var
    assert stats.nbinom.mean(n, p) == pytest.approx(mean)
    assert stats.nbinom.var(n, p) == pytest.approx(var)
    np.testing.assert_array_equal(pm.demand_quantiles([mean], [var], q)[0], stats.nbinom.ppf(q, n, p))
    assert pm.demand_quantiles([0.0], [0.0], q).sum() == 0


def test_lead_time_demand_scales_mean_and_variance_with_the_lead_time():
    result = pm.lead_time_demand(rate_per_day=0.5, error_sd_per_day=1.0, lead_time_days=4, quantiles=(0.5, 0.95))
    assert result["mean"] == pytest.approx(2.0)
    assert result["sd"] == pytest.approx(2.0)
    n, p = 2.0 ** 2 / (4.0 - 2.0), 2.0 / 4.0
    assert result["quantiles"]["0.95"] == stats.nbinom.ppf(0.95, n, p)
