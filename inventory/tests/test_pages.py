"""The Inventory Management dashboard pages (inventory/views.py) on the session's demo data: each page shows the
figures its endpoint returns for the same parameters (compared with the API's own answer), a bad value beside its
field, role and store refusals in words, drill-down links and details, the guarded buttons (draft purchase orders
once, order once, snooze, approve min/max, transfer) and PDF/Excel downloads holding the page's tables."""
import io
import json
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from inventory.ml.policy import round_order_quantity
from inventory.models import (
    PurchaseOrder,
    ReorderDecision,
    Stock,
    StockMovement,
    StockPolicy,
    SupplierPrice,
)
from mlanalytics.core.formatting import format_value
from tests.page_helpers import chart_data, kpi_text, series

pytestmark = pytest.mark.usefixtures("inventory_db")  # the demo data with its inventory summaries in place
API = "/api/inventory-management/"
STATUS_ORDER = ("out", "critical", "low", "over", "ok")


def page(client, name, query=""):
    response = client.get(reverse(f"inventory:{name}") + (f"?{query}" if query else ""))
    return response, response.content.decode()


def table_rows(html, title):
    """The rows of the table titled `title` as {data-field: cell text}, in page order."""
    start = html.index(f'<h3 class="table-title">{title}')
    body = html[start:html.index("</table>", start)]
    rows = []
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body.split("<tbody>")[1], re.S):
        cells = re.findall(r'<td[^>]*data-field="([^"]+)"[^>]*>(.*?)</td>', row, re.S)
        rows.append({field: re.sub(r"<[^>]+>", "", text).strip() for field, text in cells})
    return rows


def unescape(text):
    import html as html_lib

    return html_lib.unescape(text)


# --- Each page shows its endpoint's figures ---------------------------------------------------------------------


def test_stock_monitor_lists_the_rows_counts_and_statuses_of_the_api(as_role, api_answer):
    client = as_role("manager")
    response, html = page(client, "stock-monitor", "store=LON1&limit=40")
    assert response.status_code == 200
    body = api_answer(client.user, API + "stock-monitoring", {"store": "LON1", "limit": 40}, "get")
    assert kpi_text(html, "count") == format_value(body["count"], "int")
    for status in ("out", "critical", "low", "over", "ok"):
        assert kpi_text(html, f"status_counts.{status}") == format_value(body["status_counts"][status], "int")
    by_status = chart_data(html, 0)["series"][0]
    assert by_status["y"] == [body["status_counts"][s] for s in STATUS_ORDER]
    # A status bar opens the monitor filtered by that status, for the store shown.
    assert by_status["links"][0] == reverse("inventory:stock-monitor") + "?status=out&store=LON1"
    rows = table_rows(html, "Stock by SKU and store")
    assert [(r["sku"], r["store"]) for r in rows] == [(r["sku"], r["store"]) for r in body["results"]]
    for shown, row in zip(rows, body["results"]):
        assert shown["on_hand"] == format_value(row["on_hand"], "int")
        assert shown["available"] == format_value(row["available"], "int")
        assert shown["reorder_point"] == format_value(row["reorder_point"], "int")
        assert shown["status"] == row["status"]
        assert shown["projected_stockout_date"] == format_value(row["projected_stockout_date"], "date")


def test_stock_monitor_rows_are_keyed_for_live_stock_events(as_role):
    """Each row carries the key a "stock" event names (sku|store) and cells named like the event's fields, so
    static/js/live.js can update them in place."""
    from inventory.services import stock_event_payload

    client = as_role("manager")
    response, html = page(client, "stock-monitor", "store=LON1&limit=5")
    assert response.status_code == 200
    assert 'data-live-table="stock" data-key-fields="sku,store"' in html
    assert 'data-refresh-on="stock"' in html
    stock = Stock.objects.select_related("part", "store").get(part__sku=table_rows(html, "Stock by SKU and store")[0]["sku"],
                                                               store__code="LON1")
    payload = stock_event_payload(stock)
    assert f'data-key="{payload["sku"]}|{payload["store"]}"' in html
    fields = set(re.findall(r'data-field="([^"]+)"', html))
    assert {"on_hand", "reserved", "available", "status", "reorder_point", "max_level", "on_order", "days_of_cover",
            "projected_stockout_date"} <= fields


