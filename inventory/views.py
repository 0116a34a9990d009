"""Dashboard pages of the Inventory Management panel (SPEC §5), declared with the page machinery
(mlanalytics.core.pages, docs/dashboards.md). One page per inventory endpoint, each calling the endpoint's
own handle(), so the page, the API and the PDF/Excel exports show the same figures:

  Real-time Stock Monitor    stock-monitor (GET stock-monitoring, rows live from "stock" events),
                             overview (GET overview)
  Automated Reorder System   reorder (POST reorder-suggestions: draft POs, order once, snooze, approve
                             min/max, transfer), demand-forecast (POST demand-forecast: stock projection)
  Supply Chain Optimizer     supply-chain (POST supply-chain-optimization, ranking weights in the form),
                             cost-optimization (POST cost-optimization: the policy replay, dead/excess stock)
  Performance Analytics      performance (GET performance-analytics)

`display_body()` only re-arranges an answer for charts and tables (a mapping as rows, "SKU · store"
labels, the store the page is scoped to for drill links); every figure shown is one of the response's own.
The writes are the endpoint's own (draft POs) and the small action resources in inventory/api (decisions,
transfers), all through inventory.services.
"""
from dataclasses import replace

from rest_framework import serializers

from mlanalytics.core.formatting import format_value, humanize_key
from mlanalytics.core.pages import (
    Action,
    AnalyticsPage,
    Chart,
    Column,
    Insight,
    Kpi,
    Link,
    RowAction,
    Series,
    Table,
    prepare_table,
)
from mlanalytics.core.roles import ACKNOWLEDGE_ALERTS, MANAGE_PURCHASING, has_capability
from mlanalytics.core.shop import currency

from .api import serializers as api_serializers
from .api import views as api
from .ml.suppliers import DEFAULT_WEIGHTS, SCORE_METRICS
from .models import PartCategory

STATUS_ORDER = ("out", "critical", "low", "over", "ok")
CATEGORY_LABELS = dict(PartCategory.choices)
WEIGHT_LABELS = {"price": "Price", "on_time": "On time", "lead_time": "Lead time", "lead_time_variability": "Lead-time spread",
                 "quality": "Quality"}
STATUS_LABELS = {"out": "Out", "critical": "Critical", "low": "Low", "over": "Over", "ok": "OK"}
CHART_ROWS = 12  # bars in a ranked chart; the table beside it holds every row


def _label(row):
    return f"{row.get('sku')} · {row.get('store')}"


def sku_link(store_key="store"):
    """A part at a store opens its stock projection (the demand-forecast page for that SKU)."""
    return Link("inventory:demand-forecast", query={"skus": "{sku}", "store": "{" + store_key + "}"}, optional=("store",))


def supplier_link(key="supplier"):
    """A supplier opens its scorecard on the Supply Chain Optimizer (for the store the page shows)."""
    return Link("inventory:supply-chain", query={"supplier": "{" + key + "}", "store": "{page_store}"}, optional=("store",))


class InventoryPage(AnalyticsPage):
    """What the inventory pages share: the panel, readable choices, tables shown only when they have rows,
    and the store the page is scoped to (for drill links that keep it)."""

    panel = "inventory"
    optional_tables = ()  # titles of tables hidden on screen when empty (e.g. drafts before the button)
    # InventoryAlert: the open projected-stockout alerts of the stores shown, live (above the figures when
    # stock_alerts_first, else under them).
    shows_stock_alerts = False
    stock_alerts_first = False

    def context(self, request, data, result):
        context = super().context(request, data, result)
        if self.shows_stock_alerts:
            context["stock_alerts"] = (stock_alerts(request.user, data.get("store"))
                                       if result is not None and result.ok else None)
        return context

    def results_context(self, result):
        if result is not None and result.ok:
            # The store the request was scoped to (blank: all the user's stores), so drill links keep it.
            result = replace(result, body={**result.body, "page_store": (result.params or {}).get("store") or ""})
        context = super().results_context(result)
        if context.get("tables"):
            context["tables"] = [t for t in context["tables"] if t["rows"] or t["spec"].title not in self.optional_tables]
        return context


# --- Real-time Stock Monitor ------------------------------------------------------------------------------------


class StockMonitorPage(InventoryPage):
    api_view = api.StockMonitoringView
    slug, title = "stock-monitor", "Real-time Stock Monitor"
    intro = ("Every SKU per store: on hand, reserved, available, reorder point, status, days of cover and the projected "
             "stockout date. Rows change in place as stock moves (repairs, deliveries, counts, transfers); stockout "
             "alerts appear above the figures as they fire. Click a status, a category or a part for its detail.")
    template_name = "inventory/with_stock_alerts.html"
    shows_stock_alerts = stock_alerts_first = True
    form_labels = {"status": "Status", "sku": "SKU", "category": "Category", "search": "Search SKU or name",
                   "ordering": "Order by", "limit": "Rows", "offset": "Skip the first"}
    choice_labels = {"ordering": {"urgency": "Urgency (out, critical, low first)", "sku": "SKU",
                                  "days_of_cover": "Days of cover (fewest first)", "value": "Stock value (highest first)"}}
    kpis = (
        Kpi("count", "SKU lines matching", "int", note="{} listed below", note_path="display.listed"),
        Kpi("status_counts.out", "Out of stock", "int", note="nothing available, demand expected"),
        Kpi("status_counts.critical", "Critical", "int", note="runs out within the lead time"),
        Kpi("status_counts.low", "Low", "int", note="at or below the reorder point"),
        Kpi("status_counts.over", "Over", "int", note="above the maximum level"),
        Kpi("status_counts.ok", "OK", "int", note="between reorder point and maximum"),
    )
    charts = (
        # RealTimeCharts: a stock event moves a line between status bars and resizes its part's bars at once
        # (reducers stock_status and stock_levels in static/js/charts.js); the results re-read reconciles.
        Chart.bar("display.status_rows", "label", "count", "SKU lines by status", label="SKU lines", y_fmt="int", height=260,
                  drill=Link("inventory:stock-monitor", query={"status": "{status}", "store": "{page_store}"}, optional=("store",)),
                  live="stock_status"),
        Chart("bar", "Available against reorder point, most urgent lines", (
            Series("display.urgent", "label", "available", "Available"),
            Series("display.urgent", "label", "reorder_point", "Reorder point", mode="markers"),
        ), orientation="h", y_fmt="int", height=380, drill=sku_link(), live="stock_levels",
            note="Bars: units available; diamonds: the reorder point. Click a part for its projected stock path and deliveries."),
    )
    tables = (
        Table("display.results", "Stock by SKU and store", (
            Column("sku", "SKU", link=sku_link()),
            Column("store", "Store", link=Link("inventory:stock-monitor", query={"store": "{store}"})),
            Column("status", "Status", "status"), Column("available", "Available", "int"),
            Column("on_hand", "On hand", "int"), Column("reserved", "Reserved", "int"), Column("on_order", "On order", "int"),
            Column("reorder_point", "Reorder point", "int"), Column("max_level", "Maximum", "int"),
            Column("days_of_cover", "Days of cover", "days"), Column("projected_stockout_date", "Projected stockout", "date"),
            Column("next_delivery", "Next delivery", "date"), Column("name", "Part"),
            Column("category_label", "Category", link=Link("inventory:stock-monitor", query={"category": "{category}", "store": "{page_store}"},
                                                            optional=("store",))),
            Column("stock_value", "Value at cost", "money"),
        ), key=("sku", "store"), live_event="stock", sheet="Stock", pdf_rows=40,
            empty="No SKU matches these filters: clear the status, category or search."),
    )
    refresh_on = ("stock",)  # rows change in place at once; the counts and charts re-read shortly after
    empty_text = "No stock lines for these settings. Clear the filters or choose another store."

    @classmethod
    def display_body(cls, body):
        store = body.get("page_store", "")
        counts = body.get("status_counts") or {}
        results = body.get("results") or []
        urgent = [r for r in results if r.get("status") in ("out", "critical", "low")][:CHART_ROWS] or results[:CHART_ROWS]
        return {**body, "display": {
            "listed": len(results),
            "results": [{**r, "category_label": CATEGORY_LABELS.get(r.get("category"), r.get("category")), "page_store": store}
                        for r in results],
            "status_rows": [{"status": s, "label": STATUS_LABELS[s], "count": counts.get(s, 0), "page_store": store}
                            for s in STATUS_ORDER if s in counts],
            "urgent": [{**r, "label": _label(r)} for r in urgent],
        }}

    def is_empty(self, body):
        return not body.get("results")  # subscriptions skip a report with no line matching its filters


