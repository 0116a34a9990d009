"""The six /api/predictive-analytics/ endpoints: status codes for good and bad input, unknown and
forbidden stores, and contents checked against values computed independently here from the ORM."""
from datetime import date, datetime, time, timedelta

import numpy as np
import pytest
from scipy import special
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from predictive import training
from predictive.models import TrainedModel
from predictive.tests import reference

pytestmark = pytest.mark.django_db
BASE = "/api/predictive-analytics/"

ENDPOINTS = {
    # name: (method, good parameters, {bad field: bad value})
    "repair-demand-forecast": ("post", {"horizon_days": 14}, {"horizon_days": 91}),
    "business-metrics-forecast": ("post", {"granularity": "week", "horizon": 4}, {"granularity": "day"}),
    "customer-behavior-prediction": ("post", {"horizon_days": 60}, {"at_risk_threshold": 1.5}),
    "inventory-demand-prediction": ("post", {"horizon_days": 28, "limit": 5}, {"limit": 0}),
    "cost-optimization": ("post", {"months": 6}, {"months": 5}),
    "model-performance": ("get", {}, {"kind": "weather"}),
}


def call(api, name, data):
    method = ENDPOINTS[name][0]
    if method == "get":
        return api.get(BASE + name, data)
    return api.post(BASE + name, data, format="json")


@pytest.mark.parametrize("name", sorted(ENDPOINTS))
def test_every_endpoint_answers_a_manager_with_the_analytics_envelope(trained_models, api_for, name):
    response = call(api_for("manager"), name, ENDPOINTS[name][1])
    assert response.status_code == 200, response.content[:500]
    body = response.json()
    assert body["generated_at"] and body["data_window"]["end"]
    if name != "model-performance":
        model = body["model"]
        assert model["version"] >= 1 and model["trained_at"] and model["name"]
        assert isinstance(model["backtest"], dict) and model["backtest"]


@pytest.mark.parametrize("name", sorted(ENDPOINTS))
def test_every_endpoint_rejects_a_bad_value_with_a_field_message(trained_models, api_for, name):
    field, value = next(iter(ENDPOINTS[name][2].items()))
    response = call(api_for("manager"), name, {**ENDPOINTS[name][1], field: value})
    assert response.status_code == 400
    assert field in response.json()


@pytest.mark.parametrize("name", sorted(ENDPOINTS))
def test_every_endpoint_answers_404_for_an_unknown_store(trained_models, api_for, name):
    response = call(api_for("manager"), name, {**ENDPOINTS[name][1], "store": "NOPE9"})
    assert response.status_code == 404


@pytest.mark.parametrize("name", sorted(ENDPOINTS))
def test_every_endpoint_answers_403_for_another_stores_data(trained_models, api_for, store_codes, name):
    mine, theirs = store_codes[0], store_codes[1]
    response = call(api_for("manager", stores=[mine]), name, {**ENDPOINTS[name][1], "store": theirs})
    assert response.status_code == 403


@pytest.mark.parametrize("name", sorted(ENDPOINTS))
def test_staff_may_not_see_predictive_analytics(trained_models, api_for, name):
    assert call(api_for("staff"), name, ENDPOINTS[name][1]).status_code == 403


@pytest.mark.parametrize("name", sorted(ENDPOINTS))
def test_stakeholders_may_see_predictive_analytics(trained_models, api_for, name):
    assert call(api_for("stakeholder"), name, ENDPOINTS[name][1]).status_code == 200


def test_anonymous_requests_are_refused_and_post_endpoints_do_not_answer_get(trained_models, api_for, client):
    assert client.post(BASE + "repair-demand-forecast", {}, content_type="application/json").status_code == 401
    assert api_for("manager").get(BASE + "repair-demand-forecast").status_code == 405
    assert api_for("manager").post(BASE + "model-performance", {}, format="json").status_code == 405


# --- contents -------------------------------------------------------------------------------------


def intake_by_day(start, end, **filters):
    from workflow.models import RepairTicket

    rows = (RepairTicket.objects.filter(received_at__date__gte=start, received_at__date__lte=end, **filters)
            .annotate(day=TruncDate("received_at")).values("day").annotate(n=Count("id")))
    return {row["day"].isoformat(): row["n"] for row in rows}


