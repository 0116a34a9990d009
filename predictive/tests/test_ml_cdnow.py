"""BG/NBD and Gamma-Gamma fitted by maximum likelihood on the public CDNOW summary data (no database),
against the published estimates. Data: predictive/tests/data/README.md (from `lifetimes`, MIT)."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from predictive.ml import customers as cm

DATA = Path(__file__).parent / "data"


def test_bgnbd_fit_on_cdnow_matches_the_published_estimates():
    # Fader, Hardie & Lee (2005), "Counting Your Customers the Easy Way", §4: r = 0.243, α = 4.414,
    # a = 0.793, b = 2.426, log-likelihood −9582.4 on 2,357 customers observed for 39 weeks.
    data = pd.read_csv(DATA / "cdnow_customers_summary.csv")
    assert len(data) == 2357
    params, info = cm.fit_bgnbd(data.frequency, data.recency, data["T"])
    print(f"\nCDNOW BG/NBD: r={params.r:.4f} alpha={params.alpha:.4f} a={params.a:.4f} b={params.b:.4f} "
          f"LL={info['log_likelihood']:.2f} SE={np.round(info['standard_errors'], 4).tolist()}")
    assert info["converged"] and info["customers"] == 2357
    assert params.r == pytest.approx(0.243, abs=0.0005)
    assert params.alpha == pytest.approx(4.414, abs=0.0005)
    assert params.a == pytest.approx(0.793, abs=0.0005)
    assert params.b == pytest.approx(2.426, abs=0.0005)
    assert info["log_likelihood"] == pytest.approx(-9582.4, abs=0.05)


def test_gamma_gamma_fit_on_the_cdnow_spend_data_matches_the_published_estimates():
    # Fader & Hardie (2013), "The Gamma-Gamma Model of Monetary Value": p = 6.25, q = 3.74, γ = 15.44 on
    # the 946 CDNOW customers with at least one repeat purchase (mean spend of the repeat purchases).
    data = pd.read_csv(DATA / "cdnow_customers_summary_with_transactions.csv")
    summary = pd.read_csv(DATA / "cdnow_customers_summary.csv")
    assert (data[["x", "t_x", "T"]].to_numpy() == summary[["frequency", "recency", "T"]].to_numpy()).all()
    params, info = cm.fit_gamma_gamma(data.x, data.zbar)
    print(f"\nCDNOW Gamma-Gamma: p={params.p:.4f} q={params.q:.4f} gamma={params.v:.4f} LL={info['log_likelihood']:.2f} "
          f"customers={info['customers']} mean spend={params.population_mean_spend:.2f}")
    assert info["converged"] and info["customers"] == 946
    assert params.p == pytest.approx(6.25, abs=0.005)
    assert params.q == pytest.approx(3.74, abs=0.005)
    assert params.v == pytest.approx(15.44, abs=0.01)