def stock_alerts(user, store_code, limit=8):
    """The open projected-stockout alerts of the stores a page shows (InventoryAlert), for roles that get
    alerts; None for the others (the component is not shown)."""
    from mlanalytics.core.alerts import serialize_alert
    from mlanalytics.core.models import Alert
    from mlanalytics.core.scoping import resolve_stores
    from mlanalytics.core.selectors import visible_alerts

    if not has_capability(user, ACKNOWLEDGE_ALERTS):
        return None
    stores = resolve_stores(user, store_code or None)
    alerts = (visible_alerts(user, stores).filter(kind=Alert.Kind.STOCKOUT_RISK).exclude(state=Alert.State.RESOLVED)
              .select_related("store").order_by("-fired_at")[:limit])
    return [serialize_alert(a) for a in alerts]


class OverviewPage(InventoryPage):
    api_view = api.OverviewView
    slug, title = "overview", "Inventory overview"
    template_name = "inventory/with_stock_alerts.html"
    shows_stock_alerts = True
    intro = ("The stock of your stores at a glance: value at cost, SKU lines by status, open purchase orders, turnover and "
             "days of cover, and the most urgent stock alerts. Click a store or a status for the lines behind it.")
    kpis = (
        Kpi("active_skus", "Active SKUs", "int", note="{} stock lines", note_path="stock_lines"),
        Kpi("stock_value", "Stock value at cost", "money0"),
        Kpi("open_purchase_orders.value", "Open purchase orders", "money0", note="{} orders outstanding",
            note_path="open_purchase_orders.count", note_fmt="int"),
        Kpi("open_purchase_orders.draft_value", "Draft purchase orders", "money0", note="{} drafts to place",
            note_path="open_purchase_orders.drafts", note_fmt="int"),
        Kpi("turnover.turns_per_year", "Stock turns a year", "num1", note="{} days of cover",
            note_path="turnover.days_of_cover", note_fmt="num1"),
        Kpi("open_stockout_alerts", "Open stockout alerts", "int"),
    )
    charts = (
        Chart.bar("display.store_status", "status_label", "count", "SKU lines by status and store", group="store", y_fmt="int",
                  height=300, drill=Link("inventory:stock-monitor", query={"store": "{store}", "status": "{status}"})),
        Chart.bar("by_store", "store", "stock_value", "Stock value at cost by store", label="Value at cost", y_fmt="money0",
                  height=300, drill=Link("inventory:stock-monitor", query={"store": "{store}", "ordering": "value"})),
    )
    tables = (
        Table("by_store", "Stores", (
            Column("store", "Store", link=Link("inventory:stock-monitor", query={"store": "{store}"})),
            Column("stock_value", "Value at cost", "money"), Column("out", "Out", "int"), Column("critical", "Critical", "int"),
            Column("low", "Low", "int"), Column("over", "Over", "int"), Column("ok", "OK", "int"),
        )),
        Table("top_alerts", "Most urgent stock alerts", (
            Column("severity", "Severity", "status"), Column("store", "Store"),
            Column("data.sku", "SKU", link=Link("inventory:demand-forecast", query={"skus": "{data.sku}", "store": "{store}"})),
            Column("title", "Alert", link=Link("dashboard-alerts", query={"focus": "{id}"})),
            Column("state", "State"), Column("fired_at", "Fired", "datetime"),
        ), empty="No open stock alerts: nothing is projected to run out within its lead time."),
        Table("display.turnover_rows", "Turnover (last 365 days)", (
            Column("name", "Figure"), Column("value", "Value", "num2"),
        ), sheet="Turnover"),
    )
    refresh_on = ("stock", "alert", "alert_resolved")

    @classmethod
    def display_body(cls, body):
        turnover = body.get("turnover") or {}
        symbol = currency().symbol
        return {**body, "display": {
            "store_status": [{"store": r["store"], "status": s, "status_label": STATUS_LABELS[s], "count": r.get(s, 0)}
                             for s in STATUS_ORDER for r in body.get("by_store") or []],
            "turnover_rows": [{"name": f"Cost of parts used ({symbol})", "value": turnover.get("cost_of_parts_used")},
                              {"name": f"Average inventory value at cost ({symbol})",
                               "value": turnover.get("average_inventory_value")},
                              {"name": "Turns a year", "value": turnover.get("turns_per_year")},
                              {"name": "Days of cover", "value": turnover.get("days_of_cover")}],
        }}


