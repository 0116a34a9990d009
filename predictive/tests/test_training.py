"""Training runs, the model registry, the parts-demand contract and this app's smart alerts."""
from datetime import timedelta

import pandas as pd
import pytest
from django.core.cache import cache
from django.utils import timezone

from mlanalytics.core.models import Alert, Store
from predictive import selectors, services, training
from predictive.models import TrainedModel, TrainingRun

pytestmark = pytest.mark.django_db


def test_a_training_run_records_every_kind_with_progress_and_timings(trained_models):
    run = TrainingRun.objects.get(pk=trained_models.pk)
    assert run.status == TrainingRun.Status.DONE
    assert run.done_steps == run.total_steps == len(run.log) > 0
    assert set(training.KINDS) <= set(run.timings)
    assert run.timings["total"] >= sum(run.timings[k] for k in training.KINDS)
    models = TrainedModel.objects.filter(training_run=run)
    assert models.count() == run.total_steps
    assert {m.kind for m in models} == set(training.KINDS)
    for model in models:
        assert model.status == TrainedModel.Status.READY and model.is_current, (model.kind, model.scope, model.error)
        assert model.data_end and model.n_observations > 0 and model.duration_seconds > 0 and model.metrics


def result(scope="test=1", error="", method="prophet"):
    return training.ModelResult(training.REPAIR_DEMAND, scope, method, {}, {"mase": 1.0}, {"forecast": {}},
                                data_end=timezone.localdate(), error=error)


def test_a_new_version_becomes_current_and_a_failed_fit_keeps_the_old_one(trained_models):
    first = services.register_model(result())
    second = services.register_model(result())
    assert (first.version, second.version) == (1, 2)
    first.refresh_from_db()
    assert not first.is_current and second.is_current
    failed = services.register_model(result(error="boom", method="failed"))
    assert failed.version == 3 and failed.status == TrainedModel.Status.FAILED and not failed.is_current
    assert selectors.current_model(training.REPAIR_DEMAND, "test=1").pk == second.pk


def test_if_needed_trains_only_when_the_data_changed(trained_models):
    from workflow.models import RepairTicket

    TrainingRun.objects.filter(pk=trained_models.pk).update(data_fingerprint=services.ds.data_fingerprint())
    assert not services.needs_training()
    assert services.train_all_models(if_needed=True) is None
    ticket = RepairTicket.objects.order_by("-id").first()
    ticket.save()  # touches updated_at: the data changed
    assert services.needs_training()


def test_a_second_run_is_refused_while_one_holds_the_lock(trained_models):
    cache.add(services.LOCK_KEY, "busy", 60)
    try:
        with pytest.raises(services.TrainingInProgress):
            services.train_all_models(kinds=[training.REPAIR_COST])
    finally:
        cache.delete(services.LOCK_KEY)


def test_training_one_kind_adds_versions_publishes_progress_and_bumps_the_models_cache(trained_models, monkeypatch):
    from mlanalytics.core import cache as result_cache

    events = []
    monkeypatch.setattr(services.live, "publish", lambda event, payload, store_id=None, **kw: events.append((event, payload)))
    monkeypatch.setattr("mlanalytics.core.jobs.enqueue", lambda *a, **k: None)
    before = result_cache.version("models")
    previous = selectors.current_model(training.REPAIR_COST, "all")
    run = services.train_all_models(kinds=[training.REPAIR_COST], triggered_by="test")
    latest = selectors.current_model(training.REPAIR_COST, "all")
    assert latest.version == previous.version + 1 and latest.training_run_id == run.pk
    assert result_cache.version("models") > before
    states = [payload["state"] for event, payload in events if event == "training_progress"]
    assert states[0] == "started" and states[-1] == "done" and "running" in states


def test_parts_demand_forecast_keeps_its_contract_with_the_inventory_app(trained_models):
    from inventory.models import Part

    frame = selectors.parts_demand_forecast()
    assert set(selectors.DEMAND_COLUMNS) <= set(frame.columns)
    model = selectors.current_model(training.PARTS_DEMAND, "all")
    stored = frame[frame.model_version == model.version]
    assert len(stored) == Store.objects.count() * Part.objects.filter(is_active=True).count()
    assert (stored.daily_mean >= 0).all() and (stored.daily_sd >= 0).all()
    assert (stored.daily_mean * 7).to_numpy() == pytest.approx(stored.weekly_rate.to_numpy())
    assert set(stored.demand_class) <= {"smooth", "erratic", "intermittent", "lumpy", "none"}
    one_store = Store.objects.order_by("code").first()
    part_ids = list(Part.objects.order_by("id").values_list("id", flat=True)[:5])
    subset = selectors.parts_demand_forecast(store_ids=[one_store.pk], part_ids=part_ids)
    assert set(subset.store_id) == {one_store.pk} and set(subset.part_id) <= set(part_ids)


