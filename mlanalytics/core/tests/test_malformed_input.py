"""Malformed input is a 400 with a JSON body, never a 500 (security issue 12, item 7).

Each test sends what an attacker or a broken client would send — JSON nested a thousand deep, NUL bytes in
query parameters and JSON values, a page size past the 64-bit range — and asserts the refusal. On PostgreSQL a
NUL reaching a query raises, on SQLite the page size overflows: the refusal happens before either.
"""
import json

import pytest
from django.test import Client
from rest_framework.test import APIClient

from mlanalytics.core import alerts_api

pytestmark = pytest.mark.django_db

RULES = "/api/workflow-automation/rules/"


def assert_json_400(response):
    assert response.status_code == 400, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    assert response.json()


def nested(depth):
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("depth", [1000, 100_000])
def test_json_nested_a_thousand_deep_is_refused_by_the_token_endpoint(depth):
    response = APIClient().post("/api/auth/token/", nested(depth), content_type="application/json")
    assert_json_400(response)


def test_json_nested_deeper_than_the_limit_is_refused_by_every_endpoint(api_for):
    api = api_for("manager")
    body = '{"name": "deep", "trigger": "ticket_created", "conditions": ' + '{"not": ' * 200 + "{}" + "}" * 200 + "}"
    assert_json_400(api.post(RULES, body, content_type="application/json"))


@pytest.mark.parametrize("path", [
    "/api/workflow-automation/outbox/?ticket=a%00b",
    "/api/workflow-automation/qa-inspections/?ticket=a%00b",
    "/api/workflow-automation/rules/?store=a%00",
    "/api/core/alerts/?store=LON1%00",
    "/api/inventory-management/stock-monitoring?store=a%00",
])
def test_a_nul_byte_in_a_query_parameter_is_refused(api_for, path):
    response = api_for("manager").get(path)
    assert_json_400(response)
    assert "no-store" in response["Cache-Control"]  # a refusal carries the headers of any answer


def test_a_nul_byte_in_a_page_query_is_refused_without_a_server_error(as_role):
    browser = as_role("manager")
    browser.raise_request_exception = False
    response = browser.get("/admin/ml-analytics/?store=a%00")
    assert response.status_code == 400


def test_a_nul_byte_in_a_json_value_is_refused(api_for):
    api = api_for("manager")
    rule = {"name": "nul", "trigger": "ticket_created", "trigger_params": {},
            "conditions": {"all": [{"field": "device_brand", "op": "eq", "value": "App\u0000le"}]},
            "actions": [{"type": "raise_alert", "title": "Alert \u0000 title"}]}
    assert_json_400(api.post(RULES, rule, format="json"))
    named = {**rule, "name": "nul\u0000name", "conditions": {}}
    assert_json_400(api.post(RULES, named, format="json"))
    keyed = {**rule, "conditions": {}, "trigger_params": {"ho\u0000urs": 1}}
    assert_json_400(api.post(RULES, keyed, format="json"))


@pytest.mark.parametrize("path", [
    "/api/core/alerts/", RULES, "/api/workflow-automation/message-templates/", "/api/workflow-automation/rule-runs/",
    "/api/workflow-automation/outbox/",
])
@pytest.mark.parametrize("query", ["limit=9223372036854775808", "offset=9223372036854775808", "limit=-1", "limit=abc"])
def test_a_page_size_or_offset_out_of_range_is_refused(api_for, path, query):
    assert_json_400(api_for("manager").get(f"{path}?{query}"))


def test_a_page_size_within_range_still_pages(api_for):
    api = api_for("manager")
    assert api.get("/api/core/alerts/?limit=2&offset=0").status_code == 200
    assert api.get(f"{RULES}?limit=1000").status_code == 200


def test_an_unknown_api_path_answers_json_not_the_html_page():
    response = Client().get("/api/no-such-thing/")
    assert response.status_code == 404 and response["Content-Type"].startswith("application/json")
    assert response.json()["detail"]


def test_a_server_error_on_an_api_path_answers_json(api_for, monkeypatch):
    def broken(self, request, *args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(alerts_api.AlertViewSet, "list", broken)
    api = api_for("manager")
    api.raise_request_exception = False
    response = api.get("/api/core/alerts/")
    assert response.status_code == 500 and response["Content-Type"].startswith("application/json")
    assert "boom" not in response.content.decode()
    assert json.loads(response.content)["detail"]


def test_pages_keep_their_html_error_pages():
    response = Client().get("/no-such-page/")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")
