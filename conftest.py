"""Fixtures every test can use.

The test database holds one demo data set, seeded once per session (scale TEST_DEMO_SCALE, default
"small"), with its planted truth in `demo.truth`. The data end yesterday, or on TEST_DEMO_END_DATE: then the
clock of the test processes is moved to noon of the day after it (still ticking), so the suite runs as it would
on that day. Ordinary `db` tests run inside a transaction on top of it. Tests that need committed data
across threads use `transactional_db`; pytest-django runs those last and empties the database after each, so
they must build their own data.
"""
import uuid
from datetime import date, datetime, time, timedelta
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings

_clock = {}


def demo_end_date():
    """TEST_DEMO_END_DATE as a date, or None (the data end yesterday)."""
    if not settings.TEST_DEMO_END_DATE:
        return None
    try:
        return date.fromisoformat(settings.TEST_DEMO_END_DATE)
    except ValueError:
        raise pytest.UsageError(f"TEST_DEMO_END_DATE={settings.TEST_DEMO_END_DATE!r} is not a date (YYYY-MM-DD)") \
            from None


def pytest_configure(config):
    """With TEST_DEMO_END_DATE, move the clock of this process (each xdist worker too) to the day after it."""
    end = demo_end_date()
    if end is None:
        return
    import time_machine

    # Noon of the day after, whatever the real time: a run never crosses midnight (the day would change under the
    # session's data and stored summaries), and a failure replays at the same time of day.
    destination = datetime.combine(end + timedelta(days=1), time(12, 0), tzinfo=ZoneInfo(settings.TIME_ZONE))
    _clock["traveller"] = time_machine.travel(destination, tick=True)
    _clock["traveller"].start()


def pytest_unconfigure(config):
    if "traveller" in _clock:
        _clock.pop("traveller").stop()


def pytest_report_header(config):
    end = demo_end_date()
    if end is None:
        return f"demo data: seed {settings.TEST_DEMO_SEED}, scale {settings.TEST_DEMO_SCALE}, ending yesterday"
    return (f"demo data: seed {settings.TEST_DEMO_SEED}, scale {settings.TEST_DEMO_SCALE}, ending {end} "
            f"(TEST_DEMO_END_DATE; the clock starts at {end + timedelta(days=1)} 12:00)")


def pytest_sessionstart(session):
    """With REQUIRE_SERVICES=1 the suite must really run on PostgreSQL and Redis."""
    if not settings.REQUIRE_SERVICES:
        return
    problems = []
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        problems.append("DATABASE_URL does not point at PostgreSQL")
    if "redis" not in settings.CACHES["default"]["BACKEND"].lower():
        problems.append("REDIS_URL is not set, so the cache is not Redis")
    if "redis" not in settings.CHANNEL_LAYERS["default"]["BACKEND"].lower():
        problems.append("the channel layer is not Redis")
    if not problems:
        try:
            from django.core.cache import cache

            cache.set("require-services-probe", 1, 5)
            if cache.get("require-services-probe") != 1:
                problems.append("Redis did not return what was stored")
        except Exception as exc:
            problems.append(f"Redis unreachable: {exc}")
    if problems:
        pytest.exit("REQUIRE_SERVICES=1: " + "; ".join(problems), returncode=3)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker, tmp_path_factory):
    """Seed the session's demo data into the freshly created test database."""
    settings.DATA_DIR = tmp_path_factory.mktemp("data")
    with django_db_blocker.unblock():
        from mlanalytics.demo.seed import seed_demo

        seed_demo(seed=settings.TEST_DEMO_SEED, scale=settings.TEST_DEMO_SCALE, end=demo_end_date())


@pytest.fixture(scope="session")
def demo(django_db_setup, django_db_blocker):
    """The session's DemoDataset: `demo.truth` is the planted truth, `demo.end_date` the last day."""
    with django_db_blocker.unblock():
        from mlanalytics.core.models import DemoDataset

        return DemoDataset.objects.latest()


@pytest.fixture(autouse=True)
def _isolated_cache():
    """Each test starts with an empty cache of its own worker (Redis keys are prefixed per worker)."""
    from django.core.cache import cache

    if hasattr(cache, "delete_pattern"):
        cache.delete_pattern("*")
    else:
        cache.clear()
    yield