def test_stock_monitor_shows_open_stockout_alerts_to_staff_but_not_to_stakeholders(as_role, store_codes):
    from mlanalytics.core import alerts
    from mlanalytics.core.models import Alert, Store

    store = Store.objects.get(code=store_codes[0])
    alerts.raise_alert(kind=Alert.Kind.STOCKOUT_RISK, dedup_key="test:pages:stockout", title="TEST-SKU runs out on Friday",
                                  store=store, severity="warning", audience_roles=["manager", "staff"])
    html = page(as_role("staff", stores=[store.code]), "stock-monitor", f"store={store.code}")[1]
    assert 'data-inventory-alert="stockout_risk"' in html and "TEST-SKU runs out on Friday" in html
    html = page(as_role("stakeholder"), "stock-monitor")[1]
    assert "data-inventory-alert" not in html and "TEST-SKU runs out on Friday" not in html


def test_overview_page_shows_the_apis_figures_by_store(as_role, api_answer):
    client = as_role("manager")
    response, html = page(client, "overview")
    assert response.status_code == 200
    body = api_answer(client.user, API + "overview", {}, "get")
    assert kpi_text(html, "active_skus") == format_value(body["active_skus"], "int")
    assert kpi_text(html, "stock_value") == format_value(body["stock_value"], "money0")
    assert kpi_text(html, "open_purchase_orders.value") == format_value(body["open_purchase_orders"]["value"], "money0")
    assert kpi_text(html, "turnover.turns_per_year") == format_value(body["turnover"]["turns_per_year"], "num1")
    by_store = chart_data(html, 0)
    for store in body["by_store"]:
        trace = series(by_store, store["store"])
        assert trace["y"] == [store[s] for s in STATUS_ORDER]
        # A status of a store opens the monitor for exactly those lines.
        assert trace["links"][0] == reverse("inventory:stock-monitor") + f"?store={store['store']}&status=out"
    assert chart_data(html, 1)["series"][0]["y"] == [s["stock_value"] for s in body["by_store"]]


def test_reorder_page_shows_the_suggestions_of_the_api(as_role, api_answer):
    client = as_role("manager")
    response, html = page(client, "reorder", "include_all=true&limit=30")
    assert response.status_code == 200
    body = api_answer(client.user, API + "reorder-suggestions", {"include_all": True, "limit": 30})
    assert body["results"], "the demo data has stocked parts"
    assert kpi_text(html, "count") == format_value(body["count"], "int")
    assert kpi_text(html, "summary.purchase_value") == format_value(body["summary"]["purchase_value"], "money0")
    rows = table_rows(html, "Suggestions")
    assert [(r["sku"], r["store"]) for r in rows] == [(r["sku"], r["store"]) for r in body["results"]]
    for shown, row in zip(rows, body["results"]):
        assert shown["reorder_point"] == format_value(row["reorder_point"], "int")
        assert shown["safety_stock"] == format_value(row["safety_stock"], "num1")
        assert shown["eoq"] == format_value(row["eoq"], "num1")
        assert shown["purchase_quantity"] == format_value(row["purchase_quantity"], "int")
        assert shown["supplier"] == (row["supplier"] or "–")
    by_supplier = chart_data(html, 0)["series"][0]
    assert by_supplier["y"] == [s["value"] for s in body["summary"]["by_supplier"]]
    if by_supplier["x"]:  # a supplier opens its scorecard on the Supply Chain Optimizer
        assert by_supplier["links"][0] == reverse("inventory:supply-chain") + f"?supplier={by_supplier['x'][0]}"
    # Managers get the buttons; the row actions sit right after the columns naming the row.
    assert "Create draft POs for everything short" in html
    assert "Order once" in html and "Snooze until…" in html and "Approve min/max" in html


