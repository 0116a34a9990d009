"""The seven /api/workflow-automation/ endpoints through the API: status codes (200/400/401/403/404,
never 500) and contents checked against independent counts of the same data."""

import pytest

from mlanalytics.core.models import Alert
from workflow.models import RepairTicket

pytestmark = pytest.mark.django_db
BASE = "/api/workflow-automation/"
ENDPOINTS = [
    # method, path, a valid body, a body with a bad value and the field it names
    ("get", "overview", {}, None),
    ("post", "repair-automation", {}, ({"limit": 0}, "limit")),
    ("post", "customer-communication", {"event": "ready_for_collection", "limit": 5}, ({"event": "no_such_event"}, "event")),
    ("post", "quality-assurance", {}, ({"window_days": 5}, "window_days")),
    ("post", "resource-allocation", {}, ({"horizon_days": 30}, "horizon_days")),
    ("post", "performance-optimization", {"window_days": 28}, ({"scenario": {"demand_factor": 9}}, "scenario")),
    ("get", "analytics", {"weeks": 8}, ({"granularity": "fortnight"}, "granularity")),
]


def call(api, method, path, data):
    if method == "get":
        return api.get(BASE + path, data)
    return api.post(BASE + path, data, format="json")


@pytest.mark.parametrize("method, path, body, bad", ENDPOINTS, ids=[e[1] for e in ENDPOINTS])
def test_endpoint_status_codes(models_ready, api_for, store_codes, method, path, body, bad):
    from rest_framework.test import APIClient

    assert call(APIClient(), method, path, body).status_code == 401
    manager = api_for("manager")
    ok = call(manager, method, path, body)
    assert ok.status_code == 200, ok.content
    assert "generated_at" in ok.json() and "data_window" in ok.json()
    assert call(manager, method, path, {**body, "store": "NOWHERE"}).status_code == 404
    staff = api_for("staff", stores=[store_codes[0]])
    assert call(staff, method, path, {**body, "store": store_codes[1]}).status_code == 403
    assert call(staff, method, path, {**body, "store": store_codes[0]}).status_code == 200
    if bad:
        data, field = bad
        response = call(manager, method, path, {**body, **data})
        assert response.status_code == 400 and field in response.json()


def test_overview_counts_match_the_tickets(api_for, store_codes):
    body = api_for("manager").get(BASE + "overview", {"store": store_codes[0]}).json()
    tickets = RepairTicket.objects.filter(store__code=store_codes[0])
    open_statuses = ["received", "diagnosing", "awaiting_approval", "awaiting_parts", "in_repair", "quality_check"]
    assert body["work_in_progress"] == tickets.filter(status__in=open_statuses).count()
    assert body["tickets_by_status"]["ready"] == tickets.filter(status="ready").count()
    start, end = body["data_window"]["start"], body["data_window"]["end"]  # the last 30 days as of the answer
    done = [t for t in tickets.filter(completed_at__gte=start, completed_at__lt=end, status__in=["ready", "collected"])]
    kept = sum(t.completed_at <= t.promised_at for t in done)
    assert body["sla_compliance"]["last_30_days"]["tickets"] == len(done)
    assert body["sla_compliance"]["last_30_days"]["compliance"] == pytest.approx(kept / len(done), abs=1e-4)
    assert body["rules"]["active"] > 0  # the default rules


def test_analytics_totals_match_an_independent_count(api_for):
    body = api_for("manager").get(BASE + "analytics", {"weeks": 12}).json()
    done = RepairTicket.objects.filter(completed_at__gte=body["data_window"]["start"], completed_at__lt=body["data_window"]["end"],
                                       status__in=["ready", "collected"])
    assert body["totals"]["completed"] == done.count()
    kept = sum(t.completed_at <= t.promised_at for t in done)
    assert body["totals"]["sla_compliance"] == pytest.approx(kept / done.count(), abs=0.005)
    assert sum(p["completed"] for p in body["over_time"]) == body["totals"]["completed"]
    assert {t["technician"] for t in body["technicians"]}  # every technician listed
    assert 0 < body["totals"]["first_time_fix_rate"] < 1


def test_allocation_apply_is_for_managers_and_assigns_through_the_ticket_service(models_ready, api_for, store_codes, make_ticket):
    ticket = make_ticket(store_code=store_codes[0], status="diagnosing", priority="urgent")
    staff = api_for("staff", stores=[store_codes[0]])
    assert call(staff, "post", "resource-allocation", {"store": store_codes[0], "apply": True}).status_code == 403
    assert call(api_for("stakeholder"), "post", "resource-allocation", {"apply": True}).status_code == 403
    plan = call(staff, "post", "resource-allocation", {"store": store_codes[0], "horizon_days": 3}).json()
    planned = {a["ticket"]: a["technician"] for a in plan["assignments"]}
    assert ticket.reference in planned
    applied = call(api_for("manager"), "post", "resource-allocation", {"store": store_codes[0], "horizon_days": 3, "apply": True}).json()
    assert applied["applied"] is True and applied["applied_assignments"] >= 1
    made = {a["ticket"]: a["technician"] for a in applied["assignments"]}
    ticket.refresh_from_db()
    assert ticket.technician.code == made[ticket.reference]
    assert set(ticket.repair_type.required_skills.values_list("code", flat=True)) <= set(ticket.technician.skills.values_list("code", flat=True))
    alert = Alert.objects.get(kind=Alert.Kind.ASSIGNMENT, subject_id=str(ticket.pk))
    assert alert.audience_roles == ["staff"] and alert.store_id == ticket.store_id


