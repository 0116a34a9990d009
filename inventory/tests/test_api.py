"""The seven /api/inventory-management/ endpoints: status codes, scoping, and contents checked against
independent queries of the data."""
import itertools
from datetime import timedelta

import pytest
from django.db.models import F, Sum
from django.utils import timezone

from inventory.ml.policy import round_order_quantity
from inventory.models import (
    Part,
    PurchaseOrder,
    PurchaseOrderLine,
    ReorderDecision,
    Stock,
    StockMovement,
    StockPolicy,
    StockPolicyRefresh,
    StockReplay,
    Supplier,
    SupplierPrice,
)
from mlanalytics.core.models import Store

BASE = "/api/inventory-management/"
ENDPOINTS = [
    ("get", "overview"), ("get", "stock-monitoring"), ("post", "demand-forecast"), ("post", "reorder-suggestions"),
    ("post", "supply-chain-optimization"), ("post", "cost-optimization"), ("get", "performance-analytics"),
]


def call(api, method, name, data=None):
    if method == "get":
        return api.get(BASE + name, data or {})
    return api.post(BASE + name, data or {}, format="json")


@pytest.fixture
def manager(api_for, inventory_db):
    return api_for("manager")


@pytest.fixture
def first_store(stores):
    return stores[0]


# --- access ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method,name", ENDPOINTS)
def test_every_endpoint_rejects_an_anonymous_caller_an_unknown_store_and_a_store_out_of_scope(method, name, api_for, stores, client):
    assert call(client, method, name).status_code == 401
    staff = api_for("staff", stores=[stores[0].code])
    assert call(staff, method, name, {"store": "NOPE9"}).status_code == 404
    forbidden = call(staff, method, name, {"store": stores[1].code})
    assert forbidden.status_code == 403


@pytest.mark.parametrize("method,name,data,field", [
    ("get", "stock-monitoring", {"status": "sideways"}, "status"),
    ("get", "stock-monitoring", {"limit": 0}, "limit"),
    ("post", "demand-forecast", {"horizon_days": 3}, "horizon_days"),
    ("post", "demand-forecast", {"service_level": 1.2}, "service_level"),
    ("post", "reorder-suggestions", {"service_level": "high"}, "service_level"),
    ("post", "reorder-suggestions", {"decisions": [{"sku": "X", "action": "snooze"}]}, "decisions"),
    ("post", "supply-chain-optimization", {"weights": {"colour": 1}}, "weights"),
    ("post", "supply-chain-optimization", {"weights": {"price": -1}}, "weights"),
    ("post", "supply-chain-optimization", {"horizon_days": 1000}, "horizon_days"),
    ("post", "cost-optimization", {"replay_days": 10}, "replay_days"),
    ("get", "performance-analytics", {"window_days": "soon"}, "window_days"),
])
def test_bad_values_are_400_with_the_field_named(method, name, data, field, manager):
    response = call(manager, method, name, data)
    assert response.status_code == 400
    assert field in response.json()


@pytest.mark.parametrize("method,name,data", [
    ("get", "stock-monitoring", {"sku": "NO-SUCH-SKU"}),
    ("post", "demand-forecast", {"skus": ["NO-SUCH-SKU"]}),
    ("post", "reorder-suggestions", {"skus": ["NO-SUCH-SKU"]}),
])
def test_an_unknown_sku_is_404(method, name, data, manager):
    response = call(manager, method, name, data)
    assert response.status_code == 404
    assert response.json() == {"detail": "Unknown SKU: NO-SUCH-SKU.", "code": "not_found"}


# --- overview ------------------------------------------------------------------------------------------------


def test_overview_figures_equal_the_data(manager, stores):
    body = call(manager, "get", "overview").json()
    assert body["generated_at"] and body["data_window"]["consumption_to"]
    assert body["model"]["name"] == "parts_demand" and body["model"]["method"]
    value = Stock.objects.aggregate(v=Sum(F("on_hand") * F("part__unit_cost")))["v"]
    assert body["stock_value"] == pytest.approx(float(value), abs=0.01)
    assert sum(body["status_counts"].values()) == body["stock_lines"] == Stock.objects.count()
    open_value = PurchaseOrderLine.objects.filter(po__status__in=["ordered", "partial"]).aggregate(
        v=Sum((F("quantity") - F("quantity_received")) * F("unit_price")))["v"] or 0
    assert body["open_purchase_orders"]["value"] == pytest.approx(float(open_value), abs=0.01)
    turnover = body["turnover"]
    assert turnover["turns_per_year"] == pytest.approx(turnover["cost_of_parts_used"] / turnover["average_inventory_value"], abs=0.01)
    assert [row["store"] for row in body["by_store"]] == [s.code for s in stores]


# --- stock-monitoring ----------------------------------------------------------------------------------------