def test_stock_projection_page_draws_each_parts_projected_path(as_role, api_answer):
    client = as_role("manager")
    response, html = page(client, "demand-forecast", "horizon_days=14&limit=5")
    assert response.status_code == 200
    body = api_answer(client.user, API + "demand-forecast", {"horizon_days": 14, "limit": 5})
    first = body["results"][0]
    paths = chart_data(html, 0)
    trace = series(paths, f"{first['sku']} · {first['store']}")
    assert trace["y"] == [p["projected_on_hand"] for p in first["projected_path"]]
    assert trace["links"][0] == reverse("inventory:demand-forecast") + f"?skus={first['sku']}&store={first['store']}"
    assert kpi_text(html, "display.first.projected_stockout_date") == format_value(first["projected_stockout_date"], "date")
    assert kpi_text(html, "display.first.protection_demand.quantile_at_service_level") == format_value(
        first["protection_demand"]["quantile_at_service_level"], "int")
    # The MLInsightsCard names the parts model and carries its measured accuracy (when it has been backtested).
    card = html[html.index('class="card insight-card"'):html.index("</article>", html.index('class="card insight-card"'))]
    assert "<strong>parts_demand</strong>" in card
    assert format_value(first["horizon_demand"], "num1") in card
    from mlanalytics.core.formatting import metric_format

    for metric, value in body["model"]["backtest"].items():
        assert format_value(value, metric_format(metric, value)) in card, metric
    if not body["model"]["backtest"]:
        assert "No backtest recorded for this model yet." in card


def test_one_part_shows_its_path_against_its_reorder_point(as_role, api_answer):
    client = as_role("manager")
    first = api_answer(client.user, API + "demand-forecast", {"limit": 1})["results"][0]
    response, html = page(client, "demand-forecast", f"skus={first['sku']}&store={first['store']}")
    assert response.status_code == 200
    point = first["protection_demand"]["quantile_at_service_level"]
    line = series(chart_data(html, 0), f"Reorder point ({format_value(point, 'int')})")
    assert set(line["y"]) == {point}
    rows = table_rows(html, "Projected path of the first part")
    assert [r["projected_on_hand"] for r in rows] == [format_value(p["projected_on_hand"], "num1") for p in first["projected_path"]]


def test_supply_chain_page_ranks_with_the_weights_entered_in_the_form(as_role, api_answer):
    client = as_role("manager")
    query = "weight_price=1&weight_on_time=0&weight_lead_time=0&weight_lead_time_variability=0&weight_quality=0&horizon_days=60"
    response, html = page(client, "supply-chain", query)
    assert response.status_code == 200
    body = api_answer(client.user, API + "supply-chain-optimization", {
        "weights": {"price": 1, "on_time": 0, "lead_time": 0, "lead_time_variability": 0, "quality": 0}, "horizon_days": 60})
    assert body["weights"]["price"] == 1.0
    score = chart_data(html, 0)["series"][0]
    assert score["x"] == [c["code"] for c in body["scorecards"]]
    assert score["y"] == [c["score"] for c in body["scorecards"]]
    assert kpi_text(html, "allocation.saving") == format_value(body["allocation"]["saving"], "money0")
    assert kpi_text(html, "allocation.risk_saving") == format_value(body["allocation"]["risk_saving"], "money0")
    units = chart_data(html, 1)
    assert series(units, "Optimal")["y"] == [r["units"] for r in body["allocation"]["by_supplier"]]
    assert series(units, "Today")["y"] == [r["today_units"] for r in body["allocation"]["by_supplier"]]
    # The weights entered are kept in the form.
    assert re.search(r'id="id_weight_price"[^>]*value="1"', html)


def test_supply_chain_form_starts_with_the_default_weights_and_gives_the_same_ranking(as_role, api_answer):
    client = as_role("manager")
    html = page(client, "supply-chain")[1]
    assert re.search(r'id="id_weight_price"[^>]*value="0.35"', html) and re.search(r'id="id_weight_quality"[^>]*value="0.15"', html)
    body = api_answer(client.user, API + "supply-chain-optimization", {})
    assert chart_data(html, 0)["series"][0]["y"] == [c["score"] for c in body["scorecards"]]


def test_a_supplier_click_opens_its_scorecard(as_role, api_answer):
    client = as_role("manager")
    body = api_answer(client.user, API + "supply-chain-optimization", {})
    worst = body["scorecards"][-1]
    response, html = page(client, "supply-chain", f"supplier={worst['code']}")
    assert response.status_code == 200
    detail = html[html.index("data-detail"):html.index("</section>", html.index("data-detail"))]
    assert f"Supplier {worst['code']}" in unescape(detail)
    assert format_value(worst["on_time_rate"], "pct") in detail and format_value(worst["price_index"], "num2") in detail
    assert f"{worst['rank']} of {len(body['scorecards'])}" in detail
    missing = page(client, "supply-chain", "supplier=no-such-supplier")[1]
    assert "No supplier no-such-supplier in these results" in missing


