"""Quality assurance: the planted out-of-control technician is flagged and nobody else is; the
rates are the shop's own counts; the alert follows the control chart; QA is recorded via the API."""
import numpy as np
import pandas as pd
import pytest

from mlanalytics.core.models import Alert
from workflow.analytics.qa_control import p_chart, p_chart_limits, probability_limits

QA = "/api/workflow-automation/quality-assurance"


def test_p_chart_limits_match_the_textbook_formula():
    # p̄ = 0.1, n = 100: σ = √(0.1·0.9/100) = 0.03, so 3σ limits are 0.01 and 0.19.
    lcl, ucl = p_chart_limits(0.1, [100])
    assert lcl[0] == pytest.approx(0.01) and ucl[0] == pytest.approx(0.19)
    assert p_chart_limits(0.01, [50])[0][0] == 0.0  # the lower limit is cut at zero


def test_probability_limits_keep_the_three_sigma_false_alarm_rate_where_np_is_small():
    # n = 39 repairs, p̄ = 0.02: the normal UCL 0.02 + 3·√(0.02·0.98/39) = 0.0873 flags 4 comebacks, which an
    # in-control process produces with P(X ≥ 4) = 0.0075, five times Φ(−3) = 0.00135. The exact limit is 4/39:
    # it flags 5 or more, P(X ≥ 5) = 0.00105.
    assert p_chart_limits(0.02, [39])[1][0] == pytest.approx(0.0873, abs=1e-4)
    lcl, ucl = probability_limits(0.02, [39])
    assert ucl[0] == pytest.approx(4 / 39) and lcl[0] == 0.0
    # With a large subgroup the exact and the normal limits agree (n = 2000, p̄ = 0.1: 0.1201 and 241/2000).
    assert probability_limits(0.1, [2000])[1][0] == pytest.approx(p_chart_limits(0.1, [2000])[1][0], abs=0.001)
    # Simulated in-control charts with the small-data repair types' sizes: the false alarm rate per subgroup
    # stays under the nominal 0.00135 with exact limits and is several times it with the normal ones.
    rng = np.random.default_rng(11)
    n = np.array([39, 70, 77, 55, 46, 73, 50, 55, 115, 64, 67, 34, 151, 96, 255, 436, 73, 73, 64, 48, 38])
    counts = rng.binomial(n, 0.022, size=(1000, len(n)))
    exact = normal = 0
    for row in counts:
        table, _ = p_chart(pd.DataFrame({"key": range(len(n)), "n": n, "x": row}), min_n=30)
        exact += int(table.out_of_control.sum())
        p_bar = row.sum() / n.sum()
        normal += int(((row / n) > p_chart_limits(p_bar, n)[1]).sum())
    assert exact / counts.size < 0.00135 < 3 * 0.00135 < normal / counts.size


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
    # Repair-type and supplier charts are in control by construction, but each has a small chance of a false alarm
    # at its probability limits (about 1 % a chart on this data), and there are some 40 of them: on one end date in
    # a dozen (31 Dec 2027) one of them, a comeback rate, crossed its limit by chance. Never more than one.
    assert len([f for f in body["out_of_control"] if f["dimension"] != "technician"]) <= 1
    # The comeback-risk model carries its measured accuracy and ranks the planted technician's repairs higher.
    assert body["model"]["name"] == "comeback_risk"
    risky = body["comeback_risk"]["highest"]
    assert risky and sum(r["technician"] == planted for r in risky) >= len(risky) // 2
    for row in rows.values():
        assert row["pass_rate"] == pytest.approx(1 - row["rate"], abs=1e-4)


