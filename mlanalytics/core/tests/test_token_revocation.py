"""Changing or resetting a password, or deactivating the account, ends every token and session issued before
(security issue 12, item 4): outstanding refresh tokens are blacklisted, and access tokens carry the user's token
version, which the API checks on every request. Users change their own password on Django's page; an admin
sends a reset link from the user admin.
"""
import re

import pytest
from django.core import mail
from django.test import Client
from rest_framework.test import APIClient

from mlanalytics.core import accounts

pytestmark = pytest.mark.django_db
PASSWORD = "test-pass-123"
NEW_PASSWORD = "a-much-longer-new-secret-42"
PROTECTED = "/api/core/alerts/"


def pair_for(user, password=PASSWORD):
    response = APIClient().post("/api/auth/token/", {"username": user.username, "password": password}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def with_access(access):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return api


def refresh(token):
    return APIClient().post("/api/auth/token/refresh/", {"refresh": token}, format="json")


def stolen_tokens(user):
    """What a thief holds: a pair from a login, and the pair it was rotated into."""
    first = pair_for(user)
    rotated = refresh(first["refresh"]).json()
    assert with_access(rotated["access"]).get(PROTECTED).status_code == 200
    return first, rotated


def assert_all_refused(first, rotated):
    assert refresh(rotated["refresh"]).status_code == 401
    assert refresh(first["refresh"]).status_code == 401
    for access in (first["access"], rotated["access"]):
        assert with_access(access).get(PROTECTED).status_code == 401


def test_set_password_ends_every_refresh_and_access_token(make_user):
    user = make_user("manager")
    first, rotated = stolen_tokens(user)
    user.set_password(NEW_PASSWORD)
    user.save()
    assert_all_refused(first, rotated)
    fresh = pair_for(user, NEW_PASSWORD)
    assert with_access(fresh["access"]).get(PROTECTED).status_code == 200
    assert refresh(fresh["refresh"]).status_code == 200


def test_a_user_changes_their_password_on_the_change_password_page(make_user):
    user = make_user("staff")
    first, rotated = stolen_tokens(user)
    elsewhere = Client()
    elsewhere.force_login(user)
    browser = Client()
    browser.force_login(user)
    page = browser.get("/accounts/password/change/")
    assert page.status_code == 200 and b'name="old_password"' in page.content
    wrong = browser.post("/accounts/password/change/", {"old_password": "nope", "new_password1": NEW_PASSWORD,
                                                       "new_password2": NEW_PASSWORD})
    assert wrong.status_code == 200
    done = browser.post("/accounts/password/change/", {"old_password": PASSWORD, "new_password1": NEW_PASSWORD,
                                                      "new_password2": NEW_PASSWORD})
    assert done.status_code == 302 and browser.get(done.url).status_code == 200
    assert_all_refused(first, rotated)
    assert browser.get("/admin/ml-analytics/").status_code == 200  # this session stays logged in
    assert elsewhere.get("/admin/ml-analytics/").status_code == 302  # every other session is logged out
    assert pair_for(user, NEW_PASSWORD)["access"]


def test_every_page_links_to_the_change_password_page(as_role):
    assert b'href="/accounts/password/change/"' in as_role("staff").get("/admin/ml-analytics/").content


def test_an_admin_sends_a_reset_link_which_revokes_tokens_at_once_and_sets_a_new_password(make_user):
    user = make_user("manager")
    user.email = "manager@example.co.uk"
    user.save()
    first, rotated = stolen_tokens(user)
    admin = make_user("admin", superuser=True)
    browser = Client()
    browser.force_login(admin)
    response = browser.post("/admin/core/user/", {"action": "send_password_reset", "_selected_action": [user.pk]})
    assert response.status_code == 302
    assert_all_refused(first, rotated)  # a suspected account is cut off before its owner reads the mail
    (message,) = mail.outbox
    assert message.to == [user.email]
    link = re.search(r"https?://[^/\s]+(/accounts/reset/\S+/)", message.body).group(1)
    visitor = Client()
    form_page = visitor.get(link, follow=True)
    assert form_page.status_code == 200 and b'name="new_password1"' in form_page.content
    saved = visitor.post(form_page.redirect_chain[-1][0], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert saved.status_code == 302
    assert pair_for(user, NEW_PASSWORD)["access"]
    assert visitor.get(link, follow=True).context["validlink"] is False  # the link works once


def test_a_reset_for_a_user_without_email_is_refused_in_words(make_user):
    user = make_user("staff")
    with pytest.raises(accounts.NoEmailAddress):
        accounts.send_password_reset(user=user, base_url="https://repairs.example.co.uk")


def test_deactivating_a_user_ends_their_tokens(make_user):
    user = make_user("manager")
    first, rotated = stolen_tokens(user)
    user.is_active = False
    user.save()
    assert_all_refused(first, rotated)


def test_other_users_keep_their_tokens(make_user):
    user, colleague = make_user("manager"), make_user("manager")
    kept = pair_for(colleague)
    user.set_password(NEW_PASSWORD)
    user.save()
    assert with_access(kept["access"]).get(PROTECTED).status_code == 200
    assert refresh(kept["refresh"]).status_code == 200


def test_a_stale_copy_of_the_user_cannot_write_an_old_token_version_back(make_user):
    from mlanalytics.core.models import User

    user = make_user("manager")
    stale = User.objects.get(pk=user.pk)
    first, rotated = stolen_tokens(user)
    user.set_password(NEW_PASSWORD)
    user.save()
    stale.first_name = "Renamed"
    stale.save()
    assert with_access(rotated["access"]).get(PROTECTED).status_code == 401
