"""Operations surfaces: liveness (/healthz), readiness (/readyz) with a dead dependency named, the Prometheus
endpoint behind its token, the request id from the HTTP request into the logs and into background jobs
(thread and Celery), and Sentry only with a DSN."""
import json
import logging
import os
import re
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from unittest import mock

import pytest
import yaml
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings
from django.db import OperationalError, connection
from django.http import HttpResponse
from django.test import Client, RequestFactory
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families
from pythonjsonlogger.json import JsonFormatter

from mlanalytics import celery_app
from mlanalytics.core import cache as result_cache
from mlanalytics.core import health, jobs, requestid
from mlanalytics.core.models import Alert
from mlanalytics.core.tasks import run_job
from predictive.models import TrainedModel, TrainingRun

pytestmark = pytest.mark.django_db
TOKEN = "scrape-token-for-tests"
job_log = logging.getLogger("mlanalytics.tests.ops-job")


def log_from_a_job(label):
    """A background job that only logs (enqueued by dotted path below)."""
    job_log.warning("job %s ran", label)
    return label


def closed_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def scrape(**headers):
    return Client().get("/metrics", **headers)


def samples(response):
    """{(sample name, sorted labels): value} of a scrape."""
    found = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


# --- /healthz and /readyz -----------------------------------------------------------------------------------

def test_liveness_asks_nothing_of_the_database_and_readiness_names_it_when_it_is_dead():
    with mock.patch.object(connection, "cursor", side_effect=OperationalError("could not connect to server")):
        live = Client().get("/healthz")
        ready = Client().get("/readyz")
    assert live.status_code == 200 and live.json() == {"status": "ok"}
    assert ready.status_code == 503
    body = ready.json()
    # The models check reads the database too; the database is the required one that failed.
    assert body["status"] == "unavailable" and body["degraded"] == ["database", "models"]
    assert [name for name in body["degraded"] if body["checks"][name]["required"]] == ["database"]
    database = body["checks"]["database"]
    assert database["status"] == "degraded" and database["detail"] == "OperationalError" and database["required"]
    assert body["checks"]["cache"]["status"] == "ok"


def test_readiness_of_the_embedded_default_is_ok_without_redis_worker_or_beat(settings):
    settings.BACKGROUND_JOBS, settings.REDIS_URL = "thread", ""
    response = Client().get("/readyz")
    assert response.status_code == 200, response.content
    checks = response.json()["checks"]
    assert checks["database"]["status"] == checks["cache"]["status"] == "ok"
    assert {checks[name]["status"] for name in ("redis", "worker", "beat")} == {"not_configured"}


def test_an_unreachable_redis_makes_readiness_fail_naming_redis(settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{closed_port()}/9"  # nothing listens there
    response = Client().get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["degraded"] == ["redis"] and body["checks"]["redis"]["detail"] == "ConnectionError"


def test_worker_and_beat_are_degraded_until_seen_and_fail_readiness_only_when_required(settings):
    settings.BACKGROUND_JOBS = "celery"
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "ops-ready"}}
    response = Client().get("/readyz")
    assert response.status_code == 200  # worker and beat are not in READYZ_REQUIRED by default
    body = response.json()
    assert body["status"] == "degraded" and {"worker", "beat"} <= set(body["degraded"])
    assert body["checks"]["worker"]["detail"] == "worker heartbeat never seen"

    settings.READYZ_REQUIRED = ["database", "worker"]
    assert Client().get("/readyz").status_code == 503
    run_job.apply(args=["operator.add", [1, 1], {}])  # a task the worker finished: its heartbeat
    response = Client().get("/readyz")
    assert response.status_code == 200, response.content
    assert response.json()["checks"]["worker"]["status"] == "ok"
    assert response.json()["checks"]["beat"]["status"] == "degraded"


def test_models_older_than_the_limit_are_reported_degraded(settings):
    old = TrainedModel.objects.create(kind="ops_check", scope="all", version=1, method="seasonal_naive",
                                      status=TrainedModel.Status.READY, is_current=True)
    TrainedModel.objects.filter(pk=old.pk).update(trained_at=timezone.now() - timedelta(hours=72))
    settings.READYZ_MODEL_MAX_AGE_HOURS = 48
    response = Client().get("/readyz")
    models = response.json()["checks"]["models"]
    assert models["status"] == "degraded" and "ops_check[all]" in models["detail"] and "72.0 h" in models["detail"]
    assert response.status_code == 200  # models are not required by default
    settings.READYZ_MODEL_MAX_AGE_HOURS = 100
    assert Client().get("/readyz").json()["checks"]["models"]["status"] == "ok"


# --- /metrics -----------------------------------------------------------------------------------------------

def test_metrics_are_off_without_a_token_and_refused_without_the_right_one(settings):
    settings.METRICS_TOKEN = ""
    assert scrape().status_code == 404
    assert scrape(HTTP_AUTHORIZATION="Bearer ").status_code == 404
    settings.METRICS_TOKEN = TOKEN
    assert scrape().status_code == 401
    assert scrape(HTTP_AUTHORIZATION="Bearer wrong-token").status_code == 401
    assert scrape(HTTP_AUTHORIZATION=TOKEN).status_code == 401  # the scheme is part of it
    refused = scrape(HTTP_AUTHORIZATION="Bearer wrong-token")
    assert b"mla_" not in refused.content