def test_stock_monitoring_rows_carry_stock_policy_and_status(manager):
    body = call(manager, "get", "stock-monitoring", {"limit": 5000}).json()
    assert body["count"] == Stock.objects.count() == len(body["results"])
    stock = {(s.store.code, s.part.sku): s for s in Stock.objects.select_related("store", "part")}
    policy = {(p.store.code, p.part.sku): p for p in StockPolicy.objects.select_related("store", "part")}
    for row in body["results"][:300]:
        key = (row["store"], row["sku"])
        assert row["on_hand"] == stock[key].on_hand
        assert row["available"] == max(stock[key].on_hand - stock[key].reserved, 0)
        assert row["reorder_point"] == policy[key].reorder_point
        if policy[key].daily_mean > 0 and row["available"] > 0:
            assert row["days_of_cover"] == pytest.approx(row["available"] / policy[key].daily_mean, rel=1e-3)
    ranks = {"out": 0, "critical": 1, "low": 2, "over": 3, "ok": 4}
    order = [ranks[r["status"]] for r in body["results"]]
    assert order == sorted(order)  # most urgent first
    assert sum(body["status_counts"].values()) == body["count"]


def test_stock_monitoring_filters_by_status_and_pages(manager):
    counts = call(manager, "get", "stock-monitoring", {"limit": 1}).json()["status_counts"]
    body = call(manager, "get", "stock-monitoring", {"status": "low,out", "limit": 7, "offset": 2}).json()
    assert body["count"] == counts["low"] + counts["out"]
    assert len(body["results"]) == min(7, max(body["count"] - 2, 0))
    assert {r["status"] for r in body["results"]} <= {"low", "out"}


def test_staff_see_only_their_own_store(api_for, stores):
    staff = api_for("staff", stores=[stores[0].code])
    body = call(staff, "get", "stock-monitoring", {"limit": 5000}).json()
    assert {r["store"] for r in body["results"]} == {stores[0].code}
    assert body["count"] == Stock.objects.filter(store=stores[0]).count()


# --- demand-forecast -------------------------------------------------------------------------------------------


def _busiest(store):
    return StockPolicy.objects.filter(store=store).order_by("-daily_mean").select_related("part").first()


def test_demand_forecast_of_a_sku_adds_up(manager, first_store):
    policy = _busiest(first_store)
    body = call(manager, "post", "demand-forecast", {"store": first_store.code, "skus": [policy.part.sku], "horizon_days": 14}).json()
    assert body["model"]["method"] and body["data_window"]["horizon_days"] == 14
    (item,) = body["results"]
    mu, lead = policy.daily_mean, policy.lead_time_days
    assert item["lead_time_demand"]["mean"] == pytest.approx(mu * lead, abs=1e-3)
    assert item["protection_demand"]["mean"] == pytest.approx(mu * (lead + policy.review_days), abs=1e-3)
    assert item["protection_demand"]["quantile_at_service_level"] == policy.reorder_point
    assert item["horizon_demand"] == pytest.approx(mu * 14, abs=1e-3)
    path = item["projected_path"]
    assert len(path) == 15 and path[0]["projected_on_hand"] == item["available"] + sum(
        d["quantity"] for d in item["deliveries"] if d["in_days"] == 0)
    for before, after in itertools.pairwise(path):
        assert after["projected_on_hand"] == pytest.approx(before["projected_on_hand"] - mu + after.get("delivery", 0), abs=0.02)
    if item["projected_stockout_date"] and item["stockout_within_horizon"]:
        out_day = next(p["date"] for p in path if p["projected_on_hand"] <= 0.01)
        assert item["projected_stockout_date"] <= out_day


def test_demand_forecast_lists_the_soonest_stockouts_first(manager):
    body = call(manager, "post", "demand-forecast", {"limit": 20}).json()
    days = [r["days_to_stockout"] for r in body["results"]]
    assert days == sorted(days)
    assert body["count"] == StockPolicy.objects.filter(daily_mean__gt=0).count()


# --- reorder-suggestions -----------------------------------------------------------------------------------------


def test_reorder_suggestions_follow_the_policy(manager):
    body = call(manager, "post", "reorder-suggestions", {"limit": 5000}).json()
    assert body["model"]["method"] and body["count"] > 0
    for s in body["results"]:
        assert s["below_reorder_point"]
        assert s["position"] <= s["reorder_point"]
        if s["purchase_quantity"] and not s["transfer"]:
            assert s["purchase_quantity"] % s["order_qty"] == 0
            assert s["position"] + s["purchase_quantity"] > s["reorder_point"]
            assert s["purchase_quantity"] >= s["min_order_qty"] and s["purchase_quantity"] % s["pack_size"] == 0
        if s["transfer"]:
            assert s["transfer"]["from_store"] != s["store"]
            assert s["position"] + s["transfer"]["quantity"] + s["purchase_quantity"] > s["reorder_point"]
        assert s["supplier"]
    urgency = [["out", "critical", "high", "normal"].index(s["urgency"]) for s in body["results"]]
    assert urgency == sorted(urgency)
    assert sum(body["summary"]["by_urgency"].values()) == body["count"]