def test_parts_demand_forecast_falls_back_to_the_moving_average_for_pairs_without_a_model(trained_models):
    from inventory.models import Part, StockMovement

    store = Store.objects.order_by("code").first()
    part = Part.objects.create(sku="NEW-PART-1", name="New part", category="battery", unit_cost=5, price=10)
    now = timezone.now()
    for days in (3, 10, 17):  # the ledger is written directly: this test needs history, not a stock level
        StockMovement.objects.create(part=part, store=store, kind="receipt", quantity=2, balance_after=2, at=now - timedelta(days=days, hours=1))
        StockMovement.objects.create(part=part, store=store, kind="consumption", quantity=-2, balance_after=0, at=now - timedelta(days=days))
    frame = selectors.parts_demand_forecast(store_ids=[store.pk], part_ids=[part.pk])
    assert len(frame) == 1
    row = frame.iloc[0]
    assert row.method == "moving_average_26w" and row.model_version is None
    assert row.daily_mean == pytest.approx(6 / 182)


def _create_tickets(store, count, at):
    from workflow.models import Customer, DeviceModel, RepairTicket, RepairType

    customer = Customer.objects.create(external_ref=f"T-{store.code}-{at.timestamp()}", name="Test", created_at=at)
    device = DeviceModel.objects.filter(category="phone").first()
    repair = RepairType.objects.filter(device_category="phone").first()
    RepairTicket.objects.bulk_create([
        RepairTicket(reference=f"T{store.code}{int(at.timestamp())}{i}", store=store, customer=customer, device_model=device,
                     repair_type=repair, received_at=at, status="received")
        for i in range(count)
    ])


def test_intake_above_the_forecast_upper_bound_raises_an_alert_that_resolves_itself(trained_models):
    from workflow.models import RepairTicket

    store = Store.objects.order_by("code").first()
    model = selectors.current_model(training.REPAIR_DEMAND, f"store={store.code}")
    today = model.data_end + timedelta(days=1)
    forecast = dict(zip(model.output["forecast"]["ds"], model.output["forecast"]["upper_95"]))
    upper = forecast[today.isoformat()]
    now = timezone.make_aware(pd.Timestamp(today).to_pydatetime()) + timedelta(hours=12)
    _create_tickets(store, int(upper) + 5, now - timedelta(hours=1))
    services.check_forecasts(now=now)
    alert = Alert.objects.get(dedup_key=f"intake_above_forecast:{store.code}")
    assert alert.kind == Alert.Kind.INTAKE_ABOVE_FORECAST and alert.state == Alert.State.FIRING and alert.store == store
    assert alert.data["received"] > alert.data["upper_95"]
    services.check_forecasts(now=now)
    assert Alert.objects.filter(dedup_key=alert.dedup_key).count() == 1  # one open alert per condition
    RepairTicket.objects.filter(reference__startswith=f"T{store.code}").delete()
    services.check_forecasts(now=now)
    alert.refresh_from_db()
    assert alert.state == Alert.State.RESOLVED


def test_a_forecast_far_from_what_happened_is_flagged_as_drift_and_cleared_by_a_good_one(trained_models):
    store = Store.objects.order_by("code").first()
    model = selectors.current_model(training.REPAIR_DEMAND, f"store={store.code}")
    # Pretend the model was trained 30 days earlier and forecast triple the intake that then arrived.
    end = model.data_end - timedelta(days=30)
    history = model.output["history"]
    actual = dict(zip(history["ds"], history["y"]))
    days = [end + timedelta(days=i + 1) for i in range(60)]

    def stale_model(factor):
        yhat = [actual.get(d.isoformat(), 0.0) * factor for d in days]
        output = {**model.output, "forecast": {"ds": [d.isoformat() for d in days], "yhat": yhat,
                                                "lower_80": [v * 0.95 for v in yhat], "upper_80": [v * 1.05 + 0.5 for v in yhat],
                                                "lower_95": [v * 0.9 for v in yhat], "upper_95": [v * 1.1 + 0.5 for v in yhat]}}
        return training.ModelResult(model.kind, model.scope, model.method, model.parameters, model.metrics, output,
                                    data_start=model.data_start, data_end=end, n_observations=model.n_observations)

    services.register_model(stale_model(3.0))
    now = timezone.make_aware(pd.Timestamp(model.data_end + timedelta(days=1)).to_pydatetime()) + timedelta(hours=9)
    services.check_forecasts(now=now)
    drifting = selectors.current_model(training.REPAIR_DEMAND, f"store={store.code}")
    assert drifting.monitoring["status"] == "drift" and drifting.monitoring["days"] == 30
    alert = Alert.objects.get(dedup_key=f"model_drift:repair_demand:store={store.code}")
    assert alert.kind == Alert.Kind.MODEL_DRIFT and alert.state == Alert.State.FIRING
    services.register_model(stale_model(1.0))
    services.check_forecasts(now=now)
    assert selectors.current_model(training.REPAIR_DEMAND, f"store={store.code}").monitoring["status"] == "ok"
    alert.refresh_from_db()
    assert alert.state == Alert.State.RESOLVED


