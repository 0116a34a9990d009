"""Production settings pass Django's deployment checklist, and the OpenAPI schema has no warnings."""
import fnmatch
import http.client
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.conf import settings

from tests.servers import daphne, free_port


def test_check_deploy_is_clean_in_production_mode(tmp_path):
    environment = {
        **os.environ, "DEBUG": "0", "SECRET_KEY": secrets.token_urlsafe(60), "ALLOWED_HOSTS": "repairs.example.co.uk",
        "DATA_DIR": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        # A production deployment delivers customer messages (the workflow app's deploy checks say so otherwise).
        "EMAIL_URL": "smtp+tls://repairs:secret@mail.example.co.uk:587", "SMS_PROVIDER": "http",
        "SMS_API_URL": "https://sms.example.co.uk/v1/messages", "SMS_API_KEY": "key",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=settings.BASE_DIR, env=environment, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout



def image_healthcheck():
    """The HEALTHCHECK command of the production image, as the container runs it (a shell command)."""
    text = (Path(settings.BASE_DIR) / "Dockerfile").read_text()
    (line,) = [line for line in text.splitlines() if line.startswith("HEALTHCHECK ")]
    return line.split(" CMD ", 1)[1]


@pytest.mark.slow
def test_the_image_healthcheck_passes_against_the_production_settings(tmp_path):
    """DEBUG=0 redirects every page to HTTPS; the probe calls http://127.0.0.1:8000/healthz from inside
    the container with a production ALLOWED_HOSTS that does not list 127.0.0.1, and must get 200."""
    port = free_port()
    environment = {
        **{k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "CELERY_BROKER_URL")},
        "DEBUG": "0", "SECRET_KEY": secrets.token_urlsafe(60), "ALLOWED_HOSTS": "repairs.example.co.uk",
        "DATA_DIR": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "STATIC_ROOT": str(tmp_path / "static"),
        "METRICS_TOKEN": "scrape-token",
    }
    with daphne(["-b", "127.0.0.1", "-p", str(port), "mlanalytics.asgi:application"], environment, port):
        # The first request loads every view module (seconds); the image allows for that with --start-period.
        warm_up = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        warm_up.request("GET", "/healthz", headers={"Host": "repairs.example.co.uk"})
        assert warm_up.getresponse().status == 200  # plain HTTP: /healthz is exempt from the HTTPS redirect
        probe = subprocess.run(["/bin/sh", "-c", image_healthcheck().replace("127.0.0.1:8000", f"127.0.0.1:{port}")],
                               env=environment, capture_output=True, text=True, timeout=30)
        assert probe.returncode == 0, probe.stderr
        # compose.yaml's probe of the web service asks /readyz the same way (no Redis here: not configured).
        compose = yaml.safe_load((Path(settings.BASE_DIR) / "compose.yaml").read_text())
        readiness = compose["services"]["web"]["healthcheck"]["test"][-1].replace("127.0.0.1:8000", f"127.0.0.1:{port}")
        probe = subprocess.run([sys.executable, "-c", readiness], env=environment, capture_output=True, text=True,
                               timeout=30)
        assert probe.returncode == 0, probe.stderr
        page = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        page.request("GET", "/accounts/login/", headers={"Host": "repairs.example.co.uk"})
        response = page.getresponse()
        assert response.status == 301 and response.getheader("Location") == "https://repairs.example.co.uk/accounts/login/"
        # Prometheus scrapes each container by address over plain HTTP (Host: its IP), with the bearer token.
        for token, status in (("scrape-token", 200), ("wrong", 401)):
            scrape = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            scrape.request("GET", "/metrics", headers={"Host": f"10.0.0.7:{port}", "Authorization": f"Bearer {token}"})
            answer = scrape.getresponse()
            assert answer.status == status
            assert (b"mla_http_requests_total" in answer.read()) == (status == 200)
        other = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        other.request("GET", "/healthz", headers={"Host": f"10.0.0.7:{port}"})
        assert other.getresponse().status == 400  # every other path still checks ALLOWED_HOSTS


def test_compose_gives_containers_the_env_file_and_no_web_probe_where_no_web_server_runs():
    compose = yaml.safe_load((Path(settings.BASE_DIR) / "compose.yaml").read_text())
    services = compose["services"]
    for name in ("migrate", "web", "worker", "beat"):
        assert {"path": ".env", "required": False} in services[name]["env_file"], name
    assert "/readyz" in " ".join(services["web"]["healthcheck"]["test"])  # readiness; the image's probe: /healthz
    assert services["migrate"]["healthcheck"] == {"disable": True} and services["beat"]["healthcheck"] == {"disable": True}
    assert "inspect ping" in " ".join(services["worker"]["healthcheck"]["test"])


def test_the_build_context_leaves_out_local_state_and_secrets():
    patterns = [line.strip() for line in (Path(settings.BASE_DIR) / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    for path in (".venv", "var", ".git", ".env", ".env.production", "mlanalytics/__pycache__", "test-artifacts"):
        assert any(fnmatch.fnmatch(path, p.replace("**/", "*")) or fnmatch.fnmatch(path, p) for p in patterns), path
    for path in ("manage.py", "mlanalytics/settings.py", "requirements.txt", "static/css/app.css", "templates/base.html"):
        assert not any(fnmatch.fnmatch(path, p.replace("**/", "*")) or fnmatch.fnmatch(path, p) for p in patterns), path
