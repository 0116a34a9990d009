"""The Predictive Analytics dashboard pages (predictive/views.py): each page shows the figures its
endpoint returns for the same parameters (compared with the API's own answer), validation errors
beside their fields, role and store refusals in words, drill-down links, PDF and Excel downloads
holding the page's tables, and the guarded "Train models now" action."""
import io
import re
from unittest import mock

import pytest
from django.core.cache import cache
from django.urls import reverse

from mlanalytics.core.formatting import format_value
from predictive import services
from tests.page_helpers import chart_data, kpi_text, series

pytestmark = pytest.mark.django_db
API = "/api/predictive-analytics/"


def page(client, name, query=""):
    response = client.get(reverse(f"predictive:{name}") + (f"?{query}" if query else ""))
    return response, response.content.decode()


# --- The figures are the endpoint's ----------------------------------------------------------------


def test_repair_demand_page_draws_the_forecast_and_history_the_api_returns(trained_models, as_role, api_answer):
    client = as_role("manager")
    response, html = page(client, "repair-demand", "store=LON1&horizon_days=14&history_days=28&interval=95")
    assert response.status_code == 200
    body = api_answer(client.user, API + "repair-demand-forecast", {"store": "LON1", "horizon_days": 14, "history_days": 28, "interval": 95})
    chart = chart_data(html, 0)
    forecast = series(chart, "Forecast")
    assert forecast["y"] == [p["expected"] for p in body["forecast"]]
    assert forecast["upper"] == [p["upper"] for p in body["forecast"]]
    assert forecast["band_label"] == "95 % prediction interval"
    assert series(chart, "Tickets received")["y"] == [p["actual"] for p in body["history"]]
    assert kpi_text(html, "expected_total") == format_value(body["expected_total"], "int")
    assert kpi_text(html, "model.backtest.mase") == format_value(body["model"]["backtest"]["mase"], "num2")
    assert kpi_text(html, "display.coverage") == format_value(body["model"]["backtest"]["coverage_95"], "pct")
    # Beside the backtest coverage, the coverage on the latest window held out of the calibration.
    held_out = body["model"]["backtest"]["coverage_95_held_out"]
    assert held_out is not None and 0 <= held_out <= 1
    assert kpi_text(html, "display.coverage_held_out") == format_value(held_out, "pct")
    assert body["backtest"]["held_out_window"]["points"] == body["model"]["backtest"]["horizon"]
    # The backtest chart sets the served method beside seasonal naive with the API's own MASE figures.
    mase = series(chart_data(html, 1), "MASE")
    assert mase["y"] == [body["backtest"]["prophet"]["mase"], body["backtest"]["seasonal_naive"]["mase"]]


def test_cost_page_shows_the_opportunities_and_savings_of_the_api(trained_models, as_role, api_answer):
    client = as_role("manager")
    response, html = page(client, "cost-optimization", "months=12")
    assert response.status_code == 200
    body = api_answer(client.user, API + "cost-optimization", {"months": 12})
    assert body["opportunities"], "the demo data plants an overpriced supplier"
    assert kpi_text(html, "summary.monthly_saving") == format_value(body["summary"]["monthly_saving"], "money0")
    chart = chart_data(html, 0)
    shown = body["opportunities"][:15]
    assert series(chart, "Current a month")["y"] == [o["current_monthly_cost"] for o in shown]
    assert series(chart, "Achievable a month")["y"] == [o["achievable_monthly_cost"] for o in shown]
    top = body["opportunities"][0]
    low, high = top["saving_interval_90"]
    assert f"({format_value(low, 'money0')} – {format_value(high, 'money0')})" in html  # the card's interval
    # A click on an opportunity opens the same page for its store and kind (drill-down).
    assert series(chart, "Current a month")["links"][0] == (
        reverse("predictive:cost-optimization") + f"?store={top['store']}&kinds={top['kind']}&months=12")


def test_parts_page_lists_the_series_and_class_counts_of_the_api(trained_models, as_role, api_answer):
    client = as_role("manager")
    response, html = page(client, "parts-demand", "limit=20&horizon_days=14")
    assert response.status_code == 200
    body = api_answer(client.user, API + "inventory-demand-prediction", {"limit": 20, "horizon_days": 14})
    assert kpi_text(html, "summary.series") == format_value(body["summary"]["series"], "int")
    by_class = chart_data(html, 0)["series"][0]
    assert dict(zip(by_class["x"], by_class["y"])) == body["summary"]["by_class"]
    top = chart_data(html, 1)["series"][0]
    assert top["y"] == [p["horizon_demand"]["mean"] for p in body["parts"][:15]]
    first = body["parts"][0]
    assert top["links"][0] == reverse("predictive:parts-demand") + f"?part={first['sku']}&store={first['store']}"