def test_pruning_keeps_every_versions_metrics_but_only_the_latest_outputs(trained_models):
    for _ in range(5):
        services.register_model(result(scope="test=prune"))
    services.prune_registry(keep=3)
    versions = {m.version: m for m in TrainedModel.objects.filter(kind=training.REPAIR_DEMAND, scope="test=prune")}
    assert sorted(versions) == [1, 2, 3, 4, 5]
    assert all(versions[v].metrics == {"mase": 1.0} for v in versions)
    assert sorted(v for v in versions if versions[v].output) == [3, 4, 5]
    assert versions[5].is_current


def test_a_business_metric_forecast_far_from_what_happened_is_flagged_as_drift_and_cleared_by_a_good_one(trained_models):
    store = Store.objects.order_by("code").first()
    scope = f"store={store.code}|granularity=week|metric=ticket_count"
    model = selectors.current_model(training.BUSINESS_METRICS, scope)
    # Pretend the model was trained 8 weeks earlier and forecast the weeks that then happened.
    history = model.output["history"]
    weeks, actual = history["ds"][-8:], history["y"][-8:]
    end = pd.Timestamp(weeks[0]).date() - timedelta(days=1)

    def stale_model(factor):
        yhat = [v * factor for v in actual]
        output = {**model.output, "forecast": {"ds": weeks, "yhat": yhat,
                                                "lower_80": [v * 0.95 for v in yhat], "upper_80": [v * 1.05 + 0.5 for v in yhat],
                                                "lower_95": [v * 0.9 for v in yhat], "upper_95": [v * 1.1 + 0.5 for v in yhat]}}
        return training.ModelResult(model.kind, model.scope, model.method, model.parameters, model.metrics, output,
                                    data_start=model.data_start, data_end=end, n_observations=model.n_observations)

    services.register_model(stale_model(3.0))
    now = timezone.make_aware(pd.Timestamp(model.data_end + timedelta(days=1)).to_pydatetime()) + timedelta(hours=9)
    services.check_forecasts(now=now)
    drifting = selectors.current_model(training.BUSINESS_METRICS, scope).monitoring
    assert drifting["status"] == "drift" and drifting["points"] == 8 and drifting["unit"] == "weeks"
    assert drifting["actual_total"] == pytest.approx(sum(actual))  # recomputed from the tickets, as in training
    assert drifting["mase"] == pytest.approx(2 * sum(actual) / 8 / model.parameters["mase_scale"])
    alert = Alert.objects.get(dedup_key=f"model_drift:business_metrics:{scope}")
    assert alert.kind == Alert.Kind.MODEL_DRIFT and alert.state == Alert.State.FIRING and alert.store == store
    services.register_model(stale_model(1.0))
    services.check_forecasts(now=now)
    assert selectors.current_model(training.BUSINESS_METRICS, scope).monitoring["status"] == "ok"
    alert.refresh_from_db()
    assert alert.state == Alert.State.RESOLVED