def test_performance_optimization_reports_the_scenario_and_validates_technicians(models_ready, api_for, store_codes):
    from workflow.models import Technician

    manager = api_for("manager")
    tech = Technician.objects.filter(store__code=store_codes[0]).first()
    body = call(manager, "post", "performance-optimization", {
        "store": store_codes[0], "window_days": 28,
        "scenario": {"absent_technicians": [tech.code], "extra_technicians": [{"weekdays": [6, 7], "skills": ["phone"]}]},
    }).json()
    assert body["scenario"]["description"].startswith("1 more technician(s) on Saturdays, Sundays (phone)")
    assert body["scenario"]["absent_technicians"] == [tech.code]
    sim = body["simulation"]["stores"][0]
    assert sim["scenario"]["technicians"] == sim["technicians"]  # one out, one in
    assert body["bottleneck"]["stage"] in {s["stage"] for s in body["stages"]}
    wrong = call(manager, "post", "performance-optimization", {"store": store_codes[0], "scenario": {"absent_technicians": ["nobody"]}})
    assert wrong.status_code == 400 and "nobody" in str(wrong.json())
    skills = call(manager, "post", "performance-optimization", {"scenario": {"extra_technicians": [{"weekdays": [6], "skills": ["juggling"]}]}})
    assert skills.status_code == 400 and "juggling" in str(skills.json())


def test_customer_communication_resolves_tickets_in_scope(api_for, store_codes, make_ticket):
    other = make_ticket(store_code=store_codes[1], status="ready")
    staff = api_for("staff", stores=[store_codes[0]])
    assert call(staff, "post", "customer-communication", {"event": "ready_for_collection", "ticket": other.reference}).status_code == 403
    assert call(staff, "post", "customer-communication", {"event": "ready_for_collection", "ticket": "NOPE-1"}).status_code == 404
    not_yet = make_ticket(store_code=store_codes[0], status="diagnosing")
    body = call(staff, "post", "customer-communication", {"event": "ready_for_collection", "ticket": not_yet.reference, "mode": "send"}).json()
    assert {m["status"] for m in body["messages"]} == {"not_applicable"}
    assert call(staff, "post", "customer-communication", {"event": "sla_delay"}).status_code == 400  # no status to pick a batch by


def test_openapi_schema_documents_the_seven_endpoints(api_for):
    schema = api_for("manager").get("/api/schema/", {"format": "json"})
    assert schema.status_code == 200
    paths = schema.json()["paths"] if schema.headers["Content-Type"].startswith("application/json") else None
    if paths is None:
        import yaml

        paths = yaml.safe_load(schema.content)["paths"]
    for name in ("overview", "repair-automation", "customer-communication", "quality-assurance", "resource-allocation",
                 "performance-optimization", "analytics"):
        assert any(p.rstrip("/").endswith(f"/api/workflow-automation/{name}") or f"/api/workflow-automation/{name}" in p for p in paths), name
    assert "/api/workflow-automation/rules/{id}/enable/" in paths


JUNK = [None, "", "x" * 300, -1, 10**12, 3.5, True, [], ["a"], {}, {"a": 1}, "2026-13-45", "../../etc/passwd", "' OR 1=1 --"]


@pytest.mark.parametrize("method, path, body, bad", ENDPOINTS, ids=[e[1] for e in ENDPOINTS])
def test_junk_in_any_field_is_a_400_never_a_500(models_ready, api_for, method, path, body, bad):
    from workflow.api import views

    view = {"overview": views.OverviewView, "repair-automation": views.RepairAutomationView,
            "customer-communication": views.CustomerCommunicationView, "quality-assurance": views.QualityAssuranceView,
            "resource-allocation": views.ResourceAllocationView, "performance-optimization": views.PerformanceOptimizationView,
            "analytics": views.AnalyticsView}[path]
    manager = api_for("manager")
    for name in view.request_serializer().fields:
        for junk in JUNK:
            if method == "get" and (junk is None or isinstance(junk, (list, dict))):
                continue
            response = call(manager, method, path, {**body, name: junk})
            assert response.status_code in (200, 400, 403, 404), (name, junk, response.status_code, response.content[:200])