def test_one_part_at_one_store_shows_its_quantiles(trained_models, as_role, api_answer):
    client = as_role("manager")
    body = api_answer(client.user, API + "inventory-demand-prediction", {"limit": 1})
    part = body["parts"][0]
    response, html = page(client, "parts-demand", f"part={part['sku']}&store={part['store']}")
    assert response.status_code == 200
    specs = [chart_data(html, i) for i in range(4)]
    quantiles = next(s for s in specs if s["title"] == "Demand quantiles of the part shown")
    detail = api_answer(client.user, API + "inventory-demand-prediction", {"part": part["sku"], "store": part["store"]})["parts"][0]
    assert series(quantiles, "Horizon")["y"] == list(detail["horizon_demand"]["quantiles"].values())
    assert series(quantiles, "Lead time")["y"] == list(detail["lead_time_demand"]["quantiles"].values())


def test_customer_page_shows_segments_at_risk_and_the_holdout_check_of_the_api(trained_models, as_role, api_answer):
    client = as_role("manager")
    response, html = page(client, "customer-behavior", "horizon_days=180&at_risk_limit=10")
    assert response.status_code == 200
    body = api_answer(client.user, API + "customer-behavior-prediction", {"horizon_days": 180, "at_risk_limit": 10})
    segments = chart_data(html, 0)["series"][0]
    assert segments["y"] == [s["customers"] for s in body["segments"]]
    assert sum(segments["y"]) == body["summary"]["customers"]  # every customer is in exactly one segment
    # A segment drills to the same page filtered by it; with all stores shown no store is forced on the link.
    assert segments["links"][0] == reverse("predictive:customer-behavior") + f"?segment={body['segments'][0]['segment']}"
    assert kpi_text(html, "at_risk.customers") == format_value(body["at_risk"]["customers"], "int")
    calibration = chart_data(html, 2)
    rows = body["calibration"]["by_calibration_frequency"]
    assert series(calibration, "Predicted")["y"] == [r["predicted_mean"] for r in rows]
    assert series(calibration, "Actual")["y"] == [r["actual_mean"] for r in rows]
    at_risk = chart_data(html, 3)["series"][0]
    first = body["at_risk"]["top"][0]
    assert at_risk["links"][0] == reverse("predictive:customer-behavior") + f"?customer={first['external_ref']}&store={first['store']}"


def test_customer_drill_down_shows_that_customers_prediction(trained_models, as_role, api_answer):
    client = as_role("manager")
    first = api_answer(client.user, API + "customer-behavior-prediction", {"at_risk_limit": 1})["at_risk"]["top"][0]
    response, html = page(client, "customer-behavior", f"customer={first['external_ref']}&store={first['store']}")
    assert response.status_code == 200
    assert "This customer: probability still active" in html
    # The page asks for that customer within their store, so it shows the store model's prediction.
    own = api_answer(client.user, API + "customer-behavior-prediction",
                     {"customer": first["external_ref"], "store": first["store"]})["customer"]
    assert format_value(own["p_alive"], "pct") in html and first["name"] in html


def test_segment_links_keep_the_store_when_one_store_is_shown(trained_models, as_role, store_codes):
    client = as_role("manager")
    response, html = page(client, "customer-behavior", f"store={store_codes[0]}")
    links = chart_data(html, 0)["series"][0]["links"]
    assert all(link.endswith(f"&store={store_codes[0]}") for link in links)


def test_business_metrics_page_shows_each_metrics_forecast_interval_and_backtest(trained_models, as_role, api_answer):
    client = as_role("manager")
    response, html = page(client, "business-metrics", "granularity=month&horizon=6&history=12")
    assert response.status_code == 200
    body = api_answer(client.user, API + "business-metrics-forecast", {"granularity": "month", "horizon": 6, "history": 12})
    revenue = body["metrics"]["revenue"]
    chart = chart_data(html, 0)
    assert series(chart, "Forecast")["y"] == [p["expected"] for p in revenue["forecast"]]
    assert series(chart, "Forecast")["lower"] == [p["lower"] for p in revenue["forecast"]]
    assert series(chart, "Actual")["y"] == [p["actual"] for p in revenue["history"]]
    assert kpi_text(html, "display.latest.revenue") == format_value(revenue["history"][-1]["actual"], "money0")
    first = revenue["forecast"][0]
    assert f"{format_value(first['expected'], 'money0')} <span class=\"insight-interval\">(" in html
    assert series(chart, "Forecast")["links"][0] == (
        reverse("predictive:business-metrics") + "?metrics=revenue&granularity=month&history=36")