# --- Automated Reorder System ------------------------------------------------------------------------------------

DECISION = Link("inventory-api:reorder-decision")


class ReorderPage(InventoryPage):
    api_view = api.ReorderSuggestionsView
    method = "POST"
    slug, title = "reorder", "Automated Reorder System"
    template_name = "inventory/with_stock_alerts.html"
    shows_stock_alerts = True
    intro = ("What to order now under the recommended policy: reorder point (lead-time demand + safety stock at the service "
             "level), EOQ order quantity rounded to MOQ and packs, the cheapest supplier by total cost, and a transfer from "
             "another branch before buying. Managers draft purchase orders for everything short in one click (grouped by "
             "supplier; a second click adds nothing), order a part once, snooze it, or approve its min/max.")
    form_exclude = ("create_draft_pos", "decisions")
    form_labels = {"skus": "SKUs", "service_level": "Service level", "include_all": "Every stocked part, not only those to reorder",
                   "include_snoozed": "Include snoozed parts", "limit": "Rows"}
    actions = (
        Action("draft", "Create draft POs for everything short", MANAGE_PURCHASING, data={"create_draft_pos": True},
               confirm="Put every suggested purchase into draft purchase orders, one per store and supplier? "
                       "Running it again adds nothing new."),
    )
    optional_tables = ("Draft purchase orders", "Draft purchase order lines")
    kpis = (
        Kpi("count", "Suggestions", "int", note="{} transfers proposed", note_path="summary.transfers"),
        Kpi("summary.by_urgency.out", "Out of stock", "int"),
        Kpi("summary.by_urgency.critical", "Critical", "int", note="runs out within the lead time"),
        Kpi("summary.by_urgency.high", "High", "int", note="runs out within lead time + review + 7 days"),
        Kpi("summary.purchase_value", "Purchase value", "money0"),
    )
    charts = (
        Chart.bar("display.by_supplier", "supplier", "value", "Purchase value by supplier", label="Purchase value", y_fmt="money0",
                  height=280, orientation="h", drill=supplier_link(), note="Click a supplier for its scorecard."),
        Chart("bar", "Stock position against reorder point, most urgent parts", (
            Series("display.top", "label", "position", "Position (available + on order)"),
            Series("display.top", "label", "reorder_point", "Reorder point"),
            Series("display.top", "label", "suggested_quantity", "Suggested order"),
        ), orientation="h", y_fmt="int", height=400, drill=sku_link()),
    )
    tables = (
        Table("display.results", "Suggestions", (
            Column("sku", "SKU", link=sku_link()), Column("store", "Store"), Column("urgency", "Urgency", "status"),
            Column("name", "Part"),
            Column("available", "Available", "int"), Column("on_order", "On order", "int"),
            Column("reorder_point", "Reorder point", "int"), Column("safety_stock", "Safety stock", "num1"),
            Column("max_level", "Maximum", "int"), Column("eoq", "EOQ", "num1"),
            Column("suggested_quantity", "Suggested", "int"), Column("transfer_text", "Transfer first"),
            Column("purchase_quantity", "Buy", "int"),
            Column("supplier", "Supplier", link=supplier_link()),
            Column("unit_price", "Unit price", "money"), Column("line_value", "Line value", "money"),
            Column("lead_time_days", "Lead time", "days"), Column("projected_stockout_date", "Projected stockout", "date"),
            Column("in_draft_purchase_order", "In draft"), Column("decision_text", "Decision"),
        ), sheet="Suggestions", pdf_rows=60, actions_after=3, row_actions=(
            RowAction("Order once", DECISION, MANAGE_PURCHASING, data={"sku": "{sku}", "store": "{store}", "action": "order_once"}),
            RowAction("Snooze until…", DECISION, MANAGE_PURCHASING, data={"sku": "{sku}", "store": "{store}", "action": "snooze"},
                      inputs=(("until", "date", "Snooze until"),)),
            RowAction("Approve min/max", DECISION, MANAGE_PURCHASING,
                      data={"sku": "{sku}", "store": "{store}", "action": "approve_min_max"},
                      confirm="Make the proposed reorder point and maximum this part's min/max at this store?"),
            # Only rows with a proposed transfer get the button: the link needs the donor store.
            RowAction("Transfer", Link("inventory-api:stock-transfer", query={"from_store": "{transfer.from_store}"}), MANAGE_PURCHASING,
                      data={"sku": "{sku}", "from_store": "{transfer.from_store}", "to_store": "{store}",
                            "quantity": "{transfer.quantity}", "reason": "transfer before buying"},
                      confirm="Move these units from the other branch now?"),
        ), empty="Nothing to reorder: every stocked part is above its reorder point."),
        Table("display.by_supplier", "Purchase value by supplier", (
            Column("supplier", "Supplier", link=supplier_link()), Column("lines", "Lines", "int"),
            Column("units", "Units", "int"), Column("value", "Value", "money"),
        ), sheet="By supplier"),
        Table("draft_purchase_orders", "Draft purchase orders", (
            Column("number", "Purchase order"), Column("store", "Store"), Column("supplier", "Supplier"),
            Column("status", "Status"), Column("created", "New", "bool"), Column("line_count", "Lines", "int"),
            Column("value", "Value", "money"),
        ), sheet="Draft POs"),
        Table("display.draft_lines", "Draft purchase order lines", (
            Column("number", "Purchase order"), Column("store", "Store"), Column("supplier", "Supplier"),
            Column("sku", "SKU"), Column("quantity", "Quantity", "int"), Column("unit_price", "Unit price", "money"),
            Column("action", "Change"),
        ), sheet="Draft PO lines"),
    )
    empty_text = ("Nothing to reorder for these settings: every stocked part is above its reorder point. Tick “Every "
                  "stocked part” to see each part's policy.")

    @classmethod
    def display_body(cls, body):
        store = body.get("page_store", "")
        results = []
        for r in body.get("results") or []:
            transfer = r.get("transfer") or {}
            decided = [text for flag, text in ((r.get("order_once"), "order once"),
                                               (r.get("snoozed_until"), f"snoozed until {format_value(r.get('snoozed_until'), 'date')}"),
                                               (r.get("approved_min_max"), "min/max approved")) if flag]
            results.append({**r, "label": _label(r), "page_store": store, "decision_text": "; ".join(decided),
                            "transfer_text": f"{transfer['quantity']} from {transfer['from_store']}" if transfer else ""})
        drafts = [{**d, "line_count": len(d.get("lines") or [])} for d in body.get("draft_purchase_orders") or []]
        return {**body, "draft_purchase_orders": drafts, "display": {
            "results": results,
            "top": results[:CHART_ROWS],
            "by_supplier": [{**s, "page_store": store} for s in (body.get("summary") or {}).get("by_supplier") or []],
            "draft_lines": [{"number": d["number"], "store": d["store"], "supplier": d["supplier"], **line}
                            for d in drafts for line in d.get("lines") or []],
        }}

    def is_empty(self, body):
        return not body.get("results") and not body.get("draft_purchase_orders")