def test_a_higher_service_level_never_lowers_a_reorder_point(manager, first_store):
    low = call(manager, "post", "reorder-suggestions", {"store": first_store.code, "service_level": 0.8, "include_all": True,
                                                          "limit": 5000}).json()["results"]
    high = call(manager, "post", "reorder-suggestions", {"store": first_store.code, "service_level": 0.99, "include_all": True,
                                                           "limit": 5000}).json()["results"]
    low_points = {s["sku"]: s["reorder_point"] for s in low}
    assert low_points and all(s["reorder_point"] >= low_points[s["sku"]] for s in high if s["sku"] in low_points)
    assert sum(s["reorder_point"] for s in high) > sum(low_points.values())


@pytest.mark.parametrize("role", ["staff", "stakeholder"])
def test_only_managers_may_create_purchase_orders_or_decide(role, api_for, stores):
    api = api_for(role, stores=[stores[0].code])
    assert call(api, "post", "reorder-suggestions", {"create_draft_pos": True}).status_code == 403
    decision = {"sku": Part.objects.first().sku, "store": stores[0].code, "action": "order_once"}
    assert call(api, "post", "reorder-suggestions", {"decisions": [decision]}).status_code == 403
    assert not PurchaseOrder.objects.filter(source="reorder").exists()


def test_draft_purchase_orders_are_created_once_grouped_by_supplier(manager, first_store, short_of_stock):
    data = {"store": first_store.code, "create_draft_pos": True, "limit": 5000}
    first = call(manager, "post", "reorder-suggestions", data)
    assert first.status_code == 200
    drafts = first.json()["draft_purchase_orders"]
    assert drafts and all(d["created"] for d in drafts)
    suppliers = [d["supplier"] for d in drafts]
    assert len(suppliers) == len(set(suppliers))  # one draft per supplier
    wanted = {(s["sku"], s["supplier"]): s["purchase_quantity"] for s in first.json()["results"] if s["purchase_quantity"]}
    made = {(line["sku"], d["supplier"]): line["quantity"] for d in drafts for line in d["lines"]}
    assert made == wanted
    lines_before = PurchaseOrderLine.objects.filter(po__source="reorder").count()

    second = call(manager, "post", "reorder-suggestions", data).json()
    assert PurchaseOrder.objects.filter(source="reorder").count() == len(drafts)
    assert PurchaseOrderLine.objects.filter(po__source="reorder").count() == lines_before
    assert {d["number"] for d in second["draft_purchase_orders"]} == {d["number"] for d in drafts}
    assert not any(d["created"] for d in second["draft_purchase_orders"])
    assert {line["action"] for d in second["draft_purchase_orders"] for line in d["lines"]} == {"unchanged"}
    # The suggestions now say which draft holds them; drafts are not stock on order.
    assert all(s["in_draft_purchase_order"] for s in second["results"] if s["purchase_quantity"])
    assert PurchaseOrder.objects.filter(source="reorder", status="draft", store=first_store).count() == len(drafts)


def test_snooze_hides_a_suggestion_until_its_date(manager, first_store, short_of_stock):
    listed = call(manager, "post", "reorder-suggestions", {"store": first_store.code}).json()["results"]
    sku = listed[0]["sku"]
    until = (timezone.localdate() + timedelta(days=7)).isoformat()
    response = call(manager, "post", "reorder-suggestions",
                    {"store": first_store.code, "decisions": [{"sku": sku, "action": "snooze", "until": until}]})
    assert response.status_code == 200 and response.json()["decisions"][0]["until"] == until
    assert sku not in {s["sku"] for s in response.json()["results"]}
    shown = call(manager, "post", "reorder-suggestions", {"store": first_store.code, "include_snoozed": True}).json()["results"]
    assert next(s for s in shown if s["sku"] == sku)["snoozed_until"] == until
    drafts = call(manager, "post", "reorder-suggestions", {"store": first_store.code, "create_draft_pos": True}).json()
    assert sku not in {line["sku"] for d in drafts["draft_purchase_orders"] for line in d["lines"]}
    past = call(manager, "post", "reorder-suggestions", {"store": first_store.code,
                                                          "decisions": [{"sku": sku, "action": "snooze", "until": "2020-01-01"}]})
    assert past.status_code == 400


def test_order_once_adds_a_part_to_the_next_draft_and_is_used_up(manager, first_store):
    listed = {s["sku"] for s in call(manager, "post", "reorder-suggestions", {"store": first_store.code, "limit": 5000}).json()["results"]}
    policy = (StockPolicy.objects.filter(store=first_store, daily_mean__gt=0, supplier__isnull=False)
              .exclude(part__sku__in=listed).select_related("part").first())
    body = call(manager, "post", "reorder-suggestions", {
        "store": first_store.code, "create_draft_pos": True, "limit": 5000,
        "decisions": [{"sku": policy.part.sku, "action": "order_once", "quantity": 3}]}).json()
    item = next(s for s in body["results"] if s["sku"] == policy.part.sku)
    terms = SupplierPrice.objects.get(supplier=policy.supplier, part=policy.part)
    ordered = int(round_order_quantity([3], [terms.min_order_qty], [terms.pack_size])[0])
    assert item["order_once"] and item["purchase_quantity"] == ordered and not item["below_reorder_point"]
    line = PurchaseOrderLine.objects.get(po__source="reorder", po__store=first_store, part=policy.part)
    assert line.quantity == ordered
    decision = ReorderDecision.objects.get(part=policy.part, store=first_store, action="order_once")
    assert not decision.active and decision.purchase_order_id == line.po_id
    again = call(manager, "post", "reorder-suggestions", {"store": first_store.code, "limit": 5000}).json()
    assert policy.part.sku not in {s["sku"] for s in again["results"]}


