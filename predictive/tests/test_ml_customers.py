"""BG/NBD, Gamma-Gamma, lifetime value and RFM on textbook cases with known answers (no database)."""
import math

import numpy as np
import pytest

from predictive.ml import customers as cm

# Fader, Hardie & Lee (2005) estimates on the CDNOW data set, and the values of Hardie's BG/NBD
# spreadsheet for them (the reference every BG/NBD implementation is checked against).
CDNOW = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}


def simulate_bgnbd(n, r, alpha, a, b, T, rng):
    """Customers of a BG/NBD process observed for T weeks each: returns (x, t_x)."""
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = rng.beta(a, b, n)
    x = np.zeros(n)
    t_x = np.zeros(n)
    for i in range(n):
        t = 0.0
        while True:
            t += rng.exponential(1.0 / lam[i])
            if t > T[i]:
                break
            x[i] += 1
            t_x[i] = t
            if rng.random() < p[i]:
                break
    return x, t_x


def test_bgnbd_log_likelihood_matches_a_hand_computation():
    # r=1, α=2, a=1, b=2: every Gamma and Beta function reduces to a fraction.
    # x=0, T=10:            L = α/(α+T) = 2/12
    # x=2, t_x=6, T=10:     L = [B(1,4)/B(1,2)]·Γ(3)α/(α+T)^3 + [B(2,3)/B(1,2)]·Γ(3)α/(α+t_x)^3
    #                         = (1/2)·4/1728 + (1/6)·4/512
    # x=1, t_x=3, T=8:      L = [B(1,3)/B(1,2)]·2/10^2 + [B(2,2)/B(1,2)]·2/5^2 = (2/3)(0.02) + (1/3)(0.08)
    expected = [math.log(2 / 12), math.log(0.5 * 4 / 1728 + (1 / 6) * 4 / 512), math.log((2 / 3) * 0.02 + (1 / 3) * 0.08)]
    actual = cm.bgnbd_log_likelihood((1.0, 2.0, 1.0, 2.0), [0, 2, 1], [0, 6, 3], [10, 10, 8])
    np.testing.assert_allclose(actual, expected, rtol=1e-12)


def test_conditional_expected_visits_match_hardies_spreadsheet_for_cdnow():
    # The CDNOW customer with x=2, t_x=30.43, T=38.86 is expected to buy 1.226 times in the next 39 weeks.
    value = cm.bgnbd_expected_visits(CDNOW, 39, np.array([2.0]), np.array([30.43]), np.array([38.86]))[0]
    assert value == pytest.approx(1.226, abs=0.002)


def test_expected_visits_of_a_new_customer_match_hardies_spreadsheet_for_cdnow():
    times = np.array([0.1429, 1.0, 3.0, 31.8571, 32.0, 78.0])
    expected = np.array([0.0078, 0.0532, 0.1506, 1.0405, 1.0437, 1.8576])
    # The published parameters are rounded to three decimals, hence a relative tolerance of 0.3 %.
    np.testing.assert_allclose(cm.bgnbd_expected_visits_new_customer(CDNOW, times), expected, rtol=0.003, atol=0.0002)


def test_expected_visits_of_a_new_customer_match_a_simulation():
    rng = np.random.default_rng(3)
    params = {"r": 0.75, "alpha": 13.0, "a": 0.85, "b": 2.6}
    n, weeks = 40000, 52.0
    x, _ = simulate_bgnbd(n, *params.values(), T=np.full(n, weeks), rng=rng)
    simulated = x.mean()
    assert cm.bgnbd_expected_visits_new_customer(params, weeks) == pytest.approx(simulated, abs=4 * x.std() / np.sqrt(n))


def test_probability_alive_is_one_without_repeat_visits_and_falls_the_longer_a_customer_is_away():
    x = np.array([0.0, 3.0, 3.0, 3.0])
    t_x = np.array([0.0, 20.0, 20.0, 20.0])
    T = np.array([30.0, 21.0, 40.0, 80.0])
    p = cm.bgnbd_probability_alive(CDNOW, x, t_x, T)
    assert p[0] == 1.0
    assert 1.0 > p[1] > p[2] > p[3] > 0.0


def test_probability_alive_matches_the_closed_form():
    # P(alive) = 1 / (1 + a/(b+x−1) · ((α+T)/(α+t_x))^(r+x))
    r, alpha, a, b = CDNOW.values()
    x, t_x, T = 2.0, 30.43, 38.86
    expected = 1 / (1 + a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x))
    assert cm.bgnbd_probability_alive(CDNOW, [x], [t_x], [T])[0] == pytest.approx(expected, rel=1e-12)


