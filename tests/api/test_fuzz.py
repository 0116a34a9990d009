"""Schema-based fuzzing (schemathesis): no request to any operation of the OpenAPI schema gets a 500.

The schema is generated from the code (drf-spectacular), schemathesis draws valid and invalid
requests from it, and each is sent through the full Django stack as a manager with a real JWT.
"""
import pytest
import schemathesis
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

SCHEMA = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))
# Logout would blacklist the token the other examples need; it is tested on its own in test_auth.
SCHEMA = SCHEMA.exclude(path_regex=r"^/api/auth/")


@pytest.fixture
def manager_client(make_user, trained_models, inventory_summaries):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(make_user('manager')).access_token}")
    return api


@SCHEMA.parametrize()
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_request_gets_a_server_error(case, manager_client):
    path = case.formatted_path
    method = case.method.lower()
    if method not in ("get", "head", "delete", "post", "put", "patch"):
        return
    if method in ("get", "head", "delete"):
        response = getattr(manager_client, method)(path, case.query or {})
    else:
        body = case.body if isinstance(case.body, (dict, list)) else {}
        query = "&".join(f"{k}={v}" for k, v in (case.query or {}).items())
        response = getattr(manager_client, method)(path + (f"?{query}" if query else ""), body, format="json")
    assert response.status_code < 500, f"{case.method} {path} {case.query} {case.body!r} -> {response.status_code}"