class DemandForecastPage(InventoryPage):
    api_view = api.DemandForecastView
    method = "POST"
    slug, title = "demand-forecast", "Stock projection"
    intro = ("Per part and store: demand over the lead time and over lead time + review period, and the projected stock "
             "path — available stock plus deliveries on their expected dates, minus the forecast — with the day it runs "
             "out. Soonest stockouts first; click a part (or enter its SKU) for its own path and reorder point.")
    form_labels = {"skus": "SKUs", "horizon_days": "Horizon (days)", "service_level": "Service level", "limit": "Parts"}
    insights = (
        Insight("display.first.horizon_demand", "Demand over the horizon, first part listed", "num1",
                note="Forecast of the parts-demand model behind the reorder policies; its backtest is below."),
    )
    kpis = (
        Kpi("count", "Parts with demand", "int", note="{} projected below", note_path="display.listed"),
        Kpi("display.first.projected_stockout_date", "Soonest projected stockout", "date", note="{}",
            note_path="display.first.label", note_fmt="text"),
        Kpi("display.first.lead_time_demand.mean", "Lead-time demand, first part", "num1", note="over {} days",
            note_path="display.first.lead_time_days", note_fmt="num1"),
        Kpi("display.first.protection_demand.quantile_at_service_level", "Reorder point, first part", "int",
            note="protection-interval demand at service level {}", note_path="display.first.protection_demand.service_level",
            note_fmt="pct"),
    )
    charts = (
        Chart("timeseries", "Projected stock on hand", (
            Series("display.paths", "date", "projected_on_hand", mode="lines", group="label"),
        ), y_fmt="num1", height=380, drill=sku_link(),
            note="One line per part (the first eight listed); below zero, repairs would wait for that many units. With one "
                 "part, its reorder point is drawn too. Click a line for that part alone."),
        Chart("bar", "Available against demand over lead time + review", (
            Series("display.parts", "label", "available", "Available"),
            Series("display.parts", "label", "protection_mean", "Expected demand (lead time + review)"),
            Series("display.parts", "label", "reorder_point", "Reorder point"),
        ), orientation="h", y_fmt="num1", height=400, drill=sku_link()),
    )
    tables = (
        Table("display.results", "Parts by projected stockout", (
            Column("store", "Store"), Column("sku", "SKU", link=sku_link()), Column("name", "Part"),
            Column("status", "Status", "status"), Column("demand_class", "Demand class"), Column("forecast_method", "Method"),
            Column("daily_mean", "Per day", "num2"), Column("lead_time_days", "Lead time", "days"),
            Column("lead_time_demand.mean", "Lead-time demand", "num1"),
            Column("protection_demand.mean", "Lead time + review demand", "num1"),
            Column("protection_demand.quantile_at_service_level", "Reorder point", "int"),
            Column("horizon_demand", "Horizon demand", "num1"), Column("available", "Available", "int"),
            Column("on_order", "On order", "int"), Column("projected_stockout_date", "Projected stockout", "date"),
            Column("days_to_stockout", "Days to stockout", "days"),
        ), sheet="Parts", empty="No part with forecast demand for these settings."),
        Table("display.first_path", "Projected path of the first part", (
            Column("date", "Day", "date"), Column("projected_on_hand", "Projected on hand", "num1"),
            Column("delivery", "Delivery", "int"),
        ), sheet="Projected path", pdf_rows=40),
        Table("display.deliveries", "Deliveries on the way", (
            Column("store", "Store"), Column("sku", "SKU"), Column("purchase_order", "Purchase order"),
            Column("in_days", "In days", "int"), Column("quantity", "Units", "int"),
        ), sheet="Deliveries", empty="No open purchase order delivers these parts."),
    )
    empty_text = "No part with forecast demand for these settings: choose another store or category."

    @classmethod
    def display_body(cls, body):
        results = [{**r, "label": _label(r)} for r in body.get("results") or []]
        paths = []
        for r in results[:8]:
            paths.extend({**p, "label": r["label"], "sku": r["sku"], "store": r["store"]} for p in r.get("projected_path") or [])
        if len(results) == 1:
            only = results[0]
            point = (only.get("protection_demand") or {}).get("quantile_at_service_level")
            paths.extend({"date": p["date"], "projected_on_hand": point, "label": f"Reorder point ({format_value(point, 'int')})",
                          "sku": only["sku"], "store": only["store"]} for p in only.get("projected_path") or [])
        first = results[0] if results else {}
        return {**body, "display": {
            "results": results, "listed": len(results), "first": first, "paths": paths,
            "first_path": first.get("projected_path") or [],
            "parts": [{**r, "protection_mean": (r.get("protection_demand") or {}).get("mean"),
                       "reorder_point": (r.get("protection_demand") or {}).get("quantile_at_service_level")}
                      for r in results[:CHART_ROWS]],
            "deliveries": [{"store": r["store"], "sku": r["sku"], **d} for r in results for d in r.get("deliveries") or []],
        }}

    def is_empty(self, body):
        return not body.get("results")


# --- Supply Chain Optimizer --------------------------------------------------------------------------------------


class SupplyChainPageRequest(api_serializers.SupplyChainRequest):
    """The endpoint's parameters with the ranking weights as one number field each, so the form can show them and
    put a message beside the one at fault; they are passed on as the endpoint's `weights`."""

    weight_price = serializers.FloatField(min_value=0, max_value=100, required=False, label="Weight: price",
                                          initial=DEFAULT_WEIGHTS["price"])
    weight_on_time = serializers.FloatField(min_value=0, max_value=100, required=False, label="Weight: on time",
                                            initial=DEFAULT_WEIGHTS["on_time"])
    weight_lead_time = serializers.FloatField(min_value=0, max_value=100, required=False, label="Weight: lead time",
                                              initial=DEFAULT_WEIGHTS["lead_time"])
    weight_lead_time_variability = serializers.FloatField(min_value=0, max_value=100, required=False,
                                                          label="Weight: lead-time spread",
                                                          initial=DEFAULT_WEIGHTS["lead_time_variability"])
    weight_quality = serializers.FloatField(min_value=0, max_value=100, required=False, label="Weight: quality",
                                            initial=DEFAULT_WEIGHTS["quality"])

    def validate(self, attrs):
        given = {name: attrs.pop(f"weight_{name}") for name in SCORE_METRICS if f"weight_{name}" in attrs}
        if given:
            weights = {name: given.get(name, 0.0) for name in SCORE_METRICS}
            if sum(weights.values()) <= 0:
                raise serializers.ValidationError({"weight_price": "At least one weight must be positive."})
            attrs["weights"] = weights
        return attrs


