"""The trained models find what the demo generator planted (session data: small scale, 2 stores, 2 years).

Tolerances are what this scale supports honestly (see docs/predictive.md, "Recovering the planted
truth"): the demo scale (5 stores, 3 years) recovers every BG/NBD parameter within 5 %.
"""
from datetime import date

import numpy as np
import pandas as pd
import pytest

from predictive import selectors, training
from predictive.models import TrainedModel
from predictive.tests.reference import overpaid_against_qualified, qualified_suppliers_from_orders

pytestmark = pytest.mark.django_db


def current(kind, scope="all"):
    return TrainedModel.objects.get(kind=kind, scope=scope, is_current=True)


def yearly_ratio(yearly_by_day, window, after):
    """Mean of the fitted yearly multiplier over `window` divided by its mean over `after` (month, day pairs)."""
    values = np.asarray(yearly_by_day)

    def mean(span):
        (m1, d1), (m2, d2) = span
        start = pd.Timestamp(2023, m1, d1).dayofyear - 1
        end = pd.Timestamp(2023, m2, d2).dayofyear
        return values[start:end].mean()

    return mean(window) / mean(after)


def test_demand_forecast_recovers_the_planted_weekly_pattern(trained_models, demo):
    """Each weekday's multiplier within four standard errors of the planted one (and at least 0.06). It rests on
    that weekday's tickets, n of them, so its relative error is about 1/√n: 0.035 for one store's ~800 Monday
    tickets of two years. A fixed 0.06 failed on some end dates (store MAN1's Monday 1.199 against 1.10 on the
    data ending 2027-10-31: 2.6 standard errors; LON1's Thursday 1.091 against 1.00 on 2027-12-31: 3.2, with
    21 comparisons a date); a flat week still fails (Saturday 1.35, Sunday 0.50)."""
    from django.conf import settings

    from workflow.models import RepairTicket

    planted = demo.truth["intake"]["weekly_multipliers"]
    tickets = pd.DataFrame(RepairTicket.objects.values_list("store__code", "received_at"), columns=["store", "at"])
    tickets["weekday"] = pd.to_datetime(tickets["at"], utc=True).dt.tz_convert(settings.TIME_ZONE).dt.strftime("%a")
    codes = list(demo.truth["intake"]["new_customers_per_day_at_start"])
    for scope, rows in [("all", tickets)] + [(f"store={code}", tickets[tickets.store == code]) for code in codes]:
        weekly = current(training.REPAIR_DEMAND, scope).output["components"]["weekly"]
        counts = rows.weekday.value_counts()
        for day, multiplier in planted.items():
            tolerance = max(0.06, 4 * multiplier / np.sqrt(counts[day]))
            assert weekly[day] == pytest.approx(multiplier, abs=tolerance), (scope, day, int(counts[day]))


def planted_wave(wave, day_of_year):
    return 1 + wave["amplitude"] * np.cos(2 * np.pi * (np.asarray(day_of_year) - wave["peak_day_of_year"]) / 365.25)


def test_demand_forecast_recovers_the_january_and_september_surges(trained_models, demo):
    """The tolerances are what two years of small-scale data support on any end date: the ratio of a three-week
    mean of the fitted yearly term to the next three weeks' varies by about 0.065 (standard deviation) from one
    end date to another (about 800 tickets per window, ~3.5 % Poisson error each; and the customer base's growth,
    ×3.5 over the two years, is shared between trend and yearly term differently as the start moves)."""
    surges = {s["name"]: s for s in demo.truth["intake"]["surges"]}
    wave = demo.truth["intake"]["yearly"]
    yearly = current(training.REPAIR_DEMAND).output["components"]["yearly_by_day"]
    days = pd.date_range("2023-01-01", "2023-12-31").dayofyear
    for name, window, after, clearly in (("January", ((1, 2), (1, 21)), ((1, 22), (2, 11)), 1.15),
                                         ("September", ((9, 1), (9, 21)), ((9, 22), (10, 12)), 1.12)):
        fitted = yearly_ratio(yearly, window, after)
        # Planted: ×1.4 and ×1.3 for three weeks, on the summer wave (which falls from September to October).
        planted = surges[name]["factor"] * yearly_ratio(planted_wave(wave, days), window, after)
        # Fourier smoothing of the yearly term spreads a three-week step a little, so the fitted ratio is somewhat
        # below the planted one, but clearly a surge (no surge: about 1); never far above it.
        assert clearly < fitted <= planted + 0.15, (name, fitted, planted)