def test_bgnbd_maximum_likelihood_recovers_the_parameters_of_simulated_customers():
    rng = np.random.default_rng(11)
    truth = {"r": 0.75, "alpha": 13.0, "a": 0.85, "b": 2.6}
    n = 8000
    T = rng.uniform(20, 150, n)  # customers joined at different times, as in a shop
    x, t_x = simulate_bgnbd(n, *truth.values(), T=T, rng=rng)
    params, info = cm.fit_bgnbd(x, t_x, T)
    assert info["converged"]
    assert params.r == pytest.approx(truth["r"], rel=0.12)
    assert params.alpha == pytest.approx(truth["alpha"], rel=0.12)
    # a and b are tied along a ridge of the likelihood; their ratio (mean dropout) is well identified.
    assert params.a / (params.a + params.b) == pytest.approx(truth["a"] / (truth["a"] + truth["b"]), rel=0.15)
    assert params.a == pytest.approx(truth["a"], rel=0.35)
    assert params.b == pytest.approx(truth["b"], rel=0.35)
    # The fitted likelihood is at least as high as the truth's (it is the maximum).
    assert info["log_likelihood"] >= cm.bgnbd_log_likelihood(tuple(truth.values()), x, t_x, T).sum() - 1e-6


def test_bgnbd_rejects_impossible_recency():
    with pytest.raises(ValueError):
        cm.fit_bgnbd([1, 0], [5, 0], [4, 10])


def test_gamma_gamma_likelihood_matches_a_numerical_integral_over_the_customer_spend_rate():
    # f(m̄|x) integrates ν ~ Gamma(q, rate v) over the mean of x Gamma(p, rate ν) spends: x·m̄ ~ Gamma(px, ν).
    from scipy import integrate, stats

    p, q, v, x, m = 6.25, 3.74, 15.44, 3.0, 40.0
    density_of_sum = lambda nu: stats.gamma.pdf(x * m, p * x, scale=1 / nu) * x * stats.gamma.pdf(nu, q, scale=1 / v)  # noqa: E731
    expected, _ = integrate.quad(density_of_sum, 0, np.inf, limit=200)
    assert math.exp(cm.gamma_gamma_log_likelihood((p, q, v), [x], [m])[0]) == pytest.approx(expected, rel=1e-6)


def test_gamma_gamma_fit_recovers_simulated_spend_parameters_and_shrinks_towards_the_mean():
    rng = np.random.default_rng(5)
    p, q, v = 6.25, 3.74, 15.44  # Fader & Hardie's CDNOW spend estimates
    n = 6000
    x = rng.integers(1, 8, n).astype(float)
    nu = rng.gamma(q, 1 / v, n)
    m = np.array([rng.gamma(p, 1 / nu[i], int(x[i])).mean() for i in range(n)])
    params, info = cm.fit_gamma_gamma(x, m)
    assert params.p == pytest.approx(p, rel=0.15)
    assert params.q == pytest.approx(q, rel=0.15)
    assert params.v == pytest.approx(v, rel=0.25)
    # E[M | x, m̄] lies between the population mean and the customer's own mean, nearer to the latter with more visits.
    population = params.population_mean_spend
    few, many = cm.gamma_gamma_expected_spend(params, [1, 20], [100.0, 100.0])
    assert population < few < many < 100.0


def test_lifetime_value_with_no_discount_is_expected_visits_times_expected_spend():
    gg = cm.GammaGammaParams(6.25, 3.74, 15.44)
    x, t_x, T, m = np.array([2.0, 0.0]), np.array([30.43, 0.0]), np.array([38.86, 20.0]), np.array([50.0, 0.0])
    value = cm.customer_lifetime_value(CDNOW, gg, x, t_x, T, m, horizon_weeks=39, annual_discount_rate=0.0)
    expected = cm.bgnbd_expected_visits(CDNOW, 39, x, t_x, T) * cm.gamma_gamma_expected_spend(gg, x, m)
    np.testing.assert_allclose(value, expected, rtol=1e-9)
    discounted = cm.customer_lifetime_value(CDNOW, gg, x, t_x, T, m, horizon_weeks=39, annual_discount_rate=0.2)
    assert np.all(discounted < value)