def test_an_order_once_quantity_is_rounded_up_to_the_suppliers_moq_and_packs(manager, first_store):
    listed = {s["sku"] for s in call(manager, "post", "reorder-suggestions", {"store": first_store.code, "limit": 5000}).json()["results"]}
    policy = (StockPolicy.objects.filter(store=first_store, daily_mean__gt=0, supplier__isnull=False)
              .exclude(part__sku__in=listed).select_related("part").first())
    SupplierPrice.objects.filter(supplier=policy.supplier, part=policy.part).update(min_order_qty=4, pack_size=5)
    body = call(manager, "post", "reorder-suggestions", {
        "store": first_store.code, "create_draft_pos": True, "limit": 5000,
        "decisions": [{"sku": policy.part.sku, "action": "order_once", "quantity": 3}]}).json()
    item = next(s for s in body["results"] if s["sku"] == policy.part.sku)
    # 3 asked for; at least the MOQ of 4, in whole packs of 5: 5.
    assert (item["order_once_requested"], item["suggested_quantity"], item["purchase_quantity"]) == (3, 5, 5)
    assert (item["min_order_qty"], item["pack_size"]) == (4, 5)
    assert "rounded up" in body["policy"]["order_once"]
    assert PurchaseOrderLine.objects.get(po__source="reorder", po__store=first_store, part=policy.part).quantity == 5


def test_approving_min_max_sets_the_stock_rows_policy(manager, first_store):
    policy = _busiest(first_store)
    body = call(manager, "post", "reorder-suggestions", {
        "store": first_store.code, "decisions": [{"sku": policy.part.sku, "action": "approve_min_max"}]}).json()
    assert body["decisions"][0]["approved"] == {"reorder_point": policy.reorder_point, "max_level": policy.max_level}
    stock = Stock.objects.get(store=first_store, part=policy.part)
    assert (stock.min_qty, stock.max_qty) == (policy.reorder_point, policy.max_level)
    row = call(manager, "get", "stock-monitoring", {"store": first_store.code, "sku": policy.part.sku}).json()["results"][0]
    assert row["approved_min_max"] and row["reorder_point"] == policy.reorder_point


def test_a_transfer_from_a_store_with_excess_is_proposed_before_buying(manager, stores, short_of_stock):
    from inventory.services import adjust_stock

    needing, donor = stores
    body = call(manager, "post", "reorder-suggestions", {"store": needing.code, "limit": 5000}).json()
    item = next(s for s in body["results"] if not s["transfer"])
    part = Part.objects.get(sku=item["sku"])
    donor_policy = StockPolicy.objects.get(store=donor, part=part)
    spare = 2 * item["suggested_quantity"] + 5
    adjust_stock(part, donor, max(donor_policy.max_level, donor_policy.reorder_point) + spare, user=manager.user, reason="test: overstock")
    again = call(manager, "post", "reorder-suggestions", {"store": needing.code, "skus": [part.sku]}).json()["results"][0]
    assert again["transfer"]["from_store"] == donor.code
    assert again["transfer"]["quantity"] == max(item["suggested_quantity"], item["reorder_point"] - item["position"] + 1)
    assert again["purchase_quantity"] == 0


def test_a_donors_excess_is_promised_once_to_the_most_urgent_store_first(manager, stores):
    """Three stores, one new part: A is out, B low, C holds 5 above its maximum. A (out) gets the 4 it needs
    from C; B gets C's last unit and buys the rest; nothing of C is promised twice."""
    from inventory.services import adjust_stock

    a, b = stores
    c = Store.objects.create(code="XFR3", name="Third branch", opening_hours=a.opening_hours)
    part = Part.objects.create(sku="XFR-TEST-1", name="Transfer test screen", category="screen", unit_cost=10, price=30)
    supplier = Supplier.objects.order_by("pk").first()
    now = timezone.now()
    StockPolicyRefresh.objects.create(store=c, computed_at=now)  # C's policies are the hand-made ones below
    manager.user.stores.add(c)
    for store, reorder_point, order_qty, max_level in ((a, 3, 4, 7), (b, 3, 4, 7), (c, 2, 3, 5)):
        StockPolicy.objects.create(store=store, part=part, computed_at=now, service_level=0.95, policy_method="poisson",
                                   daily_mean=0.2, daily_sd=0.5, reorder_point=reorder_point, order_qty=order_qty,
                                   max_level=max_level, lead_time_days=3, supplier=supplier, unit_price=10)
    for store, counted in ((a, 0), (b, 1), (c, 10)):
        adjust_stock(part, store, counted, user=manager.user, reason="test: count")

    body = call(manager, "post", "reorder-suggestions", {"skus": [part.sku]}).json()
    by_store = {s["store"]: s for s in body["results"]}
    assert set(by_store) == {a.code, b.code}  # C is above its reorder point
    assert [s["store"] for s in body["results"]] == [a.code, b.code] and by_store[a.code]["urgency"] == "out"
    # A: position 0, reorder point 3 -> 4 short, one order quantity of 4, all of it from C's 5 spare.
    assert by_store[a.code]["transfer"] == {"from_store": c.code, "quantity": 4, "donor_available": 10, "donor_max_level": 5,
                                            "donor_excess_left": 1}
    assert by_store[a.code]["purchase_quantity"] == 0
    # B: position 1 -> 3 short; C has 1 left to give, the other 2 are bought in whole order quantities (4).
    assert by_store[b.code]["transfer"]["quantity"] == 1 and by_store[b.code]["transfer"]["donor_excess_left"] == 0
    assert by_store[b.code]["purchase_quantity"] == 4
    promised = sum(s["transfer"]["quantity"] for s in body["results"] if s["transfer"])
    assert promised == 10 - 5 and body["summary"]["transfers"] == 2