def test_demand_forecast_recovers_the_planted_summer_wave(trained_models, demo):
    """Outside the surges and Christmas the fitted yearly term follows the planted wave
    1 + A cos(2π(doy − peak)/365.25): least squares of a yearly cosine on it gives A within 0.06 and the peak
    within five weeks. Over a dozen end dates of a year A ranged 0.058-0.129 and the peak 175-213 (planted: 0.10
    and 196); no wave gives A ≈ 0. The ratios of three-week windows to high summer, checked before, moved by up
    to ±0.12 from one end date to another (0.06 was one data set's error)."""
    wave = demo.truth["intake"]["yearly"]
    yearly = np.asarray(current(training.REPAIR_DEMAND).output["components"]["yearly_by_day"])[:365]
    days = pd.date_range("2023-01-01", "2023-12-31")
    doy = days.dayofyear.to_numpy()
    outside = ~((days.month == 1) | ((days.month == 12) & (days.day >= 15)) | ((days.month == 8) & (days.day >= 25))
                | (days.month == 9))
    angle = 2 * np.pi * doy[outside] / 365.25
    design = np.column_stack([np.ones(outside.sum()), np.cos(angle), np.sin(angle)])
    level, a, b = np.linalg.lstsq(design, yearly[outside], rcond=None)[0]
    amplitude, peak_day = np.hypot(a, b) / level, (np.arctan2(b, a) * 365.25 / (2 * np.pi)) % 365.25
    assert amplitude == pytest.approx(wave["amplitude"], abs=0.06)
    assert abs(peak_day - wave["peak_day_of_year"]) < 35  # mid-July, within five weeks


def test_demand_forecast_has_bank_holiday_and_closure_effects(trained_models, demo):
    holidays = current(training.REPAIR_DEMAND).output["components"]["holidays"]
    assert holidays["Christmas Day"] < -0.7  # closed (planted: no intake)
    # Other bank holidays: short hours, planted factor 0.35 (an effect of −0.65). Each is seen twice in two years,
    # on days of a handful of tickets (Easter Monday: 4 and 6 on the data ending 2027-10-31, fitted −1.00), so one
    # holiday's effect moves by ±0.3 from one end date to another; the mean of the five is the planted truth.
    short_hours = ["Good Friday", "Easter Monday", "May Day", "Spring Bank Holiday", "Late Summer Bank Holiday"]
    found = [holidays[name] for name in short_hours if name in holidays]
    assert len(found) >= 4, sorted(holidays)
    assert np.mean(found) == pytest.approx(demo.truth["intake"]["bank_holiday_factor"] - 1, abs=0.2)


def test_prophet_beats_seasonal_naive_on_mase_for_every_intake_series(trained_models):
    models = TrainedModel.objects.filter(kind=training.REPAIR_DEMAND, is_current=True)
    assert models.count() >= 3
    for model in models:
        metrics = model.metrics
        assert metrics["served"] == "prophet", model.scope
        assert metrics["mase_prophet"] < metrics["mase_seasonal_naive"], model.scope
        assert metrics["prophet"]["mae"] < metrics["seasonal_naive"]["mae"], model.scope
        # The served 80 % / 95 % intervals cover roughly their nominal share of the backtest days.
        assert 0.65 <= metrics["coverage_80"] <= 0.95, model.scope
        assert 0.85 <= metrics["coverage_95"] <= 1.0, model.scope


def test_bgnbd_fit_recovers_the_planted_customer_process(trained_models, demo):
    planted = demo.truth["customers"]
    fitted = current(training.CUSTOMER_BEHAVIOR).output["bgnbd"]
    assert planted["time_unit"] == "weeks"
    assert fitted["r"] == pytest.approx(planted["r"], rel=0.10)
    assert fitted["alpha"] == pytest.approx(planted["alpha"], rel=0.10)
    assert fitted["r"] / fitted["alpha"] == pytest.approx(planted["mean_visit_rate_per_week"], rel=0.08)
    assert fitted["a"] / (fitted["a"] + fitted["b"]) == pytest.approx(planted["mean_dropout_probability"], rel=0.12)
    # a and b lie on a likelihood ridge; with 5,000 customers over 2 years each is within 35 %.
    assert fitted["a"] == pytest.approx(planted["a"], rel=0.35)
    assert fitted["b"] == pytest.approx(planted["b"], rel=0.35)


def test_customer_data_leaves_out_warranty_comebacks(trained_models):
    from workflow.models import RepairTicket

    model = current(training.CUSTOMER_BEHAVIOR)
    arrays = selectors.customer_arrays(model)
    purchases = RepairTicket.objects.filter(warranty_of__isnull=True, customer__isnull=False, received_at__date__lte=model.data_end)
    assert arrays["visits"].sum() == purchases.count()
    assert len(arrays["customer_id"]) == purchases.values("customer_id").distinct().count()


def test_cost_analysis_finds_the_planted_high_variance_repair_type(trained_models, demo):
    planted = demo.truth["high_variance_repair_type"]["code"]
    analysis = current(training.REPAIR_COST).output["windows"]["12"]
    variability = analysis["labour_variability"]
    assert variability[0]["repair_type"] == planted
    assert [row["repair_type"] for row in variability if row["high_variance"]] == [planted]
    kinds = {(o["kind"], o.get("repair_type")) for o in analysis["opportunities"]}
    assert ("labour_time_variability", planted) in kinds