class SupplyChainPageView(api.SupplyChainOptimizationView):
    """supply-chain-optimization as the page calls it: the same compute, the weights as separate fields."""

    request_serializer = SupplyChainPageRequest


class SupplyChainPage(InventoryPage):
    api_view = SupplyChainPageView
    method = "POST"
    slug, title = "supply-chain", "Supply Chain Optimizer"
    intro = ("Supplier scorecards from your purchase orders and receipts, a ranking weighted as you choose, and the "
             "allocation of forecast demand across suppliers that minimises landed cost plus risk (mixed-integer "
             "programme, MOQ and capacity respected), with its saving against how you buy today. Click a supplier for "
             "its scorecard, a store for its own allocation.")
    template_name = "inventory/supply_chain.html"
    form_exclude = ("weights",)
    form_labels = {"horizon_days": "Horizon (days)", "window_days": "Purchase history (days)",
                   "risk_aversion": "Risk aversion", "service_level": "Service level", "limit": "Parts listed"}
    kpis = (
        Kpi("allocation.saving", "Saving against today's allocation", "money0", note="{} of today's cost",
            note_path="allocation.saving_share", note_fmt="pct"),
        Kpi("allocation.landed_saving", "of which cash", "money0", note="price, defects, ordering, cycle stock"),
        Kpi("allocation.risk_saving", "of which risk", "money0", note="safety stock, stockouts, late deliveries"),
        Kpi("allocation.optimal_cost", "Optimal cost over the horizon", "money0", note="today {}",
            note_path="allocation.today_cost", note_fmt="money0"),
        Kpi("allocation.demand_units", "Forecast demand (units)", "int", note="{} left unallocated",
            note_path="allocation.unallocated_units", note_fmt="int"),
        Kpi("allocation.solver_status", "Allocation", "text", note="mixed-integer programme solved by HiGHS"),
    )
    charts = (
        Chart.bar("display.scorecards", "code", "score", "Weighted supplier score (1 = best on every criterion)",
                  label="Score", y_fmt="num2", height=300, orientation="h", drill=supplier_link("code")),
        Chart("bar", "Units over the horizon: today's allocation against the optimum", (
            Series("display.by_supplier", "supplier", "today_units", "Today"),
            Series("display.by_supplier", "supplier", "units", "Optimal"),
        ), y_fmt="int", height=320, orientation="h", drill=supplier_link()),
        Chart("bar", "Saving by store", (
            Series("allocation.by_store", "store", "landed_saving", "Cash"),
            Series("allocation.by_store", "store", "risk_saving", "Risk"),
        ), stacked=True, y_fmt="money0", height=280,
            drill=Link("inventory:supply-chain", query={"store": "{store}"})),
    )
    tables = (
        Table("display.scorecards", "Supplier scorecards (ranked)", (
            Column("rank", "Rank", "int"), Column("code", "Supplier", link=supplier_link("code")), Column("name", "Name"),
            Column("orders", "Orders", "int"), Column("on_time_rate", "On time", "pct"), Column("otif_rate", "OTIF", "pct"),
            Column("lead_time_mean", "Lead time", "days"), Column("lead_time_sd", "Lead-time SD", "days"),
            Column("lead_time_p90", "Lead time p90", "days"), Column("quoted_lead_time_days", "Quoted", "days"),
            Column("mean_days_late", "Days late (mean)", "num2"), Column("defect_rate", "Defects", "pct"),
            Column("price_index", "Price index", "num2"), Column("score", "Score", "num2"),
            Column("reliability_score", "Reliability", "num2"),
        ), sheet="Scorecards"),
        Table("display.by_supplier", "Allocation by supplier", (
            Column("supplier", "Supplier", link=supplier_link()), Column("today_units", "Units today", "num1"),
            Column("units", "Units optimal", "num1"), Column("share", "Share", "pct"), Column("cost", "Cost optimal", "money"),
        ), sheet="Allocation"),
        Table("allocation.by_store", "Saving by store", (
            Column("store", "Store", link=Link("inventory:supply-chain", query={"store": "{store}"})),
            Column("today_cost", "Today", "money"), Column("optimal_cost", "Optimal", "money"), Column("saving", "Saving", "money"),
            Column("saving_share", "Saving share", "pct"), Column("landed_saving", "Cash", "money"),
            Column("risk_saving", "Risk", "money"),
        ), sheet="By store"),
        Table("display.changes", "Largest changes by part", (
            Column("sku", "SKU", link=Link("inventory:stock-monitor", query={"sku": "{sku}", "store": "{page_store}"},
                                             optional=("store",))),
            Column("units", "Units", "num1"), Column("today_cost", "Today", "money"), Column("optimal_cost", "Optimal", "money"),
            Column("saving", "Saving", "money"), Column("suppliers_text", "Buy from"),
        ), sheet="Changes by part"),
        Table("display.weights", "Ranking weights used (normalised)", (
            Column("name", "Criterion"), Column("value", "Weight", "pct"),
        ), sheet="Weights"),
    )
    empty_text = "No supplier history for these settings: widen the purchase history window."

    @classmethod
    def display_body(cls, body):
        store = body.get("page_store", "")
        allocation = body.get("allocation") or {}
        cards = [{**c, "page_store": store} for c in body.get("scorecards") or []]
        return {**body, "display": {
            "scorecards": cards,
            "by_supplier": [{**r, "page_store": store} for r in allocation.get("by_supplier") or []],
            "changes": [{**c, "page_store": store,
                         "suppliers_text": ", ".join(f"{s['supplier']} {format_value(s['units'], 'num1')}"
                                                     for s in c.get("optimal_suppliers") or [])}
                        for c in allocation.get("largest_changes") or []],
            "weights": [{"name": WEIGHT_LABELS.get(k, humanize_key(k)), "value": v} for k, v in (body.get("weights") or {}).items()],
        }}

    def context(self, request, data, result):
        context = super().context(request, data, result)
        code = request.GET.get("supplier", "").strip()
        if code and result is not None and result.ok:
            context["supplier_detail"] = {**supplier_detail(result.body, code, request.user),
                                          "clear_url": _without(request, "supplier"), "clear_text": "Back to every supplier"}
        return context


