"""Password guessing: one budget of failed logins per address and per username, shared by every login surface —
the dashboards' login page, the Django admin's and the token endpoint — then a lock-out answered 429 with
Retry-After (security issue 12, item 3; django-axes keeps the count in the database).

The budget is LOGIN_FAILURE_LIMIT (5 by default): the attempt that spends it is refused, and so is every
attempt after it, right password or not, until LOGIN_LOCKOUT_MINUTES pass without a failure.
"""
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db
PASSWORD = "test-pass-123"
LIMIT = settings.AXES_FAILURE_LIMIT


def session_login(client, username, password, path="/accounts/login/"):
    return client.post(path, {"username": username, "password": password, "next": "/admin/"})


def token_login(client, username, password):
    return client.post("/api/auth/token/", {"username": username, "password": password}, format="json")


def admin_login(client, username, password):
    return session_login(client, username, password, path="/admin/login/")


def test_the_admin_login_refuses_the_right_password_once_the_budget_is_spent(make_user):
    admin = make_user("admin", superuser=True)
    browser = Client(REMOTE_ADDR="203.0.113.10")
    codes = [admin_login(browser, admin.username, f"guess-{n}").status_code for n in range(LIMIT + 10)]
    assert codes[:LIMIT - 1] == [200] * (LIMIT - 1) and set(codes[LIMIT - 1:]) == {429}
    right = admin_login(browser, admin.username, PASSWORD)
    assert right.status_code == 429 and right["Retry-After"] == str(settings.AXES_COOLOFF_TIME.seconds)
    assert "_auth_user_id" not in browser.session
    assert browser.get("/admin/").status_code == 302  # still not logged in


def test_one_budget_per_address_is_shared_by_the_login_page_the_admin_and_the_token_endpoint(make_user):
    user = make_user("manager")
    address = {"REMOTE_ADDR": "203.0.113.11"}
    browser, api = Client(**address), APIClient(**address)
    # Different usernames on each surface: only the address ties the guesses together.
    surfaces = [lambda n: session_login(browser, f"someone-{n}", "x"), lambda n: admin_login(browser, f"admin-{n}", "x"),
                lambda n: token_login(api, f"api-{n}", "x")]
    for n in range(LIMIT - 1):
        assert surfaces[n % 3](n).status_code in (200, 401)
    assert token_login(api, user.username, "wrong").status_code == 429
    assert session_login(browser, user.username, PASSWORD).status_code == 429
    assert token_login(api, user.username, PASSWORD).status_code == 429
    assert admin_login(browser, user.username, PASSWORD).status_code == 429
    # Another address is not locked out by this one.
    assert token_login(APIClient(REMOTE_ADDR="198.51.100.20"), user.username, PASSWORD).status_code == 200


def test_one_budget_per_username_whatever_the_address(make_user):
    victim = make_user("manager")
    for n in range(LIMIT):
        guesser = APIClient(REMOTE_ADDR=f"192.0.2.{n + 1}") if n % 2 else Client(REMOTE_ADDR=f"192.0.2.{n + 1}")
        login = token_login if n % 2 else session_login
        login(guesser, victim.username, f"guess-{n}")
    fresh = APIClient(REMOTE_ADDR="198.51.100.30")
    locked = token_login(fresh, victim.username, PASSWORD)
    assert locked.status_code == 429 and "access" not in locked.json()
    assert session_login(Client(REMOTE_ADDR="198.51.100.31"), victim.username, PASSWORD).status_code == 429
    # Other users at that address are not affected by the victim's lock-out.
    other = make_user("staff")
    assert token_login(fresh, other.username, PASSWORD).status_code == 200


def test_the_lockout_answers_json_on_the_api_and_a_page_on_the_login_form_both_with_retry_after(make_user):
    api, browser = APIClient(REMOTE_ADDR="203.0.113.12"), Client(REMOTE_ADDR="203.0.113.13")
    for n in range(LIMIT):
        token_login(api, "nobody", f"guess-{n}")
        session_login(browser, f"nobody-{n}", "guess")
    answer = token_login(api, "nobody", "guess")
    assert answer.status_code == 429 and answer["Content-Type"].startswith("application/json")
    assert answer.json()["code"] == "locked_out" and int(answer["Retry-After"]) == settings.AXES_COOLOFF_TIME.seconds
    page = session_login(browser, "nobody", "guess")
    assert page.status_code == 429 and page["Content-Type"].startswith("text/html")
    assert b"Too many failed logins" in page.content and page["Retry-After"]


def test_a_spoofed_x_forwarded_for_does_not_open_a_new_budget():
    """The count is per REMOTE_ADDR (daphne --proxy-headers sets it from the TLS proxy); the client writes
    X-Forwarded-For, so a new value per attempt must not open a new count."""
    attacker, api = Client(REMOTE_ADDR="203.0.113.7"), APIClient(REMOTE_ADDR="203.0.113.7")
    codes = [session_login(attacker, f"x{n}", "y", ).status_code if n % 2 else
             token_login(api, f"x{n}", "y").status_code for n in range(LIMIT + 2)]
    assert 429 in codes[:LIMIT] and set(codes[LIMIT:]) == {429}
    spoofed = attacker.post("/accounts/login/", {"username": "z", "password": "y"}, HTTP_X_FORWARDED_FOR="10.0.0.99")
    assert spoofed.status_code == 429
    assert session_login(Client(REMOTE_ADDR="198.51.100.9"), "z", "y").status_code == 200  # another address counts apart


def test_the_lockout_ends_after_the_cool_off_without_failures(make_user):
    user = make_user("staff")
    api = APIClient(REMOTE_ADDR="203.0.113.14")
    for n in range(LIMIT):
        token_login(api, user.username, f"guess-{n}")
    assert token_login(api, user.username, PASSWORD).status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(seconds=1))
    assert token_login(api, user.username, PASSWORD).status_code == 200


def test_a_few_mistakes_and_a_right_password_log_in():
    from mlanalytics.core.models import User

    user = User.objects.create_user(username="careful", password=PASSWORD)
    browser = Client(REMOTE_ADDR="203.0.113.15")
    for n in range(LIMIT - 2):
        assert session_login(browser, user.username, f"typo-{n}").status_code == 200
    assert session_login(browser, user.username, PASSWORD).status_code == 302