def test_inventory_cost_page_shows_both_policies_of_the_replay(as_role, api_answer):
    client = as_role("manager")
    response, html = page(client, "cost-optimization", "replay_days=90&limit=5")
    assert response.status_code == 200
    body = api_answer(client.user, API + "cost-optimization", {"replay_days": 90, "limit": 5})
    replay = body["replay"]
    assert kpi_text(html, "replay.saving.yearly") == format_value(replay["saving"]["yearly"], "money0")
    assert kpi_text(html, "replay.recommended.fill_rate") == format_value(replay["recommended"]["fill_rate"], "pct")
    assert kpi_text(html, "dead_stock.value") == format_value(body["dead_stock"]["value"], "money0")
    costs = chart_data(html, 0)
    assert series(costs, "Today")["y"] == [replay["yearly"]["today"][k] for k in ("holding_cost", "ordering_cost", "stockout_cost")]
    assert series(costs, "Recommended")["y"] == [replay["yearly"]["recommended"][k]
                                                 for k in ("holding_cost", "ordering_cost", "stockout_cost")]
    rows = table_rows(html, "Dead stock (largest value first)")
    assert [r["sku"] for r in rows] == [d["sku"] for d in body["dead_stock"]["results"]]


def test_inventory_cost_page_shows_target_against_delivered_service_levels(as_role, api_answer):
    client = as_role("manager")
    response, html = page(client, "cost-optimization", "limit=5")
    assert response.status_code == 200
    levels = api_answer(client.user, API + "cost-optimization", {"limit": 5})["replay"]["service_levels"]["levels"]
    rows = table_rows(html, "Service level promised and delivered out of sample")
    assert len(rows) == 3
    for row, level in zip(rows, levels):
        assert row["service_level"] == format_value(level["service_level"], "pct")
        assert row["delivered_cycle_service_level"] == format_value(level["delivered_cycle_service_level"], "pct")
        assert row["yearly_holding_cost"] == format_value(level["yearly_holding_cost"], "gbp")
    chart = chart_data(html, 3)
    assert series(chart, "Delivered out of sample")["y"] == [level["delivered_cycle_service_level"] for level in levels]
    assert series(chart, "Target")["y"] == [0.90, 0.95, 0.99]


def test_performance_page_draws_the_abc_xyz_matrix_and_supplier_otif(as_role, api_answer):
    client = as_role("manager")
    response, html = page(client, "performance", "window_days=180")
    assert response.status_code == 200
    body = api_answer(client.user, API + "performance-analytics", {"window_days": 180}, "get")
    assert kpi_text(html, "turnover.turns_per_year") == format_value(body["turnover"]["turns_per_year"], "num1")
    assert kpi_text(html, "gmroi.value") == format_value(body["gmroi"]["value"], "num2")
    assert kpi_text(html, "fill_rate.value") == format_value(body["fill_rate"]["value"], "pct")
    assert kpi_text(html, "suppliers.on_time_in_full") == format_value(body["suppliers"]["on_time_in_full"], "pct")
    heatmap = chart_data(html, 0)["heatmap"]
    value = {(c["abc"], c["xyz"]): c["value"] for c in body["abc_xyz"]["matrix"]}
    assert heatmap["z"] == [[value[(a, x)] for x in "XYZ"] for a in "ABC"]
    # A cell opens the same page with that cell's parts.
    assert heatmap["links"][0][0] == reverse("inventory:performance") + "?cell=AX&window_days=180"
    otif = chart_data(html, 1)
    assert series(otif, "On time in full")["y"] == [s["otif_rate"] for s in body["suppliers"]["by_supplier"]]