def test_repair_demand_forecast_returns_the_intake_history_and_a_consistent_forecast(trained_models, api_for, store_codes):
    store = store_codes[0]
    response = api_for("manager").post(BASE + "repair-demand-forecast",
                                       {"store": store, "horizon_days": 30, "history_days": 21, "interval": 95}, format="json")
    assert response.status_code == 200
    body = response.json()
    model = TrainedModel.objects.get(kind=training.REPAIR_DEMAND, scope=f"store={store}", is_current=True)
    end = model.data_end
    counts = intake_by_day(end - timedelta(days=20), end, store__code=store)
    assert [h["date"] for h in body["history"]] == [(end - timedelta(days=20 - i)).isoformat() for i in range(21)]
    assert [h["actual"] for h in body["history"]] == [counts.get(h["date"], 0) for h in body["history"]]
    forecast = body["forecast"]
    assert len(forecast) == 30
    assert forecast[0]["date"] == (end + timedelta(days=1)).isoformat()
    assert all(p["lower"] <= p["expected"] <= p["upper"] for p in forecast)
    assert body["expected_total"] == pytest.approx(sum(p["expected"] for p in forecast), abs=0.1)
    assert body["model"]["version"] == model.version
    assert body["model"]["backtest"]["mase"] == pytest.approx(model.metrics["mase"])
    assert body["backtest"]["prophet"]["folds"] == 3
    assert set(body["weekly_pattern"]) == {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}


def test_repair_demand_forecast_for_a_category_counts_only_that_category(trained_models, api_for):
    response = api_for("manager").post(BASE + "repair-demand-forecast", {"device_category": "laptop", "history_days": 14}, format="json")
    body = response.json()
    end = datetime.fromisoformat(body["data_window"]["end"]).date()
    counts = intake_by_day(end - timedelta(days=13), end, device_model__category="laptop")
    assert [h["actual"] for h in body["history"]] == [counts.get(h["date"], 0) for h in body["history"]]
    assert body["model"]["scope"] == "category=laptop"


def test_repair_demand_forecast_fits_an_unseen_combination_once_and_keeps_it(trained_models, api_for, store_codes):
    api = api_for("manager")
    data = {"store": store_codes[1], "device_category": "phone", "repair_type": "phone-battery", "horizon_days": 7}
    first = api.post(BASE + "repair-demand-forecast", data, format="json")
    assert first.status_code == 200, first.content[:300]
    scope = f"store={store_codes[1]}|category=phone|repair_type=phone-battery"
    assert first.json()["model"]["scope"] == scope
    assert TrainedModel.objects.filter(kind=training.REPAIR_DEMAND, scope=scope).count() == 1
    from django.core.cache import cache

    cache.clear()
    second = api.post(BASE + "repair-demand-forecast", data, format="json")
    assert second.json()["model"]["version"] == first.json()["model"]["version"]
    assert TrainedModel.objects.filter(kind=training.REPAIR_DEMAND, scope=scope).count() == 1


