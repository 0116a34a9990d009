"""The page machinery on the ticket-intake page: same figures as an independent count, errors in
words beside the fields, store scoping, roles, drill-down links, navigation by role."""
from datetime import timedelta

import numpy as np
import pytest
from django.urls import reverse
from django.utils import timezone

from mlanalytics.core import selectors
from mlanalytics.core.navigation import menu_for
from mlanalytics.core.pages import Link, resolve_path

pytestmark = pytest.mark.django_db
INTAKE = "/admin/ml-analytics/intake/"


def received_between(store_codes, start, end):
    from workflow.models import RepairTicket

    tickets = RepairTicket.objects.filter(store__code__in=store_codes)
    return sum(1 for t in tickets.only("received_at") if start <= timezone.localtime(t.received_at).date() <= end)


def test_same_weekday_baseline_is_the_mean_and_sd_of_the_previous_eight_same_weekdays():
    counts = np.zeros(70)
    past = [10, 12, 14, 16, 18, 20, 22, 24]  # eight previous Mondays, oldest last
    for k, value in enumerate(past, start=1):
        counts[63 - 7 * k] = value
    mean, sd = selectors.same_weekday_baseline(counts, 63)
    assert mean == pytest.approx(17.0)
    assert sd == pytest.approx(np.std(past, ddof=1))


def test_intake_page_shows_the_count_of_tickets_received_in_its_window(as_role, demo, store_codes):
    client = as_role("manager")
    end = demo.end_date
    response = client.get(INTAKE, {"days": 28, "end": end.isoformat(), "store": store_codes[0]})
    assert response.status_code == 200
    expected = received_between([store_codes[0]], end - timedelta(days=27), end)
    kpis = {k["label"]: k["value"] for k in response.context["kpis"]}
    assert kpis["Tickets received"] == expected > 0
    daily = response.context["body"]["daily"]
    assert len(daily) == 28 and sum(d["received"] for d in daily) == expected


def test_page_and_api_answer_with_the_same_figures(as_role, demo, store_codes):
    client = as_role("manager")
    params = {"days": 14, "end": demo.end_date.isoformat(), "store": store_codes[-1]}
    page_body = client.get(INTAKE, params).context["body"]
    api_body = client.get("/api/core/ticket-intake/", params).json()
    assert page_body["daily"] == api_body["daily"]
    assert page_body["summary"] == api_body["summary"]


def test_band_coverage_is_the_share_of_days_inside_the_band(as_role, demo):
    body = as_role("manager").get(INTAKE, {"days": 56, "end": demo.end_date.isoformat()}).context["body"]
    scored = [d for d in body["daily"] if d["expected"] is not None]
    inside = sum(1 for d in scored if d["lower"] <= d["received"] <= d["upper"])
    assert body["model"]["backtest"]["band_coverage"] == pytest.approx(inside / len(scored))
    mae = np.mean([abs(d["received"] - d["expected"]) for d in scored])
    assert body["model"]["backtest"]["mae"] == pytest.approx(mae)


def test_bad_input_is_shown_in_words_beside_the_field(as_role):
    response = as_role("manager").get(INTAKE, {"days": "3", "submitted": "1"})
    assert response.status_code == 400
    fields = {f.name: f for f in response.context["form_fields"]}
    assert "greater than or equal to 7" in " ".join(fields["days"].errors)
    html = response.content.decode()
    assert 'id="err_days"' in html and 'aria-invalid="true"' in html


def test_a_future_end_date_is_refused_with_a_message(as_role):
    future = (timezone.localdate() + timedelta(days=3)).isoformat()
    response = as_role("manager").get(INTAKE, {"end": future})
    assert response.status_code == 400
    assert "cannot be in the future" in response.content.decode()


def test_a_store_outside_the_users_scope_is_refused(as_role, store_codes):
    client = as_role("staff", stores=[store_codes[0]])
    response = client.get(INTAKE, {"store": store_codes[1]})
    assert response.status_code == 403  # the page still renders and says why there are no figures
    assert response.context["result"].status == 403
    assert f"do not have access to store {store_codes[1]}" in response.content.decode()
    assert "kpis" not in response.context


