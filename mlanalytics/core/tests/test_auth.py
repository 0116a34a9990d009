"""Logging in (session and JWT), the role matrix, and store scoping."""
import pytest
from django.test import Client
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.test import APIClient

from mlanalytics.core import roles
from mlanalytics.core.models import Store
from mlanalytics.core.scoping import allowed_stores, resolve_store, resolve_stores, scope_queryset
from workflow.models import RepairTicket

pytestmark = pytest.mark.django_db
PASSWORD = "test-pass-123"


def test_the_login_page_logs_a_user_in_to_the_dashboards(make_user):
    user = make_user("manager")
    browser = Client(enforce_csrf_checks=True)
    page = browser.get("/accounts/login/")
    assert page.status_code == 200 and b'name="csrfmiddlewaretoken"' in page.content
    token = page.cookies["csrftoken"].value
    response = browser.post("/accounts/login/", {"username": user.username, "password": PASSWORD, "csrfmiddlewaretoken": token})
    assert response.status_code == 302 and response.url == "/admin/ml-analytics/"
    assert browser.get("/admin/ml-analytics/").status_code == 200


def test_a_wrong_password_is_refused_in_words(make_user):
    user = make_user("staff", stores=[])
    response = Client().post("/accounts/login/", {"username": user.username, "password": "nope"})
    assert response.status_code == 200
    assert b"didn't match" in response.content


def test_pages_need_a_login():
    response = Client().get("/admin/ml-analytics/")
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")


# Password guessing (the failure budget, lock-out and 429): test_login_lockout.py.


def test_jwt_obtain_refresh_rotation_and_logout_blacklist(make_user):
    user = make_user("stakeholder")
    api = APIClient()
    pair = api.post("/api/auth/token/", {"username": user.username, "password": PASSWORD}, format="json")
    assert pair.status_code == 200
    access, refresh = pair.data["access"], pair.data["refresh"]
    rotated = api.post("/api/auth/token/refresh/", {"refresh": refresh}, format="json")
    assert rotated.status_code == 200 and rotated.data["refresh"] != refresh
    # The old refresh token was blacklisted by the rotation.
    assert api.post("/api/auth/token/refresh/", {"refresh": refresh}, format="json").status_code == 401
    assert api.post("/api/auth/logout/", {"refresh": rotated.data["refresh"]}, format="json").status_code == 200
    assert api.post("/api/auth/token/refresh/", {"refresh": rotated.data["refresh"]}, format="json").status_code == 401
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    assert api.get("/api/schema/").status_code == 200


def test_a_wrong_password_gets_no_token(make_user):
    user = make_user("staff")
    response = APIClient().post("/api/auth/token/", {"username": user.username, "password": "wrong"}, format="json")
    assert response.status_code == 401 and "access" not in response.data


def test_the_api_refuses_anonymous_requests():
    assert APIClient().get("/api/schema/").status_code == 401


@pytest.mark.parametrize("role, allowed, refused", [
    ("admin", roles.ALL_CAPABILITIES, ()),
    ("manager", set(roles.ALL_CAPABILITIES) - {roles.IMPORT_DATA}, (roles.IMPORT_DATA,)),
    ("staff", (roles.VIEW_WORKFLOW, roles.VIEW_INVENTORY, roles.ACKNOWLEDGE_ALERTS, roles.RECORD_QA),
     (roles.VIEW_PREDICTIVE, roles.MANAGE_PURCHASING, roles.APPLY_ALLOCATION, roles.MANAGE_RULES, roles.DOWNLOAD_REPORTS)),
    ("stakeholder", (roles.VIEW_PREDICTIVE, roles.DOWNLOAD_REPORTS, roles.SUBSCRIBE_REPORTS),
     (roles.MANAGE_PURCHASING, roles.APPLY_ALLOCATION, roles.MANAGE_RULES, roles.ACKNOWLEDGE_ALERTS, roles.RECORD_QA)),
])
def test_each_role_has_exactly_its_capabilities(make_user, role, allowed, refused):
    user = make_user(role)
    assert user.role == role
    assert all(roles.has_capability(user, c) for c in allowed)
    assert not any(roles.has_capability(user, c) for c in refused)


def test_scoping_returns_404_for_unknown_and_403_for_someone_elses_store(make_user, store_codes):
    mine, theirs = store_codes[0], store_codes[1]
    user = make_user("manager", stores=[mine])
    assert list(allowed_stores(user).values_list("code", flat=True)) == [mine]
    assert resolve_store(user, mine.lower()).code == mine
    with pytest.raises(NotFound):
        resolve_store(user, "NOPE")
    with pytest.raises(PermissionDenied):
        resolve_store(user, theirs)
    assert [s.code for s in resolve_stores(user)] == [mine]
    visible = scope_queryset(RepairTicket.objects.all(), user)
    assert visible.count() == RepairTicket.objects.filter(store__code=mine).count() > 0


def test_admins_and_head_office_see_every_store(make_user):
    admin = make_user("admin", stores=[])
    assert allowed_stores(admin).count() == Store.objects.filter(is_active=True).count()
    head_office = make_user("stakeholder", stores=[])
    head_office.all_stores = True
    head_office.save()
    assert allowed_stores(head_office).count() == Store.objects.filter(is_active=True).count()


def test_health_check_is_liveness_only():
    # The database and cache checks moved to /readyz (mlanalytics/core/tests/test_operations.py).
    response = Client().get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_pages_carry_security_headers(make_user):
    browser = Client()
    response = browser.get("/accounts/login/")
    assert "default-src 'self'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