@pytest.mark.django_db
def test_comeback_risk_model_beats_the_base_rate_on_later_repairs(models_ready, demo):
    """The planted truth caps what any model can reach: only the planted technician's comeback rate differs
    (0.15 against 0.03), so on the small data (10 technicians) even a model that knew the truth scores an
    AUC of about 0.67 on the holdout. The served model must come close to that, with margin for the data's noise."""
    from workflow import training

    record = training.current(training.COMEBACK_RISK)
    backtest = record.metrics
    assert backtest["method"] in ("logistic_regression", "gradient_boosting")
    assert backtest["auc"] == max(backtest["auc_by_method"].values())  # the better of the two is served
    assert backtest["auc"] > 0.62
    assert backtest["brier"] < backtest["baseline_brier"]
    assert backtest["top_decile_lift"] > 2.0  # the riskiest tenth comes back at least twice as often as average


@pytest.mark.django_db
def test_planted_technicians_recent_repairs_score_higher_than_everyone_elses(models_ready, demo, api_for):
    planted = demo.truth["out_of_control_technician"]["code"]
    body = api_for("manager").post(QA, {"recent_days": 90}, format="json").json()
    by_technician = {r["technician"]: r for r in body["comeback_risk"]["by_technician"]}
    others = [r["mean_risk"] for code, r in by_technician.items() if code != planted]
    assert by_technician[planted]["repairs"] >= 20 and others
    assert by_technician[planted]["mean_risk"] > max(others)
    assert by_technician[planted]["mean_risk"] > 2 * (sum(others) / len(others))


def test_comeback_track_record_counts_only_what_was_known_before_the_repair():
    """add_trailing_features on a hand-made history: an outcome counts once its 90-day window has closed, a QA
    result once inspected before the repair was booked in."""
    from workflow.ml.comeback_risk import add_trailing_features

    day = pd.Timestamp("2025-01-01", tz="UTC")
    history = pd.DataFrame({"technician": ["a", "a", "a", "b"], "repair_type": ["x", "x", "y", "x"],
                            "completed": [day, day + pd.Timedelta(days=50), day + pd.Timedelta(days=100), day],
                            "came_back": [True, False, True, False]})
    inspections = pd.DataFrame({"technician": ["a", "a", "a"], "failed": [True, False, True],
                                "inspected_at": [day, day + pd.Timedelta(days=10), day + pd.Timedelta(days=120)]})
    frame = pd.DataFrame({"technician": ["a", "a", "c"], "repair_type": ["x", "x", "x"],
                          "received": [day + pd.Timedelta(days=95), day + pd.Timedelta(days=200), day + pd.Timedelta(days=200)],
                          "completed": [day + pd.Timedelta(days=100), day + pd.Timedelta(days=200), day + pd.Timedelta(days=200)]})
    out = add_trailing_features(frame, history, inspections)
    # Day 100: only the day-0 repair's window (0 + 90 ≤ 100) has closed: 1 of 1 came back. Two inspections, one failed.
    assert out.tech_comeback_rate[0] == 1.0 and out.tech_prior_repairs[0] == pytest.approx(np.log1p(1))
    assert out.tech_qa_fail_rate[0] == 0.5
    # Day 200: the day-0 and day-50 windows have closed (1 of 2); the day-100 one (closes day 190) too: 2 of 3.
    assert out.tech_comeback_rate[1] == pytest.approx(2 / 3) and out.tech_qa_fail_rate[1] == pytest.approx(2 / 3)
    # Repair type x by day 200: a (day 0, came back), a (day 50), b (day 0): 1 of 3. A technician with no record: NaN.
    assert out.type_comeback_rate[2] == pytest.approx(1 / 3) and np.isnan(out.tech_comeback_rate[2])


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
def test_a_single_store_user_sees_no_alerts_computed_over_other_stores(models_ready, api_for, store_codes):
    from mlanalytics.core import alerts as alert_service

    alert_service.raise_alert(kind=Alert.Kind.QA_OUT_OF_CONTROL, dedup_key="qa-ooc:repair_type:phone-screen:qa_fail_rate", store=None,
                              severity=Alert.Severity.WARNING, title="QA failure rate of Screen out of control",
                              subject_type="repair_type", subject_id="phone-screen", data={})
    local = api_for("manager", stores=[store_codes[0]]).post(QA, {}, format="json").json()
    assert all(a["store"] == store_codes[0] for a in local["open_alerts"])
    everyone = api_for("manager").post(QA, {}, format="json").json()
    assert [a["subject_id"] for a in everyone["open_alerts"] if a["store"] is None] == ["phone-screen"]


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