# --- supply-chain-optimization ----------------------------------------------------------------------------------


def test_supply_chain_optimization_scores_ranks_and_allocates(manager):
    body = call(manager, "post", "supply-chain-optimization", {"horizon_days": 30, "weights": {"price": 1}}).json()
    assert body["weights"]["price"] == 1.0
    cards = body["scorecards"]
    assert [c["rank"] for c in cards] == sorted(c["rank"] for c in cards)
    cheapest = min(cards, key=lambda c: c["price_index"])
    assert cheapest["rank"] == 1  # ranked on price alone
    allocation = body["allocation"]
    allocated = sum(row["units"] for row in allocation["by_supplier"])
    # Every unit of demand is bought or reported unallocated; units bought only to reach an MOQ come on top.
    assert allocation["moq"]["surplus_units"] >= 0
    assert allocated - allocation["moq"]["surplus_units"] + allocation["unallocated_units"] == pytest.approx(
        allocation["demand_units"], rel=1e-3)
    assert allocation["saving"] == pytest.approx(allocation["landed_saving"] + allocation["risk_saving"], abs=0.05)
    demand = sum(p.daily_mean for p in StockPolicy.objects.filter(daily_mean__gt=0)) * 30
    assert allocation["demand_units"] == pytest.approx(demand, abs=0.01)


def test_a_binding_supplier_capacity_caps_its_units_and_moves_the_rest(manager):
    """A capacity is an upper bound, not a quota: the optimum fills it as far as whole lines allow. A line with an
    MOQ above one unit is semi-continuous (none of it, or at least the MOQ), so the capped supplier may be left
    with less spare capacity than one more line's MOQ, which the optimum cannot use (nor profitably make room
    for within the solver's gap)."""
    from django.core.cache import cache

    first = call(manager, "post", "supply-chain-optimization", {"horizon_days": 30}).json()["allocation"]
    busiest = max(first["by_supplier"], key=lambda row: row["units"])
    cap = round(busiest["units"] / 3)  # a monthly capacity a third of what the optimum gave it: binds
    Supplier.objects.filter(code=busiest["supplier"]).update(monthly_capacity_units=cap)
    cache.clear()  # answers are cached per data version, and an edit of supplier terms bumps none
    second = call(manager, "post", "supply-chain-optimization", {"horizon_days": 30}).json()["allocation"]
    capped = next(row for row in second["by_supplier"] if row["supplier"] == busiest["supplier"])
    assert second["capacity"]["suppliers_with_capacity"] >= 1
    # Never above its capacity × 30 / 30 days, and short of it by less than its largest order minimum.
    largest_lot = second["moq"]["orders_per_horizon"] * max(
        SupplierPrice.objects.filter(supplier__code=busiest["supplier"]).values_list("min_order_qty", flat=True))
    assert cap - largest_lot < capped["units"] <= cap + 1e-3
    # The rest of its demand went to other suppliers (none of it unmet), at a higher cost: every unit of demand
    # is still bought once, so the others gained what it lost, give or take units bought only to reach an MOQ.
    assert second["unallocated_units"] == pytest.approx(first["unallocated_units"], abs=1e-3)

    def others(allocation):
        return sum(row["units"] for row in allocation["by_supplier"] if row["supplier"] != busiest["supplier"])

    surplus_change = second["moq"]["surplus_units"] - first["moq"]["surplus_units"]
    assert others(second) - others(first) == pytest.approx(busiest["units"] - capped["units"] + surplus_change, abs=0.05)
    assert second["optimal_cost"] >= first["optimal_cost"]


def test_the_optimal_cost_pays_for_units_bought_only_to_reach_an_moq(manager):
    body = call(manager, "post", "supply-chain-optimization", {"horizon_days": 7}).json()["allocation"]
    allocated = sum(row["units"] for row in body["by_supplier"])
    # Over a week many parts need less than a supplier's MOQ: the optimum buys the lot, and pays for all of it.
    assert body["moq"]["surplus_units"] == pytest.approx(allocated - (body["demand_units"] - body["unallocated_units"]), abs=0.05)
    assert body["moq"]["surplus_units"] > 0 and body["moq"]["orders_per_horizon"] == 1