def _without(request, *names):
    """This page's URL without the given query parameters (the way back from a detail)."""
    query = request.GET.copy()
    for name in names:
        query.pop(name, None)
    return f"{request.path}?{query.urlencode()}" if query else request.path


def _tiles(figures):
    """(label, text) pairs as PerformanceMetrics tiles (the KPI component) for a detail card."""
    return [{"key": f"detail-{i}", "path": "", "label": label, "text": text, "fmt": "text", "note": ""}
            for i, (label, text) in enumerate(figures)]


def supplier_detail(body, code, user):
    """One supplier's scorecard, allocation and part changes, picked out of the endpoint's answer (drill-down)."""
    card = next((c for c in body.get("scorecards") or [] if str(c.get("code", "")).lower() == code.lower()), None)
    if card is None:
        return {"heading": f"Supplier {code}",
                "missing": f"No supplier {code} in these results: it has no purchase orders or price list for these stores."}
    allocation = body.get("allocation") or {}
    row = next((r for r in allocation.get("by_supplier") or [] if r.get("supplier") == card["code"]), {})
    figures = [
        ("Rank", format_value(card.get("rank"), "int") + f" of {len(body.get('scorecards') or [])}"),
        ("Score", format_value(card.get("score"), "num2")), ("Purchase orders", format_value(card.get("orders"), "int")),
        ("On time", format_value(card.get("on_time_rate"), "pct")), ("On time in full", format_value(card.get("otif_rate"), "pct")),
        ("Lead time (mean)", format_value(card.get("lead_time_mean"), "days")),
        ("Lead time quoted", format_value(card.get("quoted_lead_time_days"), "days")),
        ("Lead-time SD", format_value(card.get("lead_time_sd"), "days")),
        ("Defect rate", format_value(card.get("defect_rate"), "pct")), ("Price index", format_value(card.get("price_index"), "num2")),
        ("Units today (horizon)", format_value(row.get("today_units"), "num1")),
        ("Units optimal (horizon)", format_value(row.get("units"), "num1")),
    ]
    changes = [{**c, "units_here": next(s["units"] for s in c["optimal_suppliers"] if s["supplier"] == card["code"])}
               for c in allocation.get("largest_changes") or [] if any(s["supplier"] == card["code"] for s in c.get("optimal_suppliers") or [])]
    table = prepare_table(Table("changes", "Parts the optimum buys from this supplier (among the largest changes)", (
        Column("sku", "SKU", link=Link("inventory:stock-monitor", query={"sku": "{sku}"})),
        Column("units_here", "Units from it", "num1"), Column("units", "Units in all", "num1"), Column("saving", "Saving", "money"),
    ), empty="None of the parts with the largest changes moves to this supplier."), {"changes": changes}, user=user)
    return {"heading": f"Supplier {card['code']} · {card.get('name') or ''}".strip(" ·"), "tiles": _tiles(figures), "table": table}