def test_a_matrix_cell_click_lists_its_top_parts(as_role, api_answer):
    client = as_role("manager")
    body = api_answer(client.user, API + "performance-analytics", {}, "get")
    top = body["abc_xyz"]["top_skus"][0]
    cell = next(c for c in body["abc_xyz"]["matrix"] if (c["abc"], c["xyz"]) == (top["abc"], top["xyz"]))
    html = page(client, "performance", f"cell={top['abc']}{top['xyz']}")[1]
    detail = unescape(html[html.index("data-detail"):html.index("</section>", html.index("</table>", html.index("data-detail")))])
    assert f"ABC × XYZ cell {top['abc']} · {top['xyz']}" in detail
    assert format_value(cell["skus"], "int") in detail and format_value(cell["value"], "money0") in detail
    assert top["sku"] in detail


# --- Errors in words -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name,query,field,message", [
    ("stock-monitor", "status=sideways", "status", "Unknown value(s) sideways"),
    ("stock-monitor", "limit=0", "limit", "greater than or equal to 1"),
    ("reorder", "service_level=1.2", "service_level", "less than or equal to 0.999"),
    ("demand-forecast", "horizon_days=3", "horizon_days", "greater than or equal to 7"),
    ("supply-chain", "weight_price=-1", "weight_price", "greater than or equal to 0"),
    ("supply-chain", "weight_price=0&weight_on_time=0&weight_lead_time=0&weight_lead_time_variability=0&weight_quality=0",
     "weight_price", "At least one weight must be positive."),
    ("cost-optimization", "replay_days=10", "replay_days", "greater than or equal to 28"),
    ("performance", "window_days=soon", "window_days", "A valid integer is required."),
])
def test_a_bad_value_is_shown_beside_its_field(as_role, name, query, field, message):
    response, html = page(as_role("manager"), name, query)
    assert response.status_code == 400
    error = re.search(rf'<p class="field-error" id="err_{field}"[^>]*>(.*?)</p>', html, re.S)
    assert error and message in unescape(error.group(1))
    assert re.search(rf'id="id_{field}"[^>]*aria-invalid="true"', html)


def test_an_unknown_sku_is_refused_in_words(as_role):
    response, html = page(as_role("manager"), "demand-forecast", "skus=NO-SUCH-SKU")
    assert response.status_code == 404
    assert "Unknown SKU: NO-SUCH-SKU." in html


@pytest.mark.parametrize("name", ["stock-monitor", "overview", "reorder", "demand-forecast", "supply-chain",
                                  "cost-optimization", "performance"])
def test_a_store_the_user_may_not_see_is_refused_in_words(as_role, store_codes, name):
    mine, other = store_codes[0], store_codes[1]
    response, html = page(as_role("manager", stores=[mine]), name, f"store={other}")
    assert response.status_code == 403
    assert f"You do not have access to store {other}." in html
    assert 'data-chart="chart-0-data"' not in html  # no figures of that store


# --- The buttons, guarded by role ----------------------------------------------------------------------------------


def _order_once_part(user, store):
    """A stocked part of the store with its own policy, ordered once so the drafts have at least one line."""
    policy = StockPolicy.objects.filter(store__code=store, order_qty__gt=0, supplier__isnull=False).order_by("part__sku").first()
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(user)
    response = api.post(API + "reorder-decisions/", {"sku": policy.part.sku, "store": store, "action": "order_once", "quantity": 2},
                        format="json")
    assert response.status_code == 201, response.content
    return policy.part


def test_create_draft_pos_makes_drafts_once_grouped_by_supplier(as_role, store_codes):
    client = as_role("manager")
    store = store_codes[0]
    part = _order_once_part(client.user, store)
    url = reverse("inventory:reorder")
    before = PurchaseOrder.objects.filter(source="reorder", status="draft").count()
    first = client.post(url, {"action": "draft", "store": store, "limit": "5000"})
    assert first.status_code == 200
    html = first.content.decode()
    assert "Create draft POs for everything short: done." in html
    drafts = PurchaseOrder.objects.filter(source="reorder", status="draft", store__code=store)
    made = PurchaseOrder.objects.filter(source="reorder", status="draft").count() - before
    assert made >= 1 and drafts.count() == made
    assert drafts.values("supplier").distinct().count() == made  # one draft per supplier
    # The part ordered once is on its supplier's draft, its 2 units rounded up to the supplier's MOQ and packs.
    terms = SupplierPrice.objects.get(part=part, supplier=StockPolicy.objects.get(store__code=store, part=part).supplier)
    ordered = int(round_order_quantity([2], [terms.min_order_qty], [terms.pack_size])[0])
    assert drafts.filter(lines__part=part, lines__quantity=ordered).exists()
    shown = table_rows(html, "Draft purchase orders")
    assert {r["number"] for r in shown} == set(drafts.values_list("number", flat=True))
    assert {r["created"] for r in shown} == {"Yes"}

    second = client.post(url, {"action": "draft", "store": store, "limit": "5000"})
    assert second.status_code == 200
    assert PurchaseOrder.objects.filter(source="reorder", status="draft").count() == before + made  # nothing new
    again = table_rows(second.content.decode(), "Draft purchase orders")
    assert {r["number"] for r in again} == {r["number"] for r in shown} and {r["created"] for r in again} == {"No"}