@pytest.mark.django_db
def test_track_record_aggregated_in_the_database_equals_the_one_computed_row_by_row(demo):
    """Scoring reads the track record from three GROUP BY queries; it must equal add_trailing_features (the
    training path) asked about the same moment."""
    from datetime import timedelta

    from django.utils import timezone

    from workflow import training
    from workflow.ml.comeback_risk import FOLLOW_UP_DAYS, TRAILING_DAYS, add_trailing_features, features_from_counts

    now = timezone.now()
    codes = demo.truth["out_of_control_technician"]["realized_qa_fail_rate"]
    frame = pd.DataFrame({"technician": list(codes), "repair_type": ["phone-screen"] * len(codes),
                          "received": [now] * len(codes), "completed": [now] * len(codes)})
    history, inspections = training.repair_history(now - timedelta(days=TRAILING_DAYS + FOLLOW_UP_DAYS + 1), now)
    by_rows = add_trailing_features(frame, history, inspections)
    by_counts = features_from_counts(frame, *training.track_record_now(now))
    columns = ["tech_comeback_rate", "tech_prior_repairs", "tech_qa_fail_rate", "tech_prior_inspections", "type_comeback_rate"]
    pd.testing.assert_frame_equal(by_rows[columns], by_counts[columns], atol=1e-9)
    assert by_counts.tech_comeback_rate.notna().all() and by_counts.tech_qa_fail_rate.notna().all()


def test_scoring_leaves_a_repairs_own_inspections_out_of_its_technicians_qa_record():
    """As in training (a record counted before the repair was booked in), the record used to score a repair
    now does not hold its own inspections: technician a has 10 inspections, 3 failed, of which 2 (both
    failed) are the first repair's own, so its record is 1 of 8; the second repair has none of its own."""
    from workflow.ml.comeback_risk import features_from_counts

    frame = pd.DataFrame({"technician": ["a", "a", "b"], "repair_type": ["x", "x", "x"]})
    out = features_from_counts(frame, {}, {}, {"a": (10, 3), "b": (2, 2)}, own_inspections=[(2, 2), (0, 0), (2, 2)])
    assert out.tech_qa_fail_rate[0] == pytest.approx(1 / 8) and out.tech_prior_inspections[0] == pytest.approx(np.log1p(8))
    assert out.tech_qa_fail_rate[1] == pytest.approx(3 / 10)
    assert np.isnan(out.tech_qa_fail_rate[2]) and out.tech_prior_inspections[2] == 0  # b's only inspections were its own


@pytest.mark.django_db
def test_a_scored_repairs_own_qa_failures_are_not_in_its_technicians_record(make_ticket, quiet_rules):
    from datetime import timedelta

    from django.utils import timezone

    from workflow import services, training
    from workflow.ml.comeback_risk import TRAILING_DAYS
    from workflow.models import QAInspection, Technician

    technician = Technician.objects.filter(is_active=True).order_by("code").first()
    ticket = make_ticket(status="quality_check", technician=technician)
    services.record_qa(ticket, passed=False, defects=["loose port"])
    services.change_status(ticket, "quality_check")
    services.record_qa(ticket, passed=True)
    now = timezone.now() + timedelta(seconds=1)
    frame = pd.DataFrame({"id": [ticket.pk], "technician": [technician.code], "repair_type": [ticket.repair_type.code]})
    scored = training.features_now(frame, now)
    others = QAInspection.objects.filter(ticket__technician=technician, inspected_at__gte=now - timedelta(days=TRAILING_DAYS),
                                         inspected_at__lt=now).exclude(ticket=ticket)
    n, x = others.count(), others.filter(passed=False).count()
    assert n > 0  # the technician has a record of their own in the demo data
    assert scored.tech_qa_fail_rate[0] == pytest.approx(x / n)
    assert scored.tech_prior_inspections[0] == pytest.approx(np.log1p(n))