def test_rfm_scores_rank_customers_into_quintiles_with_ties_sharing_a_score():
    r, f, m = cm.rfm_scores(recency_days=[1, 10, 100, 200, 400], visits=[1, 1, 1, 1, 9], total_spend=[10, 20, 30, 40, 50])
    assert list(r) == [5, 4, 3, 2, 1]
    assert list(m) == [1, 2, 3, 4, 5]
    assert len(set(f[:4])) == 1 and f[4] == 5
    assert list(cm.rfm_segments([5, 1], [5, 4], [5, 5])) == ["champions", "at_risk"]


def simulate_visit_times(n, r, alpha, a, b, horizon, rng):
    """Repeat-visit times (weeks after the first visit) of BG/NBD customers, up to `horizon` each."""
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = rng.beta(a, b, n)
    times = []
    for i in range(n):
        t, own = 0.0, []
        while True:
            t += rng.exponential(1.0 / lam[i])
            if t > horizon[i]:
                break
            own.append(t)
            if rng.random() < p[i]:
                break
        times.append(own)
    return times


def test_holdout_calibration_of_a_model_fitted_on_the_calibration_period_predicts_the_holdout_visits():
    rng = np.random.default_rng(2)
    truth = {"r": 0.75, "alpha": 13.0, "a": 0.85, "b": 2.6}
    n, holdout = 8000, 26.0
    T_cal = rng.uniform(20, 100, n)
    times = simulate_visit_times(n, *truth.values(), horizon=T_cal + holdout, rng=rng)
    x = np.array([sum(t <= T_cal[i] for t in own) for i, own in enumerate(times)], float)
    t_x = np.array([max([t for t in own if t <= T_cal[i]], default=0.0) for i, own in enumerate(times)])
    actual = np.array([sum(t > T_cal[i] for t in own) for i, own in enumerate(times)], float)
    params, _ = cm.fit_bgnbd(x, t_x, T_cal)
    check = cm.holdout_calibration(params, x, t_x, T_cal, holdout, actual)
    assert check["customers"] == n
    assert check["actual_visits"] == actual.sum()
    assert abs(check["total_error_pct"]) < 6
    # Customers who came back more in the calibration period come back more in the holdout, as predicted.
    rows = check["by_calibration_frequency"]
    assert rows[0]["predicted_mean"] < rows[3]["predicted_mean"] < rows[-1]["predicted_mean"]
    assert rows[-1]["actual_mean"] == pytest.approx(rows[-1]["predicted_mean"], rel=0.25)


def _a_equals_one_series(r, b, z, terms=20000):
    """lim_{a→1} (a+b−1)/(a−1)·[1 − (1−z)^r ₂F₁(r, b; a+b−1; z)] = b(1−z)^r Σ_{n≥1} (r)_n zⁿ/n! Σ_{k<n} 1/(b+k),
    from d/dc ₂F₁(r, b; c; z) at c = b (term by term: d/dc 1/(c)_n = −(1/(c)_n) Σ_{k<n} 1/(c+k))."""
    total, term, harmonic = 0.0, 1.0, 0.0
    for n in range(1, terms):
        term *= (r + n - 1) / n * z
        harmonic += 1.0 / (b + n - 1)
        total += term * harmonic
    return b * (1 - z) ** r * total


def test_expected_visits_take_their_limit_when_a_is_exactly_one():
    r, alpha, b, t = 0.24, 4.4, 2.4, 39.0
    new = cm.bgnbd_expected_visits_new_customer((r, alpha, 1.0, b), t)
    assert np.isfinite(new)
    assert new == pytest.approx(_a_equals_one_series(r, b, t / (alpha + t)), rel=1e-7)
    x, t_x, T = 2.0, 30.0, 38.0
    z = t / (alpha + T + t)
    # E[Y(t)|x, t_x, T] at a = 1: the same limit with r+x and b+x, over 1 + 1/(b+x−1)·((α+T)/(α+t_x))^(r+x).
    expected = _a_equals_one_series(r + x, b + x, z) / (1 + 1 / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x))
    conditional = cm.bgnbd_expected_visits((r, alpha, 1.0, b), t, np.array([x, 0.0]), np.array([t_x, 0.0]), np.array([T, T]))
    assert np.isfinite(conditional).all()
    assert conditional[0] == pytest.approx(expected, rel=1e-7)
    # Continuous in a: just either side of 1 the ordinary formula gives the same values.
    assert conditional[1] == pytest.approx(cm.bgnbd_expected_visits((r, alpha, 1.001, b), t, [0.0], [0.0], [T])[0], rel=1e-3)
