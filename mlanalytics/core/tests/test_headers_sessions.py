"""Response headers and session lifetime (security issue 12, item 11): nothing a logged-in user sees or the API
answers may be stored by a browser or proxy cache; the Django admin gets the same Content-Security-Policy as the
dashboards; a session lasts a working day (SESSION_HOURS), not Django's 14 days; and the server does not announce
itself (daphne's `Server: daphne`)."""
import http.client
import json
import os
import re
import shlex
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.test import Client

from tests.servers import daphne, free_port

pytestmark = pytest.mark.django_db
ROOT = Path(settings.BASE_DIR)


def assert_not_stored(response):
    directives = {d.strip() for d in response.get("Cache-Control", "").split(",")}
    assert "no-store" in directives and "private" in directives, response.get("Cache-Control")


@pytest.mark.parametrize("path", ["/api/core/alerts/", "/api/core/home/", "/api/workflow-automation/rules/"])
def test_api_answers_are_never_stored(api_for, path):
    assert_not_stored(api_for("manager").get(path))


def test_api_refusals_are_never_stored_either():
    assert_not_stored(Client().get("/api/core/alerts/"))


@pytest.mark.parametrize("path", ["/admin/ml-analytics/", "/admin/ml-analytics/alerts/", "/admin/", "/admin/core/store/",
                                  "/accounts/password/change/"])
def test_pages_a_logged_in_user_gets_are_never_stored(make_user, path):
    admin = make_user("admin", superuser=True)
    browser = Client()
    browser.force_login(admin)
    response = browser.get(path)
    assert response.status_code == 200
    assert_not_stored(response)


def test_static_files_stay_cacheable():
    response = Client().get("/static/css/app.css")
    assert "no-store" not in response.get("Cache-Control", "")


@pytest.mark.parametrize("path", ["/admin/login/", "/admin/", "/admin/core/user/"])
def test_the_django_admin_has_the_content_security_policy(make_user, path):
    admin = make_user("admin", superuser=True)
    browser = Client()
    if path != "/admin/login/":
        browser.force_login(admin)
    policy = browser.get(path)["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "unsafe-eval" not in policy


def test_a_session_lasts_a_working_day_not_two_weeks(make_user):
    user = make_user("manager")
    browser = Client()
    response = browser.post("/accounts/login/", {"username": user.username, "password": "test-pass-123"})
    assert response.status_code == 302
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert int(cookie["max-age"]) == settings.SESSION_HOURS * 3600 <= 12 * 3600
    assert browser.session.get_expiry_age() == settings.SESSION_HOURS * 3600


# --- The Server banner: every way the app is served runs daphne without it ---------------------------------------


def daphne_commands():
    """The daphne command lines of the Makefile (make run), the image and compose's web service."""
    makefile = [shlex.split(line.split("$(PY)", 1)[1]) for line in (ROOT / "Makefile").read_text().splitlines()
                if "-m daphne" in line]
    (cmd,) = [json.loads(line[len("CMD "):]) for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("CMD ")]
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]["web"]["command"]
    return {"Makefile": makefile[0], "Dockerfile": cmd, "compose.yaml": compose}


@pytest.mark.parametrize("where", ["Makefile", "Dockerfile", "compose.yaml"])
def test_daphne_is_told_not_to_announce_itself(where):
    assert "--no-server-name" in daphne_commands()[where]


def test_the_tls_proxy_drops_its_own_server_header():
    """Caddy adds `Server: Caddy` unless its site says otherwise; compose runs it on the repository's Caddyfile."""
    proxy = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]["proxy"]
    assert "./Caddyfile:/etc/caddy/Caddyfile:ro" in proxy["volumes"] and "/etc/caddy/Caddyfile" in proxy["command"]
    site = (ROOT / "Caddyfile").read_text()
    assert re.search(r"^\s*header -Server$", site, re.MULTILINE) and "reverse_proxy web:8000" in site



@pytest.mark.slow
def test_the_image_command_serves_without_a_server_header(tmp_path):
    """The image's own command line, bound to a free local port, answers without any Server header."""
    command = daphne_commands()["Dockerfile"]
    arguments = command[1:]
    arguments[arguments.index("-b") + 1] = "127.0.0.1"
    port = free_port()
    arguments[arguments.index("-p") + 1] = str(port)
    environment = {**{k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "CELERY_BROKER_URL", "DATABASE_URL")},
                   "DATA_DIR": str(tmp_path), "STATIC_ROOT": str(tmp_path / "static")}
    with daphne(arguments, environment, port):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        connection.request("GET", "/accounts/login/", headers={"Host": "localhost"})
        response = connection.getresponse()
        assert response.status == 200
        headers = {name.lower(): value for name, value in response.getheaders()}
        assert "server" not in headers, headers.get("server")
        assert not re.search(r"daphne|twisted", " ".join(headers.values()), re.IGNORECASE)