def test_a_stale_model_is_served_at_once_flagged_while_its_refit_runs_in_the_background(trained_models, api_for, store_codes,
                                                                                        monkeypatch):
    from django.core.cache import cache

    from mlanalytics.core import jobs

    api = api_for("manager")
    data = {"store": store_codes[0], "device_category": "tablet", "horizon_days": 7}
    first = api.post(BASE + "repair-demand-forecast", data, format="json").json()
    assert first["model"]["stale"] is None
    scope = first["model"]["scope"]
    model = TrainedModel.objects.get(kind=training.REPAIR_DEMAND, scope=scope, is_current=True)
    data_end, old_end = model.data_end, model.data_end - timedelta(days=21)
    # The scope was fitted on demand weeks ago and nothing has refreshed it since.
    TrainedModel.objects.filter(pk=model.pk).update(data_end=old_end)
    queued = []
    monkeypatch.setattr(jobs, "enqueue", lambda path, *args, **kwargs: queued.append((path, args)))
    cache.clear()
    second = api.post(BASE + "repair-demand-forecast", data, format="json").json()
    assert second["model"]["version"] == model.version and second["data_window"]["end"] == old_end.isoformat()
    assert second["model"]["stale"] == {"data_end": data_end.isoformat(), "days_behind": 21, "refit": "queued"}
    assert queued == [("predictive.tasks.refit_stale_model", (training.REPAIR_DEMAND, scope, old_end.isoformat()))]
    # Another request while the refit waits in the queue does not queue it again.
    again = api.post(BASE + "repair-demand-forecast", {**data, "horizon_days": 8}, format="json").json()
    assert again["model"]["stale"]["refit"] == "queued" and len(queued) == 1
    # The background job fits the new version; the next answer comes from it, no longer stale.
    path, args = queued[0]
    jobs.call(path, *args)
    third = api.post(BASE + "repair-demand-forecast", data, format="json").json()
    assert third["model"]["version"] == model.version + 1 and third["model"]["stale"] is None
    assert third["data_window"]["end"] == data_end.isoformat()
    assert third["forecast"][0]["date"] == (data_end + timedelta(days=1)).isoformat()


def test_a_failed_background_refit_is_shown_on_the_stale_business_metric_it_would_have_replaced(trained_models, api_for, store_codes,
                                                                                              monkeypatch):
    from predictive import services

    scope = f"store={store_codes[0]}|granularity=week|metric=revenue"
    model = TrainedModel.objects.get(kind=training.BUSINESS_METRICS, scope=scope, is_current=True)
    TrainedModel.objects.filter(pk=model.pk).update(data_end=model.data_end - timedelta(days=10))
    fits = []
    monkeypatch.setattr(services, "fit_on_demand", lambda kind, scope, replacing=None: fits.append((kind, scope)))  # fails
    api = api_for("manager")
    data = {"store": store_codes[0], "granularity": "week", "horizon": 4, "metrics": ["revenue", "ticket_count"]}
    body = api.post(BASE + "business-metrics-forecast", data, format="json").json()
    assert fits == [(training.BUSINESS_METRICS, scope)]  # jobs run eagerly in tests: the refit was tried (and failed)
    assert body["metrics"]["revenue"]["model"]["version"] == model.version
    assert body["metrics"]["revenue"]["model"]["stale"]["days_behind"] == 10
    assert body["metrics"]["ticket_count"]["model"]["stale"] is None
    assert set(body["model"]["stale"]) == {"revenue"}
    # The failure moved the answers on (models cache domain): the next one says the refit failed, and it is
    # not tried again within the hour.
    later = api.post(BASE + "business-metrics-forecast", data, format="json")
    assert later["X-Cache"] == "miss"
    assert later.json()["metrics"]["revenue"]["model"]["stale"]["refit"] == "failed"
    assert len(fits) == 1


def test_repair_demand_forecast_validates_repair_type_against_category(trained_models, api_for):
    api = api_for("manager")
    unknown = api.post(BASE + "repair-demand-forecast", {"repair_type": "toaster-fix"}, format="json")
    assert unknown.status_code == 400 and "repair_type" in unknown.json()
    mismatch = api.post(BASE + "repair-demand-forecast", {"repair_type": "phone-screen", "device_category": "laptop"}, format="json")
    assert mismatch.status_code == 400 and "repair_type" in mismatch.json()
    assert api.post(BASE + "repair-demand-forecast", {"horizon_days": 6}, format="json").status_code == 400