def test_the_planted_late_supplier_is_never_suggested_as_the_cheaper_alternative(trained_models, demo):
    from django.conf import settings

    from inventory.models import PurchaseOrderLine, SupplierPrice

    late = demo.truth["late_supplier"]["code"]
    model = current(training.REPAIR_COST)
    qualification = {row["supplier"]: row for row in model.output["supplier_qualification"]["suppliers"]}
    assert qualification[late]["on_time_rate"] < 0.1 and not qualification[late]["qualified"]
    assert late not in qualified_suppliers_from_orders(model.data_end)
    # Every supplier that delivers normally stays qualified (the planted late one is the only one dropped).
    assert {code for code, row in qualification.items() if not row["qualified"]} == {late}
    for months, analysis in model.output["windows"].items():
        purchasing = [o for o in analysis["opportunities"] if o["kind"] == "parts_above_cheapest_supplier"]
        assert purchasing, months
        for item in purchasing:
            suggested = {c["supplier"] for c in item["evidence"]["cheapest_suppliers"]}
            assert late not in suggested, (months, item["store"], item["supplier"])
            assert all(c["on_time_rate"] >= settings.PREDICTIVE_QUALIFIED_MIN_ON_TIME for c in item["evidence"]["cheapest_suppliers"])
    # Without the delivery record the late supplier would be the cheaper alternative: it has the lowest list
    # price for most of the parts the planted store bought at a premium.
    planted = demo.truth["overpriced_purchasing"]
    cheapest = {}
    for part, code, price in SupplierPrice.objects.filter(supplier__is_active=True).values_list("part_id", "supplier__code", "unit_price"):
        if part not in cheapest or price < cheapest[part][0]:
            cheapest[part] = (price, code)
    bought = PurchaseOrderLine.objects.filter(po__store__code=planted["store"], po__supplier__code=planted["supplier"]).values_list(
        "part_id", flat=True)
    assert sum(cheapest[p][1] == late for p in bought) > 0.5 * len(bought)


def test_cost_analysis_finds_the_overpriced_purchases_of_the_planted_store_and_supplier(trained_models, demo):
    planted = demo.truth["overpriced_purchasing"]
    model = current(training.REPAIR_COST)
    analysis = model.output["windows"]["12"]
    purchasing = [o for o in analysis["opportunities"] if o["kind"] == "parts_above_cheapest_supplier"]
    top = max(purchasing, key=lambda o: o["monthly_saving"])
    assert (top["store"], top["supplier"]) == (planted["store"], planted["supplier"])
    assert not [o for o in purchasing if o["supplier"] == planted["supplier"] and o["store"] != planted["store"]]
    # Independently: what those lines in the window cost above the cheapest offer of a qualified supplier
    # (valid on the order date, the quantity rounded up to the offer's pack size and minimum order).
    overpaid, _ = overpaid_against_qualified(planted["store"], planted["supplier"], date.fromisoformat(analysis["since"]),
                                             date.fromisoformat(analysis["end"]))
    print(f"\nplanted overpurchasing {planted['store']}/{planted['supplier']}: last 12 months overpaid £{overpaid:,.2f} "
          f"against qualified suppliers, £{top['monthly_saving']:,.2f}/month (90 % CI {top['saving_interval_90'][0]:,.0f}–"
          f"{top['saving_interval_90'][1]:,.0f}), mean premium {top['evidence']['mean_premium_pct']} %")
    assert overpaid > 0
    assert top["evidence"]["overpaid_total"] == pytest.approx(overpaid, rel=1e-6, abs=0.01)
    assert top["monthly_saving"] == pytest.approx(overpaid / 12, rel=1e-6)
    low, high = top["saving_interval_90"]
    assert low < top["monthly_saving"] < high
    assert top["evidence"]["mean_premium_pct"] > 20  # the planted premium is 32 %


def test_parts_classifier_puts_the_planted_slow_movers_in_the_intermittent_classes(trained_models, demo):
    from inventory.models import Part

    table = selectors.parts_model_table(current(training.PARTS_DEMAND))
    sku = dict(Part.objects.values_list("id", "sku"))
    table = table.assign(sku=table.part_id.map(sku))
    slow = table[table.sku.isin(demo.truth["slow_moving_parts"]["skus"])]
    with_demand = slow[slow.demand_class != "none"]
    assert len(with_demand) > 20
    assert with_demand.demand_class.isin(["intermittent", "lumpy"]).all()
    assert with_demand.method.isin(["croston_sba", "tsb", "adida"]).all()
    dead = table[table.sku.isin(demo.truth["dead_stock"]["skus"])]
    assert len(dead) and (dead.demand_class == "none").all() and (dead.rate == 0).all()