class CostOptimizationPage(InventoryPage):
    api_view = api.CostOptimizationView
    method = "POST"
    slug, title = "cost-optimization", "Inventory cost"
    intro = ("A year of your actual demand replayed day by day through today's ordering habit and through the recommended "
             "policy, from the real opening stock with each supplier's real lead times: holding, ordering and stockout "
             "cost, fill rate and service level of each. Below: dead stock (no use in months) and excess stock with "
             "their value. Click a store for its own replay, a part for its stock.")
    form_labels = {"service_level": "Service level", "replay_days": "Days replayed", "dead_stock_days": "Dead after (days unused)",
                   "limit": "Parts listed"}
    kpis = (
        Kpi("replay.saving.yearly", "Saving a year with the recommended policy", "money0", note="{} of today's inventory cost",
            note_path="replay.saving.share", note_fmt="pct"),
        Kpi("replay.yearly.recommended.total_cost", "Inventory cost a year, recommended", "money0", note="today {}",
            note_path="replay.yearly.today.total_cost", note_fmt="money0"),
        Kpi("replay.recommended.fill_rate", "Fill rate, recommended", "pct", note="today {} in the replay",
            note_path="replay.today.fill_rate", note_fmt="pct"),
        Kpi("replay.observed.fill_rate", "Fill rate actually observed", "pct",
            note="units on the shelf when needed: checks the replay of today's rule"),
        Kpi("dead_stock.value", "Dead stock", "money0", note="{} lines", note_path="dead_stock.items", note_fmt="int"),
        Kpi("excess_stock.value", "Excess stock", "money0", note="{} lines", note_path="excess_stock.items", note_fmt="int"),
    )
    charts = (
        Chart("bar", "Inventory cost a year: today against the recommended policy", (
            Series("display.components", "component", "today", "Today"),
            Series("display.components", "component", "recommended", "Recommended"),
        ), y_fmt="money0", height=300),
        Chart("bar", "Fill rate by store", (
            Series("display.stores", "store", "today_fill_rate", "Today"),
            Series("display.stores", "store", "recommended_fill_rate", "Recommended"),
        ), y_fmt="pct", height=280, drill=Link("inventory:cost-optimization", query={"store": "{store}"})),
        Chart.bar("display.dead", "label", "stock_value", "Dead stock by value", label="Value at cost", orientation="h",
                  y_fmt="money0", height=380, drill=Link("inventory:stock-monitor", query={"sku": "{sku}", "store": "{store}"})),
        Chart("bar", "Cycle service level asked for against delivered out of sample", (
            Series("display.service_levels", "label", "service_level", "Target"),
            Series("display.service_levels", "label", "delivered_cycle_service_level", "Delivered out of sample"),
        ), y_fmt="pct", height=260),
    )
    tables = (
        Table("display.service_levels", "Service level promised and delivered out of sample", (
            Column("service_level", "Target", "pct"),
            Column("delivered_cycle_service_level", "Delivered (all cycles)", "pct"),
            Column("cycle_service_level_stocked", "Cycles of stocked parts", "pct"),
            Column("cycles_unstocked", "Short, nothing stocked yet", "int"),
            Column("fill_rate", "Fill rate", "pct"), Column("yearly_holding_cost", "Holding a year", "money"),
            Column("total_cost", "Total cost", "money"), Column("average_stock_value", "Average stock value", "money"),
        ), sheet="Service levels", empty="Shown for the stored replay (each part's own service level, 365 days)."),
        Table("display.costs", "Cost over the replay", (
            Column("name", "Cost"), Column("today", "Today", "money"), Column("recommended", "Recommended", "money"),
            Column("saving", "Saving", "money"),
        ), sheet="Costs"),
        Table("display.service", "Service over the replay", (
            Column("name", "Measure"), Column("today", "Today", "pct"), Column("recommended", "Recommended", "pct"),
        ), sheet="Service"),
        Table("display.volumes", "Orders and shortages over the replay", (
            Column("name", "Count"), Column("today", "Today", "int"), Column("recommended", "Recommended", "int"),
        ), sheet="Volumes"),
        Table("display.stores", "By store", (
            Column("store", "Store", link=Link("inventory:cost-optimization", query={"store": "{store}"})),
            Column("units_demanded", "Units demanded", "int"),
            Column("today_fill_rate", "Fill today", "pct"), Column("recommended_fill_rate", "Fill recommended", "pct"),
            Column("today.holding_cost", "Holding today", "money"), Column("recommended.holding_cost", "Holding recommended", "money"),
            Column("today.stockout_cost", "Stockouts today", "money"), Column("recommended.stockout_cost", "Stockouts recommended", "money"),
        ), sheet="By store"),
        Table("replay.by_demand_class", "By demand class", (
            Column("demand_class", "Demand class"), Column("items", "Parts", "int"), Column("units_demanded", "Units demanded", "int"),
            Column("today.fill_rate", "Fill today", "pct"), Column("recommended.fill_rate", "Fill recommended", "pct"),
            Column("today.units_short", "Short today", "int"), Column("recommended.units_short", "Short recommended", "int"),
            Column("today.holding_cost", "Holding today", "money"), Column("recommended.holding_cost", "Holding recommended", "money"),
        ), sheet="By demand class"),
        Table("dead_stock.results", "Dead stock (largest value first)", (
            Column("store", "Store"), Column("sku", "SKU", link=Link("inventory:stock-monitor", query={"sku": "{sku}", "store": "{store}"})),
            Column("name", "Part"), Column("on_hand", "On hand", "int"), Column("stock_value", "Value at cost", "money"),
            Column("last_consumed", "Last used", "date"), Column("days_since_consumed", "Days unused", "int"),
        ), sheet="Dead stock", empty="No dead stock: every part on the shelf was used within the window."),
        Table("excess_stock.results", "Excess stock (largest value first)", (
            Column("store", "Store"), Column("sku", "SKU", link=Link("inventory:stock-monitor", query={"sku": "{sku}", "store": "{store}"})),
            Column("name", "Part"), Column("available", "Available", "int"), Column("max_level", "Maximum", "int"),
            Column("excess_units", "Excess units", "int"), Column("excess_value", "Excess value", "money"),
        ), sheet="Excess stock", empty="No excess stock: nothing is above its maximum level."),
    )

    @classmethod
    def display_body(cls, body):
        replay = body.get("replay") or {}
        today, recommended = replay.get("today") or {}, replay.get("recommended") or {}
        yearly = replay.get("yearly") or {}
        names = (("holding_cost", "Holding"), ("ordering_cost", "Ordering"), ("stockout_cost", "Stockouts"), ("total_cost", "Total"))
        saving = replay.get("saving") or {}
        saving_of = {"holding_cost": saving.get("holding"), "ordering_cost": saving.get("ordering"),
                     "stockout_cost": saving.get("stockout"), "total_cost": saving.get("total")}
        return {**body, "display": {
            "components": [{"component": label, "today": (yearly.get("today") or {}).get(key),
                            "recommended": (yearly.get("recommended") or {}).get(key)} for key, label in names[:3]],
            "costs": [{"name": label, "today": today.get(key), "recommended": recommended.get(key), "saving": saving_of[key]}
                      for key, label in names]
            + [{"name": "Purchases", "today": today.get("purchase_cost"), "recommended": recommended.get("purchase_cost")},
               {"name": "Average stock value", "today": today.get("average_stock_value"),
                "recommended": recommended.get("average_stock_value")}],
            "service": [{"name": "Fill rate (units served on the day)", "today": today.get("fill_rate"),
                         "recommended": recommended.get("fill_rate")},
                        {"name": "Cycle service level", "today": today.get("cycle_service_level"),
                         "recommended": recommended.get("cycle_service_level")}],
            "volumes": [{"name": humanize_key(key), "today": today.get(key), "recommended": recommended.get(key)}
                        for key in ("units_demanded", "units_short", "stockout_item_days", "purchase_orders", "order_lines",
                                    "units_ordered", "cycles_with_stockout")],
            "stores": [{**s, "today_fill_rate": (s.get("today") or {}).get("fill_rate"),
                        "recommended_fill_rate": (s.get("recommended") or {}).get("fill_rate")} for s in replay.get("by_store") or []],
            "dead": [{**d, "label": _label(d)} for d in ((body.get("dead_stock") or {}).get("results") or [])[:CHART_ROWS]],
            "service_levels": [{**level, "label": f"{level['service_level']:.0%}"}
                               for level in (replay.get("service_levels") or {}).get("levels") or []],
        }}

    def is_empty(self, body):
        return not ((body.get("replay") or {}).get("today") or {}).get("units_demanded")


# --- Performance Analytics ---------------------------------------------------------------------------------------