def test_business_metrics_history_matches_revenue_and_intake_of_each_week(trained_models, api_for, store_codes):
    from workflow.models import RepairTicket

    store = store_codes[0]
    body = api_for("manager").post(BASE + "business-metrics-forecast",
                                   {"store": store, "granularity": "week", "history": 3, "horizon": 5}, format="json").json()
    revenue = body["metrics"]["revenue"]
    count = body["metrics"]["ticket_count"]
    assert len(revenue["forecast"]) == 5 and len(revenue["history"]) == 3
    for point, intake in zip(revenue["history"], count["history"]):
        start = datetime.fromisoformat(point["period_start"]).date()
        week = (start, start + timedelta(days=6))
        paid = RepairTicket.objects.filter(store__code=store, completed_at__date__range=week, final_price__isnull=False)
        assert point["actual"] == pytest.approx(float(paid.aggregate(s=Sum("final_price"))["s"] or 0), abs=0.01)
        received = RepairTicket.objects.filter(store__code=store, received_at__date__range=week).count()
        assert intake["actual"] == received
    # Gross margin: revenue less the parts and labour cost of every repair completed in the week (warranty
    # comebacks cost without revenue); average ticket value: revenue per paid repair completed.
    margin, ticket_value = body["metrics"]["gross_margin"], body["metrics"]["average_ticket_value"]
    assert [p["period_start"] for p in margin["history"]] == [p["period_start"] for p in revenue["history"]]
    for point, value_point in zip(margin["history"], ticket_value["history"]):
        start = datetime.fromisoformat(point["period_start"]).date()
        done = RepairTicket.objects.filter(store__code=store, completed_at__date__range=(start, start + timedelta(days=6))).filter(
            Q(final_price__isnull=False) | Q(warranty_of__isnull=False))
        revenue_sum, cost, paid = 0.0, 0.0, 0
        for price, parts, minutes, rate in done.values_list("final_price", "parts_cost", "labour_minutes", "technician__hourly_cost"):
            revenue_sum += float(price or 0)
            cost += float(parts or 0) + (minutes or 0) * float(rate or 0) / 60
            paid += int((price or 0) > 0)
        assert paid > 0
        assert point["actual"] == pytest.approx(revenue_sum - cost, abs=0.01)
        assert value_point["actual"] == pytest.approx(revenue_sum / paid, abs=0.001)
    assert set(body["model"]["versions"]) == {"revenue", "gross_margin", "ticket_count", "average_ticket_value"}


def test_business_metrics_by_month_limits_the_horizon(trained_models, api_for):
    api = api_for("manager")
    response = api.post(BASE + "business-metrics-forecast", {"granularity": "month", "horizon": 13}, format="json")
    assert response.status_code == 400 and "horizon" in response.json()
    ok = api.post(BASE + "business-metrics-forecast", {"granularity": "month", "horizon": 3, "metrics": ["revenue"]}, format="json")
    assert ok.status_code == 200
    assert list(ok.json()["metrics"]) == ["revenue"]
    assert all(p["period_start"].endswith("-01") for p in ok.json()["metrics"]["revenue"]["forecast"])