# --- cost-optimization ------------------------------------------------------------------------------------------


def test_cost_optimization_reports_the_replay_and_dead_stock(manager, demo):
    body = call(manager, "post", "cost-optimization", {"limit": 100}).json()
    replay = body["replay"]
    for label in ("today", "recommended"):
        r = replay[label]
        assert r["total_cost"] == pytest.approx(r["holding_cost"] + r["ordering_cost"] + r["stockout_cost"], abs=0.02)
        assert r["fill_rate"] == pytest.approx(r["units_filled_on_day"] / r["units_demanded"], abs=1e-4)
    assert replay["saving"]["total"] == pytest.approx(replay["today"]["total_cost"] - replay["recommended"]["total_cost"], abs=0.02)
    dead = body["dead_stock"]
    assert dead["value"] == pytest.approx(sum(r["stock_value"] for r in dead["results"]), abs=0.05) or dead["items"] > 100
    assert set(demo.truth["dead_stock"]["skus"]) & {r["sku"] for r in dead["results"]}
    assert body["model"]["method"] and body["data_window"]["days"] == 365
    # Today's ordering was read back from the purchase orders; the out-of-sample twin was replayed beside it.
    inference = replay["today_inference"]
    assert inference["series_inferred"] > 0 and inference["assumed"] == (inference["series_assumed"] > 0)
    assert inference["review_weekdays"] == {s.code: ["Mon", "Thu"] for s in Store.objects.all()}
    held_out = replay["recommended_out_of_sample"]
    assert held_out["units_demanded"] == replay["today"]["units_demanded"] and replay["out_of_sample"]["replayed"]
    assert replay["saving_out_of_sample"]["total"] == pytest.approx(replay["today"]["total_cost"] - held_out["total_cost"], abs=0.02)


def test_cost_optimization_answers_from_the_stored_replay(manager, stores, monkeypatch):
    from inventory import selectors

    body = call(manager, "post", "cost-optimization").json()
    assert body["data_window"]["replay_source"]["stored"] is True
    assert StockReplay.objects.filter(store__in=stores).count() == len(stores)
    replay = selectors.policy_replay([s.pk for s in stores], 365)  # the same replay, computed now
    for label, result in replay.results.items():
        assert body["replay"][label] == result.summary(), label
    assert body["replay"]["observed"]["units_needed"] == replay.observed["units"]
    # A second request (cache cleared) adds the stored stores up: it replays nothing.
    from django.core.cache import cache

    cache.clear()
    monkeypatch.setattr(selectors, "policy_replay", lambda *a, **k: pytest.fail("replayed on request"))
    again = call(manager, "post", "cost-optimization")
    assert again.status_code == 200 and again.json()["replay"]["today"] == body["replay"]["today"]
    # Another window or service level is replayed on request.
    monkeypatch.undo()
    other = call(manager, "post", "cost-optimization", {"replay_days": 90}).json()
    assert other["data_window"]["replay_source"]["stored"] is False and other["data_window"]["days"] == 90
    assert other["replay"]["service_levels"]["levels"] == []  # the three are replayed with the stored replay only


def test_cost_optimization_shows_target_against_delivered_out_of_sample_at_three_service_levels(manager, stores):
    from inventory import selectors

    levels = call(manager, "post", "cost-optimization").json()["replay"]["service_levels"]
    assert [row["service_level"] for row in levels["levels"]] == [0.90, 0.95, 0.99]
    # The stored figures are the out-of-sample policy replayed with every part at each target, computed now.
    replay = selectors.policy_replay([s.pk for s in stores], 365, service_levels=selectors.REPLAY_SERVICE_LEVELS)
    for row in levels["levels"]:
        figures = replay.results[selectors.service_level_label(row["service_level"])].summary()
        assert row["delivered_cycle_service_level"] == figures["cycle_service_level"]  # all cycles, new parts included
        assert row["cycle_service_level_stocked"] == figures["cycle_service_level_stocked"]
        assert row["holding_cost"] == figures["holding_cost"] and row["cycles_unstocked"] == figures["cycles_unstocked"]
        assert row["within_tolerance"] == (abs(row["delivered_cycle_service_level"] - row["service_level"]) <= 0.01 + 1e-9)
    # A higher target holds more stock.
    holding = [row["holding_cost"] for row in levels["levels"]]
    assert holding == sorted(holding) and holding[0] < holding[-1]


# --- performance-analytics --------------------------------------------------------------------------------------