class PerformancePage(InventoryPage):
    api_view = api.PerformanceAnalyticsView
    slug, title = "performance", "Performance Analytics"
    intro = ("How hard your stock works: turnover, GMROI, fill rate and stockout days, the ABC × XYZ matrix (value × "
             "demand variability), and suppliers' on-time-in-full and purchase-order cycle time. Click a store, a "
             "matrix cell, a supplier or a part for its detail.")
    template_name = "inventory/performance.html"
    form_labels = {"window_days": "Window (days)"}
    kpis = (
        Kpi("turnover.turns_per_year", "Stock turns a year", "num1", note="{} days of cover", note_path="turnover.days_of_cover"),
        Kpi("gmroi.value", "GMROI", "num2", note="gross margin {} a year on parts", note_path="gmroi.gross_margin", note_fmt="money0"),
        Kpi("fill_rate.value", "Fill rate", "pct", note="{} units waited for parts", note_path="fill_rate.units_waited",
            note_fmt="int"),
        Kpi("stockout_days.item_days_at_zero", "Stockout days", "int", note="{} parts ran out at least once",
            note_path="stockout_days.items_with_stockouts"),
        Kpi("suppliers.on_time_in_full", "Supplier on time in full", "pct", note="{} purchase orders received",
            note_path="suppliers.received", note_fmt="int"),
        Kpi("suppliers.po_cycle_time_days.median", "PO cycle time (median)", "days", note="p90 {}",
            note_path="suppliers.po_cycle_time_days.p90"),
    )
    charts = (
        Chart.heatmap("display.matrix", x="xyz_label", y="abc_label", z="value",
                      title="ABC × XYZ: consumption value at cost", y_fmt="money0", height=300,
                      drill=Link("inventory:performance", query={"cell": "{abc}{xyz}", "store": "{page_store}",
                                                                 "window_days": "{window_days}"}, optional=("store",)),
                      note="A: the parts making 80 % of consumption value, B the next 15 %, C the rest; X: steady weekly "
                           "demand (CV ≤ 0.5), Y: variable (≤ 1.0), Z: erratic. Click a cell for its parts."),
        Chart("bar", "Supplier on time and on time in full", (
            Series("display.suppliers", "supplier", "on_time_rate", "On time"),
            Series("display.suppliers", "supplier", "otif_rate", "On time in full"),
        ), y_fmt="pct", height=320, orientation="h", drill=supplier_link()),
        Chart("bar", "Stock turns a year by store", (
            Series("by_store", "store", "turnover", "Turns a year"),
        ), y_fmt="num1", height=260, drill=Link("inventory:performance", query={"store": "{store}"})),
        Chart.bar("display.top_skus", "sku", "value", "Parts with the highest consumption value", label="Value at cost",
                  orientation="h", y_fmt="money0", height=400, drill=Link("inventory:stock-monitor", query={"sku": "{sku}",
                                                                                                            "store": "{page_store}"},
                                                                         optional=("store",))),
    )
    tables = (
        Table("by_store", "By store", (
            Column("store", "Store", link=Link("inventory:performance", query={"store": "{store}"})),
            Column("cost_of_parts_used", "Parts used at cost", "money"), Column("average_inventory_value", "Average stock", "money"),
            Column("turnover", "Turns a year", "num2"), Column("fill_rate", "Fill rate", "pct"),
            Column("stockout_days", "Stockout days", "int"),
        ), sheet="By store"),
        Table("display.matrix", "ABC × XYZ matrix", (
            Column("abc", "ABC"), Column("xyz", "XYZ"), Column("skus", "Parts", "int"), Column("value", "Value at cost", "money"),
        ), sheet="ABC XYZ"),
        Table("display.top_skus", "Parts with the highest consumption value", (
            Column("sku", "SKU", link=Link("inventory:stock-monitor", query={"sku": "{sku}", "store": "{page_store}"}, optional=("store",))),
            Column("abc", "ABC"), Column("xyz", "XYZ"), Column("value", "Value at cost", "money"), Column("cv", "CV weekly", "num2"),
        ), sheet="Top parts"),
        Table("display.suppliers", "Suppliers", (
            Column("supplier", "Supplier", link=supplier_link()), Column("orders", "Orders", "int"),
            Column("otif_rate", "On time in full", "pct"), Column("on_time_rate", "On time", "pct"),
            Column("lead_time_mean", "Lead time", "days"), Column("lead_time_p90", "Lead time p90", "days"),
            Column("defect_rate", "Defects", "pct"),
        ), sheet="Suppliers"),
        Table("display.cycle_time", "Purchase-order cycle time (order to delivery)", (
            Column("name", "Statistic"), Column("value", "Days", "num2"),
        ), sheet="PO cycle time"),
    )

    @classmethod
    def display_body(cls, body):
        store = body.get("page_store", "")
        days = (body.get("data_window") or {}).get("days")
        abc_xyz = body.get("abc_xyz") or {}
        cycle = (body.get("suppliers") or {}).get("po_cycle_time_days") or {}
        return {**body, "display": {
            "matrix": [{**cell, "page_store": store, "window_days": days, "abc_label": f"{cell['abc']} (value)",
                        "xyz_label": f"{cell['xyz']} (variability)"} for cell in abc_xyz.get("matrix") or []],
            "top_skus": [{**s, "page_store": store} for s in abc_xyz.get("top_skus") or []],
            "suppliers": [{**s, "page_store": store} for s in (body.get("suppliers") or {}).get("by_supplier") or []],
            "cycle_time": [{"name": humanize_key(k), "value": v} for k, v in cycle.items()],
        }}

    def context(self, request, data, result):
        context = super().context(request, data, result)
        cell = request.GET.get("cell", "").strip().upper()
        if cell and result is not None and result.ok:
            context["cell_detail"] = {**matrix_cell_detail(result.body, cell, request.user, data.get("store") or ""),
                                      "clear_url": _without(request, "cell"), "clear_text": "Back to the whole matrix"}
        return context


def matrix_cell_detail(body, cell, user, store):
    """An ABC × XYZ cell (e.g. "AX"): its parts count and value, and those of the top parts that fall in it."""
    abc_xyz = body.get("abc_xyz") or {}
    found = next((c for c in abc_xyz.get("matrix") or [] if f"{c['abc']}{c['xyz']}" == cell), None)
    if found is None:
        return {"heading": f"ABC × XYZ cell {cell}", "missing": f"There is no cell {cell}: a cell is A, B or C followed by X, Y or Z."}
    parts = [{**s, "page_store": store} for s in abc_xyz.get("top_skus") or [] if f"{s['abc']}{s['xyz']}" == cell]
    table = prepare_table(Table("parts", f"Top parts by value in {found['abc']} · {found['xyz']}", (
        Column("sku", "SKU", link=Link("inventory:stock-monitor", query={"sku": "{sku}", "store": "{page_store}"}, optional=("store",))),
        Column("value", "Value at cost", "money"), Column("cv", "CV weekly", "num2"),
    ), empty=f"None of the {len(abc_xyz.get('top_skus') or [])} highest-value parts is in this cell."), {"parts": parts}, user=user)
    return {"heading": f"ABC × XYZ cell {found['abc']} · {found['xyz']}", "table": table,
            "tiles": _tiles([("Parts", format_value(found["skus"], "int")),
                             ("Consumption value at cost", format_value(found["value"], "money0"))])}