def test_customer_prediction_matches_the_closed_form_for_one_customer(trained_models, api_for, store_codes):
    from workflow.models import Customer, RepairTicket

    store = store_codes[0]
    model = TrainedModel.objects.get(kind=training.CUSTOMER_BEHAVIOR, scope=f"store={store}", is_current=True)
    end = timezone.make_aware(datetime.combine(model.data_end, time(23, 59, 59)))
    regular = (RepairTicket.objects.filter(store__code=store, warranty_of__isnull=True, received_at__lte=end)
               .values("customer_id").annotate(n=Count("id")).filter(n__gte=3).order_by("-n", "customer_id").first())
    customer = Customer.objects.get(pk=regular["customer_id"])
    visits = sorted(RepairTicket.objects.filter(customer=customer, warranty_of__isnull=True, received_at__lte=end)
                    .values_list("received_at", flat=True))
    week = timedelta(days=7)
    x, t_x, T = len(visits) - 1, (visits[-1] - visits[0]) / week, (end - visits[0]) / week
    body = api_for("manager").post(BASE + "customer-behavior-prediction",
                                   {"store": store, "customer": customer.external_ref, "horizon_days": 91}, format="json").json()
    p = body["model"]["parameters"]["bgnbd"]
    r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
    p_alive = 1 / (1 + a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x))
    assert body["customer"]["visits"] == len(visits)
    assert body["customer"]["p_alive"] == pytest.approx(p_alive, abs=1e-4)
    # Expected repeat visits in the next 13 weeks, E[Y(t)|x, t_x, T] (Fader, Hardie & Lee 2005, eq. 10).
    def expected_visits(t):
        hyper = special.hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t))
        return ((a + b + x - 1) / (a - 1) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyper)
                / (1 + a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x)))

    assert body["customer"]["expected_visits"] == pytest.approx(expected_visits(13.0), abs=1e-4)
    # Gamma-Gamma spend per visit from the mean of the priced repeat visits: p(v + n·m̄)/(p·n + q − 1).
    prices = [float(p) for p in RepairTicket.objects.filter(customer=customer, warranty_of__isnull=True, received_at__lte=end)
              .order_by("received_at").values_list("final_price", flat=True)[1:] if p and p > 0]
    g = body["model"]["parameters"]["gamma_gamma"]
    n, m = len(prices), (sum(prices) / len(prices) if prices else 0.0)
    spend_per_visit = g["p"] * (g["v"] + n * m) / (g["p"] * n + g["q"] - 1)
    assert body["customer"]["expected_spend"] == pytest.approx(expected_visits(13.0) * spend_per_visit, abs=0.01)
    # Lifetime value over the horizon: the visits expected in each 4-week step, at that spend, discounted at 10 % a year.
    steps = [4.0, 8.0, 12.0, 13.0]
    value = sum((expected_visits(t) - (expected_visits(prev) if prev else 0.0)) * spend_per_visit / 1.1 ** (t / 52)
                for prev, t in zip([0.0] + steps[:-1], steps))
    assert body["customer"]["lifetime_value"] == pytest.approx(value, abs=0.01)
    assert body["customer"]["external_ref"] == customer.external_ref
    distinct = RepairTicket.objects.filter(store__code=store, warranty_of__isnull=True, received_at__lte=end).values("customer_id").distinct()
    assert body["summary"]["customers"] == distinct.count()
    at_risk = body["at_risk"]["top"]
    assert all(row["p_alive"] < 0.5 and row["visits"] >= 2 for row in at_risk)
    assert [row["total_spend"] for row in at_risk] == sorted((row["total_spend"] for row in at_risk), reverse=True)
    assert body["calibration"]["holdout_weeks"] > 0


def test_customer_prediction_answers_404_and_403_for_customers(trained_models, api_for, store_codes):
    from workflow.models import RepairTicket

    mine, theirs = store_codes[0], store_codes[1]
    api = api_for("manager", stores=[mine])
    assert api.post(BASE + "customer-behavior-prediction", {"customer": "NOBODY-1"}, format="json").status_code == 404
    other = RepairTicket.objects.filter(store__code=theirs, customer__isnull=False).order_by("received_at").first().customer
    assert api.post(BASE + "customer-behavior-prediction", {"customer": other.external_ref}, format="json").status_code == 403