def test_performance_analytics_figures_equal_the_data(manager, demo):
    body = call(manager, "get", "performance-analytics", {"window_days": 180}).json()
    end = timezone.localdate() - timedelta(days=1)
    start = end - timedelta(days=179)
    from inventory.selectors import local_day_start

    used = StockMovement.objects.filter(kind="consumption", at__gte=local_day_start(start), at__lt=local_day_start(end + timedelta(days=1)))
    cost = -float(used.aggregate(c=Sum(F("quantity") * F("unit_cost")))["c"])
    assert body["turnover"]["cost_of_parts_used"] == pytest.approx(cost, abs=0.05)
    assert body["turnover"]["turns_per_year"] == pytest.approx(
        cost * 365 / 180 / body["turnover"]["average_inventory_value"], abs=0.01)
    fill = body["fill_rate"]
    assert fill["value"] == pytest.approx(1 - fill["units_waited"] / fill["units_needed"], abs=1e-4)
    consumed_skus = used.values("part_id").distinct().count()
    assert sum(cell["skus"] for cell in body["abc_xyz"]["matrix"]) == consumed_skus
    a_value = sum(c["value"] for c in body["abc_xyz"]["matrix"] if c["abc"] == "A")
    assert 0.75 <= a_value / cost <= 0.85  # A holds ~80 % of the value by construction
    assert 0 <= body["suppliers"]["on_time_in_full"] <= 1
    assert body["suppliers"]["po_cycle_time_days"]["median"] > 0
    assert [row["store"] for row in body["by_store"]] == sorted(row["store"] for row in body["by_store"])


# --- purchase orders, drafts and decisions ---------------------------------------------------------------------


def test_placing_and_receiving_a_purchase_order_re_checks_the_stockout_alert(stores, django_capture_on_commit_callbacks):
    from inventory.services import adjust_stock, place_purchase_order, receive_po_line, stockout_alert_key
    from mlanalytics.core.models import Alert

    on_order = set(PurchaseOrderLine.objects.filter(po__status__in=["ordered", "partial"]).values_list("po__store_id", "part_id"))
    policy = next(p for p in StockPolicy.objects.filter(store__in=stores).select_related("part", "store").order_by("-daily_mean")
                  if (p.store_id, p.part_id) not in on_order and p.daily_mean * p.lead_time_days > 1.5)
    key = stockout_alert_key(policy.store_id, policy.part_id)
    with django_capture_on_commit_callbacks(execute=True):
        adjust_stock(policy.part, policy.store, 1, user=None, reason="test: count")
    assert Alert.objects.get(dedup_key=key).state == Alert.State.FIRING
    # A supplier that delivers today: what it brings lasts well past the lead time.
    quick = Supplier.objects.create(code="same-day-test", name="Same day", quoted_lead_time_days=0)
    po = PurchaseOrder.objects.create(number="PO-ALERT-1", supplier=quick, store=policy.store, status="draft")
    line = PurchaseOrderLine.objects.create(po=po, part=policy.part, unit_price=1,
                                            quantity=int(policy.daily_mean * (policy.lead_time_days + 30)) + 1)
    with django_capture_on_commit_callbacks(execute=True):
        place_purchase_order(po)
    assert Alert.objects.get(dedup_key=key).state == Alert.State.RESOLVED
    # Every unit arrives defective: nothing reaches the shelf, nothing is on order any more: at risk again.
    with django_capture_on_commit_callbacks(execute=True):
        receive_po_line(line, line.quantity, defective=line.quantity)
    assert Alert.objects.filter(dedup_key=key).exclude(state=Alert.State.RESOLVED).exists()


def test_a_reused_draft_drops_the_lines_no_longer_suggested(manager, first_store, short_of_stock):
    data = {"store": first_store.code, "create_draft_pos": True, "limit": 5000}
    drafts = call(manager, "post", "reorder-suggestions", data).json()["draft_purchase_orders"]
    draft = PurchaseOrder.objects.get(number=drafts[0]["number"])
    suggested = set(PurchaseOrderLine.objects.filter(po__source="reorder").values_list("part_id", flat=True))
    stale = Part.objects.exclude(pk__in=suggested).order_by("sku")[:2]
    for part in stale:  # e.g. suggested yesterday, not any more
        PurchaseOrderLine.objects.create(po=draft, part=part, quantity=7, unit_price=1)
    # A request scoped to one of them removes only that one ...
    scoped = call(manager, "post", "reorder-suggestions", {**data, "skus": [stale[0].sku]}).json()
    assert [line["sku"] for d in scoped["draft_purchase_orders"] for line in d["removed_lines"]] == [stale[0].sku]
    assert PurchaseOrderLine.objects.filter(po=draft, part=stale[1]).exists()
    # ... and the full run the other, leaving exactly the suggested lines.
    again = call(manager, "post", "reorder-suggestions", data).json()
    removed = [line["sku"] for d in again["draft_purchase_orders"] for line in d["removed_lines"]]
    assert removed == [stale[1].sku]
    assert set(PurchaseOrderLine.objects.filter(po__source="reorder", po__status="draft").values_list("part_id", flat=True)) == suggested


def test_the_database_keeps_one_active_snooze_or_order_once_per_part_and_store(first_store):
    from django.db import IntegrityError, transaction

    part = Part.objects.order_by("sku").first()
    ReorderDecision.objects.create(part=part, store=first_store, action="snooze", until=timezone.localdate() + timedelta(days=3))
    with pytest.raises(IntegrityError), transaction.atomic():
        ReorderDecision.objects.create(part=part, store=first_store, action="order_once", quantity=2)
    ReorderDecision.objects.create(part=part, store=first_store, action="order_once", quantity=2, active=False)  # history is fine
    ReorderDecision.objects.create(part=part, store=first_store, action="approve_min_max")  # a different kind of answer
    assert ReorderDecision.objects.filter(part=part, store=first_store, active=True).count() == 2