def test_business_metrics_page_for_one_metric_leaves_out_the_others_charts(trained_models, as_role):
    client = as_role("manager")
    response, html = page(client, "business-metrics", "metrics=ticket_count")
    assert response.status_code == 200
    assert "Tickets by period: actual and forecast" in html
    assert "Revenue by period: actual and forecast" not in html
    assert "No data points" not in html


def test_model_performance_page_lists_every_model_the_api_lists(trained_models, as_role, api_answer):
    client = as_role("manager")
    response, html = page(client, "model-performance")
    assert response.status_code == 200
    body = api_answer(client.user, API + "model-performance", {}, method="get")
    assert kpi_text(html, "summary.models") == str(body["summary"]["models"])
    intake = [m for m in body["models"] if m["kind"] == "repair_demand"]
    chart = chart_data(html, 0)
    assert series(chart, "Served")["y"] == [m["backtest"]["mase"] for m in intake]
    assert series(chart, "Seasonal naive")["y"] == [m["backtest"]["mase_seasonal_naive"] for m in intake]
    # A store's intake model opens that store's forecast; the all-stores model opens the unfiltered page.
    links = dict(zip(series(chart, "Served")["x"], series(chart, "Served")["links"]))
    assert links["All stores"] == reverse("predictive:repair-demand")
    store_model = next(m for m in intake if m["scope"].startswith("store="))
    code = store_model["scope"].split("=")[1]
    assert links[code] == reverse("predictive:repair-demand") + f"?store={code}"
    assert "Train models now" in html  # managers may train


def test_model_performance_checkbox_left_unticked_means_false(trained_models, as_role):
    client = as_role("manager")
    response, html = page(client, "model-performance", "submitted=1&history=true")
    assert response.status_code == 200
    assert not re.search(r'id="id_current_only"[^>]*checked', html)
    assert re.search(r'id="id_history"[^>]*checked', html)


# --- Errors in words -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name,query,field,message", [
    ("repair-demand", "horizon_days=3", "horizon_days", "greater than or equal to 7"),
    ("business-metrics", "granularity=month&horizon=20", "horizon", "At most 12 for granularity month."),
    ("customer-behavior", "at_risk_threshold=1.5", "at_risk_threshold", "less than or equal to 0.99"),
    ("cost-optimization", "months=5", "months", "is not a valid choice"),
])
def test_a_bad_value_is_shown_beside_its_field(trained_models, as_role, name, query, field, message):
    response, html = page(as_role("manager"), name, query)
    assert response.status_code == 400
    error = re.search(rf'<p class="field-error" id="err_{field}"[^>]*>(.*?)</p>', html, re.S)
    assert error and message in error.group(1)
    assert re.search(rf'id="id_{field}"[^>]*aria-invalid="true"', html)


@pytest.mark.parametrize("name", ["cost-optimization", "repair-demand", "parts-demand", "customer-behavior",
                                  "business-metrics", "model-performance"])
def test_staff_are_refused_every_predictive_page(trained_models, as_role, name):
    response, html = page(as_role("staff"), name)
    assert response.status_code == 403
    assert "not part of your role" in html


def test_a_store_the_manager_may_not_see_is_refused_in_words(trained_models, as_role, store_codes):
    mine, other = store_codes[0], store_codes[1]
    response, html = page(as_role("manager", stores=[mine]), "repair-demand", f"store={other}")
    assert response.status_code == 403
    assert f"You do not have access to store {other}." in html
    assert 'data-chart="chart-0-data"' not in html  # no figures of that store


def test_an_unknown_part_is_refused_in_words(trained_models, as_role):
    response, html = page(as_role("manager"), "parts-demand", "part=NO-SUCH-SKU")
    assert response.status_code == 404
    assert "Unknown part &#x27;NO-SUCH-SKU&#x27;." in html


# --- Exports -------------------------------------------------------------------------------------------


def test_repair_demand_pdf_and_excel_hold_the_forecast_table(trained_models, as_role, api_answer):
    from openpyxl import load_workbook
    from pypdf import PdfReader

    client = as_role("stakeholder")
    query = "store=LON1&horizon_days=14"
    body = api_answer(client.user, API + "repair-demand-forecast", {"store": "LON1", "horizon_days": 14})
    url = reverse("predictive:repair-demand-export", kwargs={"fmt": "pdf"})
    response = client.get(f"{url}?{query}")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(response.content)).pages)
    assert "Repair intake forecast" in text and "LON1" in text
    first = body["forecast"][0]
    assert format_value(first["date"], "date") in text and format_value(first["upper"], "num1") in text
    assert "MASE seasonal naive" in text  # the model's measured accuracy is on the cover

    url = reverse("predictive:repair-demand-export", kwargs={"fmt": "xlsx"})
    book = load_workbook(io.BytesIO(client.get(f"{url}?{query}").content))
    sheet = book["Forecast by day"]
    assert [c.value for c in sheet[1]] == ["Day", "Expected", "Interval low", "Interval high"]
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert [r[1] for r in rows] == [p["expected"] for p in body["forecast"]]
    assert [r[3] for r in rows] == [p["upper"] for p in body["forecast"]]
    backtest = list(book["Backtest"].iter_rows(min_row=2, values_only=True))
    assert backtest[0][2] == pytest.approx(body["backtest"]["prophet"]["mase"], rel=1e-12)  # Excel keeps 15 digits