def test_metrics_carry_latency_cache_jobs_training_models_and_alerts(settings):
    settings.METRICS_TOKEN = TOKEN
    Client().get("/healthz")
    Client().get("/no-such-page")
    result_cache.cached("ops-test", {"n": 1}, ["tickets"], lambda: 1)  # miss
    result_cache.cached("ops-test", {"n": 1}, ["tickets"], lambda: 1)  # hit
    jobs.enqueue("operator.add", 2, 3)  # eager in tests: runs now
    jobs.enqueue("operator.truediv", 1, 0)  # fails (logged, never raised)
    TrainingRun.objects.create(status=TrainingRun.Status.FAILED, duration_seconds=12.5, timings={"repair_demand": 9.5},
                               finished_at=timezone.now())
    drifting = TrainedModel.objects.create(kind="ops_drift", scope="all", version=1, method="seasonal_naive",
                                           status=TrainedModel.Status.READY, is_current=True,
                                           monitoring={"status": "drift"})
    TrainedModel.objects.filter(pk=drifting.pk).update(trained_at=timezone.now() - timedelta(hours=5))

    response = scrape(HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    found = samples(response)
    assert found[("mla_http_request_duration_seconds_count", (("method", "GET"), ("view", "healthz")))] >= 1
    assert found[("mla_http_requests_total", (("method", "GET"), ("status", "404"), ("view", "unresolved")))] >= 1
    assert found[("mla_cache_results_total", (("result", "hit"),))] >= 1
    assert found[("mla_cache_results_total", (("result", "miss"),))] >= 1
    assert found[("mla_job_duration_seconds_count", (("job", "operator.add"), ("outcome", "done")))] >= 1
    assert found[("mla_job_duration_seconds_count", (("job", "operator.truediv"), ("outcome", "failed")))] >= 1
    assert found[("mla_training_last_run_failed", ())] == 1.0
    assert found[("mla_training_last_run_duration_seconds", ())] == 12.5
    assert found[("mla_training_duration_seconds", (("kind", "repair_demand"),))] == 9.5
    assert found[("mla_models_drifting", (("kind", "ops_drift"),))] == 1.0
    assert 5 * 3600 - 60 < found[("mla_model_age_seconds", (("kind", "ops_drift"),))] < 5 * 3600 + 60
    for state in Alert.State.values:  # each state's count is the database's, summed over severities
        listed = sum(v for (name, labels), v in found.items() if name == "mla_alerts" and ("state", state) in labels)
        assert listed == Alert.objects.filter(state=state).count()
    assert ("mla_websockets_open", ()) in found


def test_open_websockets_are_counted_through_the_real_asgi_application(settings, client, make_user, store_codes):
    from mlanalytics.asgi import application

    settings.METRICS_TOKEN = TOKEN
    client.force_login(make_user("staff", [store_codes[0]]))
    name = django_settings.SESSION_COOKIE_NAME
    cookie = f"{name}={client.cookies[name].value}".encode()

    def open_sockets():
        return samples(scrape(HTTP_AUTHORIZATION=f"Bearer {TOKEN}"))[("mla_websockets_open", ())]

    before = open_sockets()

    async def run():
        headers = [(b"origin", b"http://localhost"), (b"host", b"localhost"), (b"cookie", cookie)]
        comm = WebsocketCommunicator(application, "/ws/live/", headers=headers)
        connected, _ = await comm.connect()
        assert connected
        await comm.receive_json_from()
        during = await sync_to_async(open_sockets)()
        await comm.disconnect()
        return during

    with mock.patch("channels.db.close_old_connections", lambda: None):  # keep the test's transaction
        during = async_to_sync(run)()
    assert during == before + 1
    assert open_sockets() == before


# --- request id and logs ------------------------------------------------------------------------------------

def json_formatter():
    config = {k: v for k, v in django_settings.LOGGING["formatters"]["json"].items() if k != "()"}
    return JsonFormatter(**config)


def test_the_request_id_round_trips_and_reaches_a_json_log_record(caplog):
    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = Client().get("/no-such-page", HTTP_X_REQUEST_ID="trace-42.a")
    assert response.status_code == 404 and response["X-Request-ID"] == "trace-42.a"
    (record,) = [r for r in caplog.records if r.name == "django.request"]
    line = json.loads(json_formatter().format(record))
    assert line["request_id"] == "trace-42.a" and line["level"] == "WARNING" and "Not Found" in line["message"]


def test_an_unsafe_incoming_request_id_is_replaced():
    response = Client().get("/healthz", HTTP_X_REQUEST_ID='forged"\n{"level": "ERROR"}')
    assert len(response["X-Request-ID"]) == 32 and response["X-Request-ID"].isalnum()
    assert Client().get("/healthz")["X-Request-ID"] != Client().get("/healthz")["X-Request-ID"]  # one per request


def test_a_job_queued_by_a_request_logs_that_requests_id_in_the_job_thread(settings, caplog):
    settings.BACKGROUND_JOBS = "thread"
    queued = {}

    def view(request):
        queued["future"] = jobs.enqueue(f"{__name__}.log_from_a_job", "threaded")
        return HttpResponse("queued")

    request = RequestFactory().get("/", HTTP_X_REQUEST_ID="req-thread-1")
    with caplog.at_level(logging.WARNING, logger=job_log.name):
        response = requestid.RequestIdMiddleware(view)(request)
        assert queued["future"].result(timeout=30) == "threaded"
    assert response["X-Request-ID"] == "req-thread-1"
    (record,) = [r for r in caplog.records if r.name == job_log.name]
    assert record.threadName.startswith("mla-job") and record.request_id == "req-thread-1"


def test_the_request_id_travels_in_the_celery_task_headers_and_reaches_the_tasks_log(caplog):
    before = requestid.get()
    token = requestid.set("req-celery-7")
    try:
        with celery_app.connection_for_write("memory://") as conn:  # a real publish, to an in-memory broker
            run_job.apply_async((f"{__name__}.log_from_a_job", ["celery"], {}), connection=conn)
            message = conn.SimpleQueue("celery").get(timeout=5)
    finally:
        requestid.reset(token)
    assert message.headers["request_id"] == "req-celery-7"
    # The worker side: the task runs with the message's headers.
    with caplog.at_level(logging.WARNING, logger=job_log.name):
        assert run_job.apply(args=message.payload[0], headers=message.headers).get() == "celery"
    (record,) = [r for r in caplog.records if r.name == job_log.name]
    assert record.request_id == "req-celery-7"
    assert requestid.get() == before  # the worker's context is as it was again after the task


# --- Sentry ---------------------------------------------------------------------------------------------------

SENTRY_PROBE = """
import json, django
django.setup()
import sentry_sdk
client = sentry_sdk.get_client()
print(json.dumps({"active": client.is_active(), "dsn": client.dsn,
                  "integrations": sorted(getattr(client, "integrations", {}) or {})}))
"""


@pytest.mark.parametrize("dsn", ["", "https://publickey@127.0.0.1:9/42"])
def test_sentry_starts_only_with_a_dsn(tmp_path, dsn):
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "mlanalytics.settings", "SENTRY_DSN": dsn,
                   "DATA_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", SENTRY_PROBE], cwd=django_settings.BASE_DIR, env=environment,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    if dsn:
        assert seen["active"] and seen["dsn"] == dsn and {"django", "celery"} <= set(seen["integrations"])
    else:
        assert not seen["active"] and seen["dsn"] is None