@pytest.mark.parametrize("role", ["stakeholder", "staff"])
def test_roles_without_purchasing_see_no_buttons_and_are_refused(as_role, store_codes, role):
    client = as_role(role)
    response, html = page(client, "reorder", "include_all=true")
    assert response.status_code == 200
    assert "Create draft POs" not in html and "data-row-action" not in html
    before = PurchaseOrder.objects.count()
    assert client.post(reverse("inventory:reorder"), {"action": "draft", "store": store_codes[0]}).status_code == 403
    sku = StockPolicy.objects.filter(store__code=store_codes[0]).first().part.sku
    refused = client.post(API + "reorder-decisions/", {"sku": sku, "store": store_codes[0], "action": "order_once"},
                          content_type="application/json")
    assert refused.status_code == 403
    assert client.post(API + "stock-transfers/", {"sku": sku, "from_store": store_codes[0], "to_store": store_codes[1],
                                                   "quantity": 1}, content_type="application/json").status_code == 403
    assert PurchaseOrder.objects.count() == before and not ReorderDecision.objects.filter(part__sku=sku, action="order_once").exists()


def test_row_buttons_post_the_rows_part_and_store(as_role, api_answer):
    client = as_role("manager")
    html = page(client, "reorder", "include_all=true&limit=5")[1]
    body = api_answer(client.user, API + "reorder-suggestions", {"include_all": True, "limit": 5})
    first = body["results"][0]
    decision_url = reverse("inventory-api:reorder-decision")
    buttons = re.findall(r'data-row-action="([^"]+)" data-body="([^"]+)"', html)
    bodies = [json.loads(unescape(b)) for url, b in buttons if url == decision_url]
    assert {"sku": first["sku"], "store": first["store"], "action": "order_once"} in bodies
    assert {"sku": first["sku"], "store": first["store"], "action": "snooze"} in bodies
    # "Snooze until…" asks for its date beside the button.
    assert 'data-row-input="until"' in html and 'aria-label="Snooze until"' in html


def test_snooze_through_the_button_resource_hides_the_suggestion_until_its_date(as_role, store_codes, api_answer):
    client = as_role("manager")
    store = store_codes[0]
    row = api_answer(client.user, API + "reorder-suggestions", {"store": store, "include_all": True, "limit": 1})["results"][0]
    until = (timezone.localdate() + timedelta(days=10)).isoformat()
    response = client.post(API + "reorder-decisions/", {"sku": row["sku"], "store": store, "action": "snooze", "until": until},
                           content_type="application/json")
    assert response.status_code == 201 and response.json()["until"] == until
    html = page(client, "reorder", f"store={store}&include_all=true&limit=5000")[1]
    assert (row["sku"], store) not in {(r["sku"], r["store"]) for r in table_rows(html, "Suggestions")}
    html = page(client, "reorder", f"store={store}&include_all=true&include_snoozed=true&limit=5000")[1]
    snoozed = next(r for r in table_rows(html, "Suggestions") if r["sku"] == row["sku"])
    assert snoozed["decision_text"] == f"snoozed until {format_value(until, 'date')}"
    past = client.post(API + "reorder-decisions/", {"sku": row["sku"], "store": store, "action": "snooze"},
                       content_type="application/json")
    assert past.status_code == 400 and "until" in past.json()


