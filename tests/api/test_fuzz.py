"""Schema-based fuzzing (schemathesis, every check): each operation answers as its OpenAPI schema says.

The schema is generated from the code (drf-spectacular). Schemathesis draws valid and invalid requests from it
(its examples, coverage and fuzzing phases), sends each through the full Django stack in-process (WSGI) as a
manager with a real JWT, and runs all of its checks on the answer: no server error, only documented status
codes and content types, bodies and headers that match the schema, invalid input refused, valid input
accepted, 401 without the token, 405 for undocumented methods. Deterministic: the same cases on every run.
"""
import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from rest_framework_simplejwt.tokens import RefreshToken
from schemathesis.config import SchemathesisConfig

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

# Examples per operation in the fuzzing phase; the examples and coverage phases add their own deterministic
# cases (boundary values, each documented value, one invalid value per constraint).
MAX_EXAMPLES = 10

# Operations whose refusals of schema-valid input are business rules a JSON schema cannot state (a rule across
# fields, or a value that must name an existing record): a 400 there names the field at fault and is correct.
# positive_data_acceptance then also accepts 400 for exactly these operations; every other check still applies.
CROSS_FIELD_RULES = [
    # action "snooze" needs `until`.
    ("/api/inventory-management/reorder-decisions/", "POST"),
    # A snooze needs minutes or an until time, in the future and at most 14 days ahead.
    ("/api/core/alerts/{id}/snooze/", "POST"),
    # `end` may not be after today (the schema states the years, 2000 to 2099).
    ("/api/core/ticket-intake/", "GET"),
    # The rule language: trigger_params, conditions and actions are checked against the trigger and the action
    # types (workflow.rules.validate_rule); the schema states only their JSON shapes.
    ("/api/workflow-automation/rules/", "POST"),
    ("/api/workflow-automation/rules/{id}/", "PUT"),
    ("/api/workflow-automation/rules/{id}/", "PATCH"),
]

CONFIG = SchemathesisConfig.from_dict({
    "seed": 20261207,
    # The API refuses a NUL character in any text with a 400 (DRF's CharField; JSON Schema could only say so with
    # a pattern on every string), so NUL-bearing strings are not drawn as valid input.
    "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none", "allow-x00": False},
    "operations": [
        {"include-path": path, "include-method": method,
         "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "400", "401", "403", "404", "409"]}}}
        for path, method in CROSS_FIELD_RULES
    ],
})

SCHEMA = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True), config=CONFIG)
# Logout would blacklist the token the other examples need; it is tested on its own in test_auth.
SCHEMA = SCHEMA.exclude(path_regex=r"^/api/auth/")
SCHEMA.app = WSGIHandler()


@pytest.fixture
def manager_headers(make_user, trained_models, inventory_summaries):
    return {"Authorization": f"Bearer {RefreshToken.for_user(make_user('manager')).access_token}"}


@pytest.fixture
def in_test_transaction():
    """Requests go through Django's WSGI handler, which closes "old" connections around each request; inside a
    test's transaction that would close the test's own connection. Django's test client disconnects the same
    receivers."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@SCHEMA.parametrize()
# One manager (and one test transaction) per operation, shared by its examples; requests are slow under load.
@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                                HealthCheck.data_too_large, HealthCheck.filter_too_much])
def test_every_operation_answers_as_documented(case, manager_headers, in_test_transaction):
    case.call_and_validate(headers=manager_headers)