# --- compose monitoring profile -------------------------------------------------------------------------------

def test_the_monitoring_profile_scrapes_with_the_token_and_its_rules_and_dashboard_use_exported_metrics(settings):
    base = Path(django_settings.BASE_DIR)
    compose = yaml.safe_load((base / "compose.yaml").read_text())
    services = compose["services"]
    assert services["prometheus"]["profiles"] == services["grafana"]["profiles"] == ["monitoring"]
    assert "profiles" not in services["web"]  # the app itself runs without the profile
    scrape_config = yaml.safe_load((base / "deploy/prometheus/prometheus.yml").read_text())
    (web,) = [job for job in scrape_config["scrape_configs"] if job["job_name"] == "mlanalytics-web"]
    assert web["metrics_path"] == "/metrics" and web["authorization"]["type"] == "Bearer"
    assert web["authorization"]["credentials_file"] in " ".join(services["prometheus"]["entrypoint"])
    rules = yaml.safe_load((base / "deploy/prometheus/alerts.yml").read_text())
    alert_names = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    wanted_alerts = {"MlaHigh5xxRate", "MlaSlowRequestsP95", "MlaWorkerDown", "MlaJobQueueBacklog", "MlaTrainingFailed"}
    assert wanted_alerts <= alert_names
    dashboard = (base / "deploy/grafana/dashboards/mlanalytics.json").read_text()
    json.loads(dashboard)
    provisioning = yaml.safe_load((base / "deploy/grafana/provisioning/dashboards/mlanalytics.yml").read_text())
    assert provisioning["providers"][0]["options"]["path"] in " ".join(services["grafana"]["volumes"])

    # Every metric the rules and the dashboard ask for is one the app exports (Celery mode, heartbeats seen).
    Client().get("/healthz")
    jobs.enqueue("operator.add", 1, 1)  # eager, before Celery mode: a test never publishes to a real broker
    settings.METRICS_TOKEN, settings.BACKGROUND_JOBS = TOKEN, "celery"
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": "ops-metrics"}}
    health.stamp(health.WORKER_KEY)
    health.stamp(health.BEAT_KEY)
    response = scrape(HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    families = list(text_string_to_metric_families(response.content.decode()))
    exported = {f.name for f in families} | {s.name for f in families for s in f.samples}
    wanted = set(re.findall(r"\bmla_[a-z_]+", (base / "deploy/prometheus/alerts.yml").read_text() + dashboard))
    assert wanted and wanted <= exported, wanted - exported