def test_unknown_store_is_not_found_in_words(as_role):
    response = as_role("manager").get(INTAKE, {"store": "NOPE9"})
    assert response.context["result"].status == 404
    assert "Unknown store" in response.content.decode()


def test_the_store_switcher_sets_the_default_store_of_pages(as_role, store_codes):
    client = as_role("manager")
    client.post(reverse("dashboard-store"), {"store": store_codes[1], "next": INTAKE})
    response = client.get(INTAKE)
    assert response.context["body"]["by_store"] == [r for r in response.context["body"]["by_store"] if r["store"] == store_codes[1]]
    fields = {f.name: f for f in response.context["form_fields"]}
    assert fields["store"].value == store_codes[1]


def test_switching_to_a_store_not_yours_is_refused(as_role, store_codes):
    client = as_role("staff", stores=[store_codes[0]])
    client.post(reverse("dashboard-store"), {"store": store_codes[1]})
    assert client.session.get("dashboard_store", "") == ""


def test_bar_clicks_drill_down_to_the_store(as_role, demo):
    response = as_role("manager").get(INTAKE, {"end": demo.end_date.isoformat()})
    by_store = next(c for c in response.context["charts"] if c["title"] == "Tickets by store")
    series = by_store["series"][0]
    assert series["links"] == [f"{INTAKE}?store={code}" for code in series["x"]]


def test_link_placeholders_are_filled_and_escaped_from_the_row():
    link = Link("dashboard-intake", query={"store": "{store}", "category": "{device.category}"})
    assert link.for_row({"store": "A&B", "device": {"category": "phone"}}) == f"{INTAKE}?store=A%26B&category=phone"
    assert link.for_row({"store": None}) is None  # no half-filled links
    assert Link("predictive:not-landed-yet").template() is None
    assert resolve_path({"a": {"b": [1, 2]}}, "a.b.1") == 2


def test_roles_see_only_their_panels(make_user):
    panels = lambda role: {p["key"] for p in menu_for(make_user(role))["panels"]}  # noqa: E731
    assert panels("manager") == {"predictive", "inventory", "workflow"}
    assert panels("staff") == {"inventory", "workflow"}
    extras = lambda role: {e["title"] for e in menu_for(make_user(role))["extras"]}  # noqa: E731
    assert "Alerts" in extras("staff") and "Report subscriptions" not in extras("staff")
    assert "Alerts" not in extras("stakeholder") and "Report subscriptions" in extras("stakeholder")


def test_a_role_without_the_capability_gets_403(as_role, store_codes):
    client = as_role("staff")
    assert client.get("/admin/ml-analytics/views/predictive/cost-optimization/").status_code == 403
    assert client.get(reverse("dashboard-subscriptions")).status_code == 403


def test_views_without_an_endpoint_say_so_instead_of_showing_figures(as_role):
    response = as_role("manager").get("/admin/ml-analytics/views/workflow/quality/")
    if response.status_code == 302:  # the quality page has landed: it is served instead
        return
    assert response.status_code == 200
    assert "Not available yet" in response.content.decode()


def test_home_figures_are_counted_from_the_data(as_role, store_codes):
    from inventory.models import Stock
    from workflow.models import OPEN_STATUSES, RepairTicket

    client = as_role("manager")
    body = client.get("/api/core/home/", {"store": store_codes[0]}).json()
    open_count = RepairTicket.objects.filter(store__code=store_codes[0], status__in=OPEN_STATUSES).count()
    assert body["open_tickets"] == open_count
    value = sum(s.on_hand * float(s.part.unit_cost) for s in Stock.objects.filter(store__code=store_codes[0]).select_related("part"))
    assert body["stock_value"] == pytest.approx(value, abs=0.01)
    response = client.get(reverse("dashboard-home"))
    assert response.status_code == 200


def test_intake_today_counts_a_ticket_created_now(as_role, store_codes):
    from workflow.models import RepairTicket
    from workflow.services import create_ticket

    client = as_role("manager")
    before = client.get("/api/core/home/").json()["intake"]["received_today"]
    template = RepairTicket.objects.select_related("store", "device_model", "repair_type").first()
    create_ticket(store=template.store, device_model=template.device_model, repair_type=template.repair_type)
    assert client.get("/api/core/home/").json()["intake"]["received_today"] == before + 1