# --- caching -----------------------------------------------------------------------------------------------------


def test_a_stock_movement_invalidates_the_cached_monitor(manager, first_store, django_capture_on_commit_callbacks):
    from inventory.services import adjust_stock

    policy = _busiest(first_store)
    params = {"store": first_store.code, "sku": policy.part.sku}
    before = call(manager, "get", "stock-monitoring", params).json()
    assert call(manager, "get", "stock-monitoring", params).json()["generated_at"] == before["generated_at"]  # cached
    with django_capture_on_commit_callbacks(execute=True):
        adjust_stock(policy.part, first_store, before["results"][0]["on_hand"] + 4, user=manager.user, reason="test: count")
    after = call(manager, "get", "stock-monitoring", params).json()
    assert after["results"][0]["on_hand"] == before["results"][0]["on_hand"] + 4
    assert Store.objects.count() == 2


@pytest.mark.parametrize("method,name", ENDPOINTS)
def test_each_endpoint_answers_only_its_own_method(method, name, manager):
    other = "post" if method == "get" else "get"
    assert call(manager, other, name).status_code == 405


def test_the_benchmark_answers_every_inventory_case(inventory_db, make_user):
    """`manage.py bench --apps inventory` (every endpoint, cold and warm) runs through on the session's data."""
    from io import StringIO

    from django.core.management import call_command

    make_user("manager", username="bench-manager")
    out = StringIO()
    call_command("bench", apps=["inventory"], repeat=1, user="bench-manager", stdout=out)
    lines = [line for line in out.getvalue().splitlines() if line.startswith("inventory ")]
    assert len(lines) == 10 and all("cold p50" in line and "warm p50" in line for line in lines)


def test_a_drafted_order_once_line_survives_the_next_draft_run(manager, first_store):
    listed = {s["sku"] for s in call(manager, "post", "reorder-suggestions", {"store": first_store.code, "limit": 5000}).json()["results"]}
    policy = (StockPolicy.objects.filter(store=first_store, daily_mean__gt=0, supplier__isnull=False)
              .exclude(part__sku__in=listed).select_related("part").first())
    data = {"store": first_store.code, "create_draft_pos": True, "limit": 5000}
    call(manager, "post", "reorder-suggestions", {**data, "decisions": [{"sku": policy.part.sku, "action": "order_once", "quantity": 3}]})
    line = PurchaseOrderLine.objects.get(po__source="reorder", po__store=first_store, part=policy.part)
    # The decision is used up, so the policy no longer suggests the part; drafting again keeps the manager's line.
    again = call(manager, "post", "reorder-suggestions", data).json()
    assert policy.part.sku not in {line["sku"] for d in again["draft_purchase_orders"] for line in d["removed_lines"]}
    kept = PurchaseOrderLine.objects.get(pk=line.pk)
    assert (kept.quantity, kept.po_id) == (line.quantity, line.po_id)


def test_a_store_without_a_stored_replay_is_answered_503_while_it_is_computed_in_the_background(
        manager, stores, django_capture_on_commit_callbacks):
    StockReplay.objects.filter(store=stores[0]).delete()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = call(manager, "post", "cost-optimization")
    assert response.status_code == 503
    body = response.json()
    assert body["code"] == "model_not_ready"
    assert body["progress"] == {"stores": 2, "stores_ready": 1, "stores_being_computed": 1}
    assert callbacks  # the replay was handed to the background job (run at once here)
    from django.core.cache import cache

    cache.clear()
    assert StockReplay.objects.filter(store=stores[0]).exists()
    assert call(manager, "post", "cost-optimization").status_code == 200


def test_a_stale_stored_replay_is_served_flagged_while_it_is_refreshed(manager, stores, django_capture_on_commit_callbacks,
                                                                      monkeypatch):
    from inventory import selectors

    StockReplay.objects.filter(store=stores[0]).update(end=timezone.localdate() - timedelta(days=3))
    monkeypatch.setattr(selectors, "policy_replay", lambda *a, **k: pytest.fail("replayed on request"))
    enqueued = []
    monkeypatch.setattr("mlanalytics.core.jobs.enqueue", lambda path, *args, **kwargs: enqueued.append((path, args)))
    with django_capture_on_commit_callbacks(execute=True):
        body = call(manager, "post", "cost-optimization").json()
    source = body["data_window"]["replay_source"]
    assert source["stored"] is True and source["stale"] is True and source["stale_stores"] == 1
    # One background refresh of the stale store, not a replay inside the request.
    assert enqueued == [("inventory.tasks.refresh_policies_job", ([stores[0].pk],))]


def test_an_sku_list_is_resolved_in_one_query(inventory_db, django_assert_num_queries):
    from inventory.results import resolve_parts

    skus = list(Part.objects.order_by("sku").values_list("sku", flat=True)[:5])
    with django_assert_num_queries(1):
        ids = resolve_parts([sku.lower() for sku in skus])
    assert ids == [Part.objects.get(sku=sku).pk for sku in skus]