def test_approve_min_max_through_the_button_resource_sets_the_stock_rows_policy(as_role, store_codes):
    client = as_role("manager")
    policy = StockPolicy.objects.filter(store__code=store_codes[0], order_qty__gt=0).order_by("part__sku").first()
    response = client.post(API + "reorder-decisions/", {"sku": policy.part.sku, "store": store_codes[0], "action": "approve_min_max"},
                           content_type="application/json")
    assert response.status_code == 201
    stock = Stock.objects.get(part=policy.part, store=policy.store)
    assert (stock.min_qty, stock.max_qty) == (policy.reorder_point, policy.max_level)


def test_a_proposed_transfer_gets_a_transfer_button_that_moves_the_units(as_role, store_codes, api_answer, short_of_stock):
    from inventory.models import Part
    from inventory.services import adjust_stock
    from mlanalytics.core.models import Store

    client = as_role("manager")
    needing, donor = store_codes[0], Store.objects.get(code=store_codes[1])
    body = api_answer(client.user, API + "reorder-suggestions", {"store": needing, "limit": 5000})
    item = next(s for s in body["results"] if not s["transfer"])
    part = Part.objects.get(sku=item["sku"])
    policy = StockPolicy.objects.get(store=donor, part=part)
    adjust_stock(part, donor, max(policy.max_level, policy.reorder_point) + 2 * item["suggested_quantity"] + 5, user=client.user,
                 reason="test: overstock")
    html = page(client, "reorder", f"store={needing}&skus={part.sku}")[1]
    row = table_rows(html, "Suggestions")[0]
    transfer = api_answer(client.user, API + "reorder-suggestions", {"store": needing, "skus": [part.sku]})["results"][0]["transfer"]
    assert row["transfer_text"] == f"{transfer['quantity']} from {donor.code}"
    url = reverse("inventory-api:stock-transfer") + f"?from_store={donor.code}"
    sent = next(json.loads(unescape(b)) for u, b in re.findall(r'data-row-action="([^"]+)" data-body="([^"]+)"', html)
                if unescape(u) == url)
    assert sent == {"sku": part.sku, "from_store": donor.code, "to_store": needing, "quantity": transfer["quantity"],
                    "reason": "transfer before buying"}
    before = Stock.objects.get(part=part, store__code=needing).on_hand
    assert client.post(unescape(url), sent, content_type="application/json").status_code == 201
    assert Stock.objects.get(part=part, store__code=needing).on_hand == before + transfer["quantity"]


def test_only_rows_with_a_proposed_transfer_get_the_transfer_button(as_role):
    html = page(as_role("manager"), "reorder", "include_all=true&limit=50")[1]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", html.split('<h3 class="table-title">Suggestions')[1].split("</table>")[0], re.S)[1:]
    for row in rows:
        has_transfer = re.search(r'data-field="transfer_text"[^>]*>–</td>', row) is None
        assert ("stock-transfers" in row) == has_transfer


def test_the_transfer_button_resource_moves_units_between_branches(as_role, store_codes):
    client = as_role("manager")
    giver = Stock.objects.filter(store__code=store_codes[1], on_hand__gte=3).select_related("part").order_by("part__sku").first()
    taker = Stock.objects.get(part=giver.part, store__code=store_codes[0])
    response = client.post(API + "stock-transfers/", {"sku": giver.part.sku, "from_store": store_codes[1], "to_store": store_codes[0],
                                                      "quantity": 2}, content_type="application/json")
    assert response.status_code == 201, response.content
    assert response.json()["to_store"]["on_hand"] == taker.on_hand + 2
    giver.refresh_from_db()
    assert response.json()["from_store"]["on_hand"] == giver.on_hand
    moves = StockMovement.objects.filter(part=giver.part, kind__in=["transfer_out", "transfer_in"]).order_by("-id")[:2]
    assert {m.quantity for m in moves} == {2, -2} and len({m.transfer_ref for m in moves}) == 1
    too_many = client.post(API + "stock-transfers/", {"sku": giver.part.sku, "from_store": store_codes[1], "to_store": store_codes[0],
                                                      "quantity": giver.on_hand + 1}, content_type="application/json")
    assert too_many.status_code == 409