def weekly_consumption(store_code, part_id, last_week_start, weeks=52):
    from inventory.models import StockMovement

    start = last_week_start - timedelta(weeks=weeks - 1)
    rows = (StockMovement.objects.filter(kind="consumption", store__code=store_code, part_id=part_id,
                                         at__date__gte=start, at__date__lt=last_week_start + timedelta(days=7))
            .annotate(day=TruncDate("at")).values_list("day", "quantity"))
    series = np.zeros(weeks)
    for day, quantity in rows:
        series[(day - start).days // 7] += -quantity
    return series


def test_inventory_demand_prediction_classifies_like_an_independent_adi_cv2_count(trained_models, api_for, store_codes):
    store = store_codes[0]
    api = api_for("manager")
    body = api.post(BASE + "inventory-demand-prediction", {"store": store, "horizon_days": 14, "limit": 40}, format="json").json()
    assert body["count"] >= 40 and len(body["parts"]) == 40
    data_end = datetime.fromisoformat(body["data_window"]["end"]).date()
    last_week_start = data_end - timedelta(days=data_end.weekday()) - timedelta(days=7 if data_end.weekday() != 6 else 0)
    for row in body["parts"][:15]:
        series = weekly_consumption(store, row["part_id"], last_week_start)
        sizes = series[series > 0]
        adi = len(series) / len(sizes)
        cv2 = (sizes.std() / sizes.mean()) ** 2 if len(sizes) > 1 else 0.0
        expected = ("smooth" if cv2 < 0.49 else "erratic") if adi < 1.32 else ("intermittent" if cv2 < 0.49 else "lumpy")
        assert row["demand_class"] == expected, row["sku"]
        assert row["adi"] == pytest.approx(adi) and row["cv2"] == pytest.approx(cv2)
        assert row["horizon_demand"]["mean"] == pytest.approx(row["daily_mean"] * 14, abs=1e-3)
        q = row["lead_time_demand"]["quantiles"]
        assert q["p50"] <= q["p90"] <= q["p99"]
    rates = [row["weekly_rate"] for row in body["parts"]]
    assert rates == sorted(rates, reverse=True)


def test_inventory_demand_prediction_for_one_part_and_unknown_sku(trained_models, api_for, store_codes):
    from inventory.models import Part

    api = api_for("manager")
    part = Part.objects.order_by("sku").first()
    body = api.post(BASE + "inventory-demand-prediction", {"part": part.sku, "lead_time_days": 10, "service_level": 0.9}, format="json").json()
    assert {row["sku"] for row in body["parts"]} == {part.sku}
    assert {row["store"] for row in body["parts"]} == set(store_codes)
    assert all(row["lead_time_days"] == 10 and row["lead_time_demand"]["service_level"] == 0.9 for row in body["parts"])
    assert api.post(BASE + "inventory-demand-prediction", {"part": "NO-SUCH-SKU"}, format="json").status_code == 404
    assert all(row["lead_time_source"] == "request" and row["service_level_source"] == "request" for row in body["parts"])


def test_inventory_demand_prediction_says_where_lead_time_and_service_level_came_from(trained_models, api_for, settings):
    from django.core.cache import cache

    from inventory.models import Part, SupplierPrice

    api = api_for("manager")
    listed = Part.objects.filter(supplier_prices__isnull=False).order_by("sku").first()
    quoted = SupplierPrice.objects.filter(part=listed, supplier__is_active=True).order_by("unit_price", "supplier__code").first()
    body = api.post(BASE + "inventory-demand-prediction", {"part": listed.sku}, format="json").json()
    for row in body["parts"]:
        assert row["lead_time_source"] == "supplier" and row["lead_time_days"] == quoted.lead_time_days
        assert row["lead_time_supplier"] == quoted.supplier.code
        assert row["service_level_source"] == "part" and row["lead_time_demand"]["service_level"] == float(listed.service_level)
    assert body["defaults"]["rows_with_default_lead_time"] == 0
    # A part nobody lists any more: the lead time is the setting's, and the answer says it was assumed.
    settings.PREDICTIVE_DEFAULT_LEAD_TIME_DAYS = 11
    SupplierPrice.objects.filter(part=listed).delete()
    cache.clear()
    body = api.post(BASE + "inventory-demand-prediction", {"part": listed.sku}, format="json").json()
    assert body["parts"] and body["defaults"]["rows_with_default_lead_time"] == len(body["parts"])
    assert body["defaults"]["lead_time_days"] == 11
    for row in body["parts"]:
        assert row["lead_time_source"] == "default" and row["lead_time_days"] == 11 and row["lead_time_supplier"] is None
        assert row["lead_time_demand"]["mean"] == pytest.approx(row["daily_mean"] * 11, abs=1e-3)


def test_cost_optimization_shows_only_the_users_stores_and_adds_up(trained_models, api_for, store_codes):
    mine = store_codes[0]
    body = api_for("manager", stores=[mine]).post(BASE + "cost-optimization", {"months": 12, "limit": 500}, format="json").json()
    assert body["stores"] == [mine]
    assert all(o["store"] == mine for o in body["opportunities"])
    assert all(row["store"] == mine for row in body["expected_cost_by_repair_type"])
    assert body["summary"]["monthly_saving"] == pytest.approx(sum(o["monthly_saving"] for o in body["opportunities"]), abs=0.01)
    for item in body["opportunities"]:
        assert item["achievable_monthly_cost"] == pytest.approx(item["current_monthly_cost"] - item["monthly_saving"], abs=0.01)
        low, high = item["saving_interval_90"]
        assert low <= item["monthly_saving"] <= high
    everyone = api_for("manager").post(BASE + "cost-optimization", {"months": 12, "limit": 500}, format="json").json()
    assert everyone["summary"]["opportunities"] > body["summary"]["opportunities"]


def received_orders_by_supplier(store_codes, end, days):
    """Purchase orders of the stores placed on the local days end-days+1..end and received, per supplier code."""
    from inventory.models import PurchaseOrder

    rows = (PurchaseOrder.objects.filter(store__code__in=store_codes, ordered_at__gte=reference.local_midnight(end - timedelta(days=days - 1)),
                                         ordered_at__lt=reference.local_midnight(end + timedelta(days=1)), received_at__isnull=False)
            .exclude(status__in=["draft", "cancelled"]).values("supplier__code").annotate(n=Count("id")))
    return {row["supplier__code"]: row["n"] for row in rows}


def test_cost_optimization_shows_a_single_store_user_only_their_own_stores_supplier_deliveries(trained_models, api_for, store_codes):
    mine = store_codes[0]
    model = TrainedModel.objects.get(kind=training.REPAIR_COST, scope="all", is_current=True)
    body = api_for("manager", stores=[mine]).post(BASE + "cost-optimization", {"months": 12, "limit": 500}, format="json").json()
    block = body["supplier_qualification"]
    days = block["record_days"]
    assert block["record_stores"] == [mine] and block["qualified_on"] == "every store"
    own = received_orders_by_supplier([mine], model.data_end, days)
    shop_wide = received_orders_by_supplier(store_codes, model.data_end, days)
    assert sum(own.values()) < sum(shop_wide.values())  # the other stores do order from these suppliers
    stored = {row["supplier"]: row for row in model.output["supplier_qualification"]["suppliers"]}
    for row in block["suppliers"]:
        assert row["deliveries"] == own.get(row["supplier"], 0), row["supplier"]
        assert row["qualified"] == stored[row["supplier"]]["qualified"]  # the verdict rests on every store's orders
    evidence = [c for o in body["opportunities"] for c in o["evidence"].get("cheapest_suppliers", [])]
    assert evidence
    assert all(c["deliveries"] == own.get(c["supplier"], 0) for c in evidence)
    # Someone who asks for every store sees every store's record, as the model stored it.
    everyone = api_for("manager").post(BASE + "cost-optimization", {"months": 12, "limit": 500}, format="json").json()
    assert everyone["supplier_qualification"]["record_stores"] == sorted(store_codes)
    assert {r["supplier"]: r["deliveries"] for r in everyone["supplier_qualification"]["suppliers"]} == {
        code: shop_wide.get(code, 0) for code in stored}


def test_the_supplier_delivery_record_covers_the_days_of_its_setting(trained_models, store_codes, settings):
    from predictive import datasets as ds

    end = TrainedModel.objects.get(kind=training.REPAIR_COST, scope="all", is_current=True).data_end
    settings.PREDICTIVE_SUPPLIER_RECORD_DAYS = 60
    assert ds.qualification_rule()["record_days"] == 60
    records = ds.supplier_delivery_records(end)
    expected = received_orders_by_supplier(store_codes, end, 60)
    assert records.deliveries.to_dict() == {code: expected.get(code, 0) for code in records.index}
    assert sum(expected.values()) < sum(received_orders_by_supplier(store_codes, end, 365).values())


def window_of(body):
    return date.fromisoformat(body["data_window"]["start"]), date.fromisoformat(body["data_window"]["end"])


def test_cost_optimization_figures_equal_those_computed_from_the_users_stores_only(trained_models, api_for, store_codes):
    mine = store_codes[0]
    body = api_for("manager", stores=[mine]).post(BASE + "cost-optimization", {"months": 6, "limit": 500}, format="json").json()
    since, end = window_of(body)
    jobs = reference.finished_jobs([mine], since, end)
    # Tickets and actual cost per repair type, and the monthly totals, from the store's own tickets.
    by_type = {}
    for code, _, cost in jobs:
        by_type.setdefault(code, []).append(cost)
    rows = {row["repair_type"]: row for row in body["expected_cost_by_repair_type"]}
    assert set(rows) == set(by_type)
    for code, costs in by_type.items():
        assert rows[code]["tickets"] == len(costs)
        assert rows[code]["actual_mean_cost"] == pytest.approx(np.mean(costs), abs=1e-6)
    assert body["summary"]["tickets"] == len(jobs)
    assert body["summary"]["actual_monthly_repair_cost"] == pytest.approx(sum(c for _, _, c in jobs) / 6, abs=0.01)
    # Labour-time spread by repair type over this store's jobs only (not the whole shop's).
    spread = reference.labour_spread_by_repair_type(jobs)
    listed = {row["repair_type"]: row for row in body["labour_variability"]}
    assert set(listed) == set(spread) and spread
    for code, expected in spread.items():
        for key, value in expected.items():
            assert listed[code][key] == pytest.approx(value, rel=1e-9), (code, key)
    shop_wide = reference.finished_jobs(store_codes, since, end)
    assert {code: row["tickets"] for code, row in listed.items()} != {
        code: row["tickets"] for code, row in reference.labour_spread_by_repair_type(shop_wide).items()}
    # Parts bought above the cheapest qualified supplier: what each of the store's suppliers was overpaid.
    purchasing = [o for o in body["opportunities"] if o["kind"] == "parts_above_cheapest_supplier"]
    assert purchasing
    for item in purchasing:
        overpaid, lines = reference.overpaid_against_qualified(mine, item["supplier"], since, end)
        assert item["evidence"]["overpaid_total"] == pytest.approx(overpaid, abs=0.01), item["supplier"]
        assert item["evidence"]["lines_above_cheapest"] == lines
        assert item["monthly_saving"] == pytest.approx(overpaid / 6, rel=1e-6)


def test_cost_optimization_for_every_store_has_the_shop_wide_labour_spread(trained_models, api_for, store_codes):
    body = api_for("manager").post(BASE + "cost-optimization", {"months": 12}, format="json").json()
    since, end = window_of(body)
    spread = reference.labour_spread_by_repair_type(reference.finished_jobs(store_codes, since, end))
    listed = {row["repair_type"]: row for row in body["labour_variability"]}
    assert set(listed) == set(spread)
    for code, expected in spread.items():
        assert listed[code]["tickets"] == expected["tickets"]
        assert listed[code]["log_spread"] == pytest.approx(expected["log_spread"], rel=1e-9)


def test_model_performance_lists_the_registry_and_respects_store_scope(trained_models, api_for, store_codes):
    body = api_for("admin").get(BASE + "model-performance").json()
    current = TrainedModel.objects.filter(is_current=True)
    assert body["summary"]["models"] == current.count() == len(body["models"])
    assert set(training.KINDS) <= {m["kind"] for m in body["models"]}
    first = body["models"][0]
    assert first["history"] and first["duration_seconds"] > 0 and first["drift"]["status"]
    assert body["training"]["status"] == "done"
    mine = store_codes[0]
    restricted = api_for("manager", stores=[mine]).get(BASE + "model-performance").json()
    for model in restricted["models"]:
        if model["kind"] in training.STORE_SCOPED_KINDS:
            assert model["scope"].startswith(f"store={mine}"), model["scope"]
    assert any(m["kind"] == training.PARTS_DEMAND for m in restricted["models"])
    only_demand = api_for("manager").get(BASE + "model-performance", {"kind": "repair_demand", "history": "false"}).json()
    assert {m["kind"] for m in only_demand["models"]} == {"repair_demand"}
    assert "history" not in only_demand["models"][0]


def test_the_openapi_schema_documents_all_six_endpoints(trained_models, api_for):
    response = api_for("admin").get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    import json

    schema = json.loads(response.content)
    paths = {p for p in schema["paths"] if p.startswith(BASE)}
    for name, (method, _, _) in ENDPOINTS.items():
        match = [p for p in paths if name in p]
        assert match, name
        operation = schema["paths"][match[0]][method]
        assert "200" in operation["responses"] and "400" in operation["responses"]
        examples = operation["responses"]["200"]["content"]["application/json"]["examples"]
        for example in examples.values():
            assert {"generated_at", "data_window"} <= set(example["value"]), name
            if name != "model-performance":
                model = example["value"]["model"]
                assert {"name", "kind", "version", "trained_at", "backtest"} <= set(model), name