def test_cost_excel_has_every_opportunity_with_its_interval(trained_models, as_role, api_answer):
    from openpyxl import load_workbook

    client = as_role("manager")
    body = api_answer(client.user, API + "cost-optimization", {"months": 6})
    url = reverse("predictive:cost-optimization-export", kwargs={"fmt": "xlsx"})
    book = load_workbook(io.BytesIO(client.get(f"{url}?months=6").content))
    rows = list(book["Savings opportunities"].iter_rows(min_row=2, values_only=True))
    assert len(rows) == len(body["opportunities"])
    # Excel keeps 15 significant digits: the same numbers, not text.
    assert [r[5] for r in rows] == pytest.approx([o["monthly_saving"] for o in body["opportunities"]], rel=1e-12)
    assert [v for r in rows for v in r[6:8]] == pytest.approx(
        [v for o in body["opportunities"] for v in o["saving_interval_90"]], rel=1e-12)
    assert book["Savings opportunities"]["F2"].number_format == '"£"#,##0.00'


def test_business_metrics_exports_carry_each_metrics_backtest(trained_models, as_role, api_answer):
    from openpyxl import load_workbook
    from pypdf import PdfReader

    client = as_role("manager")
    body = api_answer(client.user, API + "business-metrics-forecast", {"granularity": "week"})
    url = reverse("predictive:business-metrics-export", kwargs={"fmt": "xlsx"})
    book = load_workbook(io.BytesIO(client.get(f"{url}?granularity=week").content))
    summary = {row[0]: row[1] for row in book["Summary"].iter_rows(values_only=True) if row and row[0]}
    # Excel keeps 15 significant digits: the same numbers, not text.
    assert summary["Backtest: Revenue MASE"] == pytest.approx(body["metrics"]["revenue"]["model"]["backtest"]["mase"], rel=1e-12)
    assert summary["Backtest: Tickets MASE seasonal naive"] == pytest.approx(
        body["metrics"]["ticket_count"]["model"]["backtest"]["mase_seasonal_naive"], rel=1e-12)
    forecast = list(book["Forecast"].iter_rows(min_row=2, values_only=True))
    assert [r[1] for r in forecast] == [p["expected"] for p in body["metrics"]["revenue"]["forecast"]]

    url = reverse("predictive:business-metrics-export", kwargs={"fmt": "pdf"})
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(client.get(f"{url}?granularity=week").content)).pages)
    assert "Revenue MASE" in text and "No backtest recorded" not in text


# --- Train models now -------------------------------------------------------------------------------------


def test_a_manager_starts_training_from_the_page(trained_models, as_role):
    client = as_role("manager")
    cache.delete(services.LOCK_KEY)
    with mock.patch("mlanalytics.core.jobs.enqueue") as enqueue:
        response = client.post(reverse("predictive:train-models"), {"next": reverse("predictive:model-performance")})
    assert response.status_code == 302 and response["Location"] == reverse("predictive:model-performance")
    enqueue.assert_called_once_with("predictive.tasks.train_all_models", None, False, client.user.username)
    from mlanalytics.core.models import AuditLogEntry

    assert AuditLogEntry.objects.filter(action="start_training").exists()


def test_training_is_not_started_twice(trained_models, as_role):
    client = as_role("manager")
    cache.set(services.LOCK_KEY, "running", 60)
    try:
        with mock.patch("mlanalytics.core.jobs.enqueue") as enqueue:
            response = client.post(reverse("predictive:train-models"), follow=True)
        enqueue.assert_not_called()
        assert "already in progress" in response.content.decode()
    finally:
        cache.delete(services.LOCK_KEY)


@pytest.mark.parametrize("role", ["stakeholder", "staff"])
def test_roles_without_train_models_cannot_start_training(trained_models, as_role, role):
    client = as_role(role)
    with mock.patch("mlanalytics.core.jobs.enqueue") as enqueue:
        response = client.post(reverse("predictive:train-models"))
    assert response.status_code == 403
    enqueue.assert_not_called()
    if role == "stakeholder":
        assert "Train models now" not in page(client, "model-performance")[1]