@pytest.fixture
def make_user(db):
    """make_user(role, stores=[...codes] or "all", superuser=False) -> a user of that role with access to those stores
    (`superuser`: also staff and superuser, for the Django admin)."""
    from mlanalytics.core.models import Store, User
    from mlanalytics.core.roles import assign_role

    def make(role, stores="all", username=None, superuser=False):
        user = User.objects.create_user(username=username or f"{role}-{uuid.uuid4().hex[:8]}", password="test-pass-123",
                                        is_staff=superuser, is_superuser=superuser)
        assign_role(user, role)
        if stores == "all":
            user.stores.set(Store.objects.all())
        else:
            user.stores.set(Store.objects.filter(code__in=stores))
        return user

    return make


@pytest.fixture
def api_for(make_user):
    """api_for(role, stores="all") -> a DRF APIClient authenticated with a real JWT for a new user."""
    from rest_framework.test import APIClient
    from rest_framework_simplejwt.tokens import RefreshToken

    def client(role, stores="all"):
        user = make_user(role, stores)
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
        api.user = user
        return api

    return client


@pytest.fixture
def store_codes(db):
    from mlanalytics.core.models import Store

    return list(Store.objects.order_by("code").values_list("code", flat=True))


@pytest.fixture(scope="session")
def trained_models(django_db_setup, django_db_blocker):
    """Train all model kinds once per session (per xdist worker); returns the TrainingRun.

    Background jobs that other apps start when a model is saved (the inventory app refreshes its
    reorder policies) are not run here: they would write from another thread while tests run.
    """
    with django_db_blocker.unblock():
        from django.core.cache import cache

        from predictive import services
        from predictive.models import TrainingRun

        run = TrainingRun.objects.filter(status=TrainingRun.Status.DONE, triggered_by="test-session").first()
        if run is None:
            cache.delete(services.LOCK_KEY)
            with mock.patch("mlanalytics.core.jobs.enqueue"):
                run = services.train_all_models(triggered_by="test-session")
        return run


@pytest.fixture(scope="session")
def inventory_summaries(django_db_setup, django_db_blocker, trained_models):
    """The ledger summary, the stored reorder policies and the stored cost replays of the session's demo data,
    built once and committed, so every test reads them instead of rebuilding them (a request never replays a
    year: a store without a stored replay is answered 503 while it is computed).

    The policies are built on the trained parts-demand model, as in the app (a new model refreshes them): without
    it they fell back to moving averages, so what the inventory tests saw hung on whether a test on the same
    worker had trained the models first."""
    with django_db_blocker.unblock():
        from inventory.services import refresh_part_days, refresh_stock_policies, refresh_stock_replays

        refresh_part_days(full=True)
        refresh_stock_policies()
        refresh_stock_replays()


@pytest.fixture
def as_role(client, make_user):
    """as_role(role, stores="all") -> the Django test client logged in (session) as a new user of that role."""

    def login(role, stores="all"):
        user = make_user(role, stores)
        client.force_login(user)
        client.user = user
        return client

    return login


@pytest.fixture
def api_answer():
    """api_answer(user, path, data, method="post") -> the JSON an endpoint answers that user (asserting 200)."""
    from rest_framework.test import APIClient

    def call(user, path, data, method="post"):
        api = APIClient()
        api.force_authenticate(user)
        response = api.get(path, data) if method == "get" else api.post(path, data, format="json")
        assert response.status_code == 200, response.content[:300]
        return response.json()

    return call


@pytest.fixture(scope="session", autouse=True)
def _jobs_run_eagerly_never_on_a_real_broker():
    """With REDIS_URL set (CI) settings choose Celery for background jobs; tests must never publish to that
    real broker (no worker consumes it). Nor do they use the embedded thread: a job still running in it
    when a transactional test empties the database deadlocks PostgreSQL's TRUNCATE. So jobs run at once,
    in the caller's thread, through the real mlanalytics.core.jobs.enqueue ("eager").
    mlanalytics/core/tests/test_celery.py checks the Celery wiring itself."""
    settings.BACKGROUND_JOBS = "eager"
    yield