def test_a_stock_count_through_the_api_changes_the_monitors_row(as_role, store_codes, django_capture_on_commit_callbacks):
    client = as_role("manager")
    store = store_codes[0]
    row = page(client, "stock-monitor", f"store={store}&limit=1")[1]
    sku = table_rows(row, "Stock by SKU and store")[0]["sku"]
    stock = Stock.objects.get(part__sku=sku, store__code=store)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(API + "stock-adjustments/", {"sku": sku, "store": store, "counted": stock.on_hand + 7,
                                                            "reason": "stock-take"}, content_type="application/json")
    assert response.status_code == 201 and response.json()["on_hand"] == stock.on_hand + 7
    shown = next(r for r in table_rows(page(client, "stock-monitor", f"store={store}&sku={sku}")[1], "Stock by SKU and store"))
    assert shown["on_hand"] == format_value(stock.on_hand + 7, "int")
    other = client.post(API + "stock-adjustments/", {"sku": sku, "store": "NOPE9", "counted": 1, "reason": "x"},
                        content_type="application/json")
    assert other.status_code == 404


# --- Exports -------------------------------------------------------------------------------------------------------


def test_stock_monitor_pdf_and_excel_hold_the_pages_table(as_role, api_answer):
    from openpyxl import load_workbook
    from pypdf import PdfReader

    client = as_role("stakeholder")
    query = "store=LON1&limit=30"
    body = api_answer(client.user, API + "stock-monitoring", {"store": "LON1", "limit": 30}, "get")
    url = reverse("inventory:stock-monitor-export", kwargs={"fmt": "xlsx"})
    response = client.get(f"{url}?{query}")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.content))
    sheet = book["Stock"]
    header = [c.value for c in sheet[1]]
    assert header[:4] == ["SKU", "Store", "Status", "Available"]
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [(r["sku"], r["store"], r["status"], r["available"]) for r in body["results"]]
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref

    url = reverse("inventory:stock-monitor-export", kwargs={"fmt": "pdf"})
    response = client.get(f"{url}?{query}")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(response.content)).pages)
    assert "Real-time Stock Monitor" in text and "LON1" in text
    squeezed = re.sub(r"\s+", "", text)  # narrow PDF columns wrap a SKU over lines
    assert body["results"][0]["sku"] in squeezed and body["results"][-1]["sku"] in squeezed


def test_reorder_and_supplier_excel_hold_every_suggestion_and_scorecard(as_role, api_answer):
    from openpyxl import load_workbook

    client = as_role("manager")
    body = api_answer(client.user, API + "reorder-suggestions", {"include_all": True, "limit": 40})
    url = reverse("inventory:reorder-export", kwargs={"fmt": "xlsx"})
    book = load_workbook(io.BytesIO(client.get(f"{url}?include_all=true&limit=40").content))
    rows = list(book["Suggestions"].iter_rows(min_row=2, values_only=True))
    assert [(r[0], r[1]) for r in rows] == [(s["sku"], s["store"]) for s in body["results"]]
    header = [c.value for c in book["Suggestions"][1]]
    assert [r[header.index("EOQ")] for r in rows] == [s["eoq"] for s in body["results"]]
    assert book["Suggestions"].cell(row=2, column=header.index("Line value") + 1).number_format == '"£"#,##0.00'

    cards = api_answer(client.user, API + "supply-chain-optimization", {})["scorecards"]
    url = reverse("inventory:supply-chain-export", kwargs={"fmt": "xlsx"})
    book = load_workbook(io.BytesIO(client.get(url).content))
    rows = list(book["Scorecards"].iter_rows(min_row=2, values_only=True))
    assert [r[1] for r in rows] == [c["code"] for c in cards]
    assert [r[4] for r in rows] == pytest.approx([c["on_time_rate"] for c in cards])


def test_performance_pdf_carries_the_matrix_and_the_window(as_role, api_answer):
    from pypdf import PdfReader

    client = as_role("manager")
    body = api_answer(client.user, API + "performance-analytics", {"window_days": 90}, "get")
    url = reverse("inventory:performance-export", kwargs={"fmt": "pdf"})
    response = client.get(f"{url}?window_days=90")
    assert response.status_code == 200
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(response.content)).pages)
    assert "Performance Analytics" in text and "ABC × XYZ matrix" in text
    assert format_value(body["abc_xyz"]["matrix"][0]["value"], "money") in text
    assert format_value(body["data_window"]["from"], "date") in text
