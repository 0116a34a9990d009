"""The API contract's fixes in plain cases (test_fuzz.py checks every operation with schemathesis): errors are
documented, nullable fields say so, and input the schema calls invalid is refused instead of coerced."""
import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

SCHEMA = SchemaGenerator().get_schema(request=None, public=True)


def test_every_operation_documents_its_errors_with_the_shared_error_body():
    for path, operations in SCHEMA["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            for code in ("400", "401", "429"):
                assert code in responses, f"{method.upper()} {path} does not document {code}"
            if not path.startswith("/api/auth/"):
                assert {"403", "404"} <= set(responses), f"{method.upper()} {path}"
            for code, response in responses.items():
                if code >= "400":
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Error"}, f"{method.upper()} {path} {code}"


@pytest.mark.parametrize("component, field", [("Rule", "created_by"), ("RuleRun", "user"),
                                              ("QAInspection", "inspector"), ("OutboxMessage", "ticket")])
def test_fields_that_can_be_null_are_documented_nullable(component, field):
    assert SCHEMA["components"]["schemas"][component]["properties"][field].get("nullable") is True


@pytest.fixture
def manager(make_user):
    api = APIClient()
    api.force_authenticate(make_user("manager"))
    return api


@pytest.mark.django_db
@pytest.mark.parametrize("url", [
    "/api/workflow-automation/rules/?limit=abc",  # DRF fell back to the default page size
    "/api/workflow-automation/rules/?offset=-1",
    "/api/workflow-automation/outbox/?limit=0",
    "/api/workflow-automation/outbox/?limit=501",  # over max_page_size: DRF cut it to 500
    "/api/workflow-automation/qa-inspections/?passed=maybe",  # django-filter dropped the filter
    "/api/workflow-automation/rules/?enabled=-5",
    "/api/workflow-automation/rule-runs/?rule=abc",
])
def test_query_values_the_schema_calls_invalid_are_refused(manager, url):
    response = manager.get(url)
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/json"


@pytest.mark.django_db
def test_a_filter_by_an_id_of_no_record_is_an_empty_page_and_a_blank_value_means_not_given(manager):
    assert manager.get("/api/workflow-automation/rule-runs/?rule=999999").json()["results"] == []
    assert manager.get("/api/workflow-automation/qa-inspections/?passed=&limit=").status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("body, field", [
    ({"horizon_days": "28"}, "horizon_days"),  # a string for an integer: DRF parsed it
    ({"interval": True}, "interval"),  # a boolean for the enum 80/95
    ({"store": 5}, "store"),  # a number for a string
])
def test_json_bodies_must_have_the_documented_types(manager, body, field):
    response = manager.post("/api/predictive-analytics/repair-demand-forecast/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()


@pytest.mark.django_db
def test_an_unrouted_api_url_is_a_json_404(manager):
    response = manager.post("/api/core/alerts/0.5/acknowledge/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}
