"""Quality assurance: the planted out-of-control technician is flagged and nobody else is; the
rates are the shop's own counts; the alert follows the control chart; QA is recorded via the API."""
import pandas as pd
import pytest

from mlanalytics.core.models import Alert
from workflow.analytics.qa_control import p_chart, p_chart_limits

QA = "/api/workflow-automation/quality-assurance"


def test_p_chart_limits_match_the_textbook_formula():
    # p̄ = 0.1, n = 100: σ = √(0.1·0.9/100) = 0.03, so 3σ limits are 0.01 and 0.19.
    lcl, ucl = p_chart_limits(0.1, [100])
    assert lcl[0] == pytest.approx(0.01) and ucl[0] == pytest.approx(0.19)
    assert p_chart_limits(0.01, [50])[0][0] == 0.0  # the lower limit is cut at zero


def test_phase_one_limits_exclude_the_out_of_control_group():
    groups = pd.DataFrame({"key": list("abcdef"), "n": [500] * 6, "x": [20, 18, 22, 21, 19, 90]})
    table, centre = p_chart(groups)
    assert centre == pytest.approx(100 / 2500)  # p̄ without group f
    assert table.loc[table.key == "f", "out_of_control"].item()
    assert table.out_of_control.sum() == 1


@pytest.mark.django_db
def test_planted_out_of_control_technician_is_flagged_and_no_other(models_ready, demo, api_for):
    planted = demo.truth["out_of_control_technician"]["code"]
    response = api_for("manager").post(QA, {"window_days": 365}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    flagged = {(f["metric"], f["key"]) for f in body["out_of_control"] if f["dimension"] == "technician"}
    assert flagged == {("qa_fail_rate", planted), ("comeback_rate", planted)}
    rows = {r["key"]: r for r in body["qa"]["by_technician"]["rows"]}
    assert rows[planted]["rate"] > rows[planted]["ucl"] and rows[planted]["signal"] == "above_ucl"
    assert all(r["signal"] != "above_ucl" for k, r in rows.items() if k != planted)
    # Once the technician is an assignable cause, their work does not make a repair type or supplier look bad.
    assert body["qa"]["by_repair_type"]["excluded_technicians"] == [planted]
    assert not [f for f in body["out_of_control"] if f["dimension"] != "technician"]
    # The comeback-risk model carries its measured accuracy and ranks the planted technician's repairs higher.
    assert body["model"]["name"] == "comeback_risk" and body["model"]["backtest"]["auc"] > 0.55
    risky = body["comeback_risk"]["highest"]
    assert risky and sum(r["technician"] == planted for r in risky) >= len(risky) // 2


@pytest.mark.django_db
def test_qa_rates_are_the_shops_own_counts(models_ready, demo, api_for):
    from workflow.models import QAInspection

    planted = demo.truth["out_of_control_technician"]["code"]
    response = api_for("manager").post(QA, {"window_days": 365}, format="json").json()
    start, end = pd.Timestamp(response["data_window"]["start"]), pd.Timestamp(response["data_window"]["end"])
    mine = QAInspection.objects.filter(ticket__technician__code=planted, inspected_at__gte=start, inspected_at__lt=end)
    row = next(r for r in response["qa"]["by_technician"]["rows"] if r["key"] == planted)
    assert row["n"] == mine.count() and row["x"] == mine.filter(passed=False).count()
    # ... and close to the rate the generator realised for that technician over all its history.
    assert row["rate"] == pytest.approx(demo.truth["out_of_control_technician"]["realized_qa_fail_rate"][planted], abs=0.03)


@pytest.mark.django_db
def test_out_of_control_signal_raises_an_alert_that_resolves_when_it_clears(models_ready, demo):
    from mlanalytics.core.models import Store
    from workflow import services, tasks
    from workflow.models import Technician

    planted = demo.truth["out_of_control_technician"]["code"]
    tasks.check_qa_control()
    alerts = Alert.objects.filter(kind=Alert.Kind.QA_OUT_OF_CONTROL).exclude(state=Alert.State.RESOLVED)
    assert {a.subject_id for a in alerts} == {planted}
    assert {a.data["metric"] for a in alerts} == {"qa_fail_rate", "comeback_rate"}
    home = Technician.objects.get(code=planted).store_id
    assert all(a.store_id == home and set(a.audience_roles) == {"manager", "staff"} for a in alerts)
    tasks.check_qa_control()  # again: still one open alert per signal
    assert Alert.objects.filter(kind=Alert.Kind.QA_OUT_OF_CONTROL).exclude(state=Alert.State.RESOLVED).count() == alerts.count()
    services.sync_qa_alerts([], [s.pk for s in Store.objects.all()])  # the process is back in control
    assert not Alert.objects.filter(kind=Alert.Kind.QA_OUT_OF_CONTROL).exclude(state=Alert.State.RESOLVED).exists()


@pytest.mark.django_db
def test_qa_inspections_are_recorded_through_the_api(make_ticket, api_for, store_codes, quiet_rules):
    ticket = make_ticket(store_code=store_codes[0], status="quality_check")
    staff = api_for("staff", stores=[store_codes[0]])
    url = "/api/workflow-automation/qa-inspections/"
    failed = staff.post(url, {"ticket": ticket.reference, "passed": False, "defects": ["touch dead zone"],
                              "checklist": {"display_touch": False}}, format="json")
    assert failed.status_code == 201, failed.content
    assert failed.json()["ticket_status"] == "in_repair"
    assert staff.post(url, {"ticket": ticket.reference, "passed": True}, format="json").status_code == 409  # not in QC now
    from workflow import services

    services.change_status(ticket, "quality_check")
    passed = staff.post(url, {"ticket": ticket.reference, "passed": True, "checklist": {"display_touch": True}}, format="json")
    assert passed.status_code == 201 and passed.json()["ticket_status"] == "ready"
    listed = staff.get(url, {"ticket": ticket.reference}).json()
    assert [r["passed"] for r in listed["results"]] == [True, False]
    assert staff.post(url, {"ticket": "NO-SUCH", "passed": True}, format="json").status_code == 404
    assert staff.post(url, {"ticket": ticket.reference, "passed": "perhaps"}, format="json").status_code == 400
    assert api_for("stakeholder").post(url, {"ticket": ticket.reference, "passed": True}, format="json").status_code == 403
    other = make_ticket(store_code=store_codes[1], status="quality_check")
    assert staff.post(url, {"ticket": other.reference, "passed": True}, format="json").status_code == 403