def test_model_performance_shows_the_drift_check_of_business_metric_models(trained_models, api_for):
    store = Store.objects.order_by("code").first()
    drifting_scope = f"store={store.code}|granularity=week|metric=ticket_count"
    model = selectors.current_model(training.BUSINESS_METRICS, drifting_scope)
    # One model pretends it was trained 8 weeks ago and forecast three times the tickets that then came.
    history = model.output["history"]
    weeks, actual = history["ds"][-8:], history["y"][-8:]
    yhat = [3 * v for v in actual]
    output = {**model.output, "forecast": {"ds": weeks, "yhat": yhat, "lower_80": yhat, "upper_80": yhat, "lower_95": yhat,
                                            "upper_95": yhat}}
    services.register_model(training.ModelResult(model.kind, model.scope, model.method, model.parameters, model.metrics, output,
                                                 data_start=model.data_start,
                                                 data_end=pd.Timestamp(weeks[0]).date() - timedelta(days=1)))
    # The day after the data ends: every other business model has no complete period since training yet.
    now = timezone.make_aware(pd.Timestamp(model.data_end + timedelta(days=1)).to_pydatetime()) + timedelta(hours=9)
    services.check_forecasts(now=now)
    body = api_for("admin").get("/api/predictive-analytics/model-performance", {"kind": "business_metrics"}).json()
    listed = {m["scope"]: m["drift"] for m in body["models"]}
    assert set(listed) == set(TrainedModel.objects.filter(kind=training.BUSINESS_METRICS, is_current=True).values_list("scope", flat=True))
    assert listed[drifting_scope]["status"] == "drift" and listed[drifting_scope]["points"] == 8
    assert listed[drifting_scope]["rule"].endswith("over ≥ 4 weeks")
    assert body["summary"]["drifting"] == 1
    for scope, drift in listed.items():
        if scope != drifting_scope:
            granularity = "weeks" if "granularity=week" in scope else "months"
            assert drift["status"] == "waiting_for_data" and drift["points"] == 0, scope
            assert drift["rule"].endswith(f"over ≥ {4 if granularity == 'weeks' else 3} {granularity}"), scope


def test_the_next_training_run_refits_the_scopes_fitted_on_demand(trained_models):
    scope = "store=" + Store.objects.order_by("code").first().code + "|category=console"
    assert services.fit_on_demand(training.REPAIR_DEMAND, scope) is not None
    data = services.ds.ShopData.load()
    planned = services.planned_tasks(data, [training.REPAIR_DEMAND, training.BUSINESS_METRICS])
    scopes = [task.scope for task in planned[training.REPAIR_DEMAND]]
    assert scopes.count(scope) == 1
    ahead = training.plan(data, [training.REPAIR_DEMAND])
    assert len(planned[training.REPAIR_DEMAND]) == len(ahead[training.REPAIR_DEMAND]) + 1
    assert len(planned[training.BUSINESS_METRICS]) == len(training.plan(data, [training.BUSINESS_METRICS])[training.BUSINESS_METRICS])
    # The planned task fits the same slice of the data as the request did.
    result = next(task for task in planned[training.REPAIR_DEMAND] if task.scope == scope).run()
    assert not result.error and result.parameters["filters"]["category"] == "console"


def test_every_nightly_run_refits_a_scope_first_fitted_on_demand(trained_models, monkeypatch):
    """Two nightly cycles: the first run takes over the on-demand scope's current version, the second must
    still refit it (it once dropped out of the plan, refitted only every other night)."""
    monkeypatch.setattr(services.live, "publish", lambda *args, **kwargs: None)
    monkeypatch.setattr("mlanalytics.core.jobs.enqueue", lambda *args, **kwargs: None)
    scope = "store=" + Store.objects.order_by("code").first().code + "|category=console"  # never trained ahead
    on_demand = services.fit_on_demand(training.REPAIR_DEMAND, scope)
    assert on_demand.training_run is None
    versions = [on_demand.version]
    for night in (1, 2):
        run = services.train_all_models(kinds=[training.REPAIR_DEMAND], triggered_by=f"nightly {night}")
        current = selectors.current_model(training.REPAIR_DEMAND, scope)
        assert current.training_run_id == run.pk, f"night {night} did not refit {scope}"
        assert [entry["scope"] for entry in run.log].count(scope) == 1
        versions.append(current.version)
    assert versions == [versions[0], versions[0] + 1, versions[0] + 2]


def test_the_benchmark_reports_the_training_time_of_each_model_kind(trained_models):
    import io

    from django.core.management import call_command

    out = io.StringIO()
    call_command("bench", apps=["predictive"], repeat=1, only="model-performance kind", user="manager", stdout=out)
    lines = out.getvalue().splitlines()
    assert any("model-performance kind" in line and "warm p50" in line for line in lines)
    run = TrainingRun.objects.filter(status=TrainingRun.Status.DONE).order_by("-started_at").first()
    for kind in training.KINDS:
        line = next(line for line in lines if f"training {kind} " in line)
        models = sum(1 for entry in run.log if entry["kind"] == kind)
        assert f"{run.timings[kind]:.1f} s" in line and f"({models} models)" in line
