"""Browser test harness: the app under daphne in a subprocess, on its own SQLite database seeded with
the small demo set, driven by Playwright through Debian's Chromium (never a downloaded browser).

Fixtures: `app_server` (base URL + `hook()` to run a service in the server), `browser`,
`page_as(role, width)` (a logged-in page collecting console errors), `shoot(page, name)` (screenshots
into test-artifacts/screenshots/ at the page's width). Tests are marked `browser` and skip cleanly
when /usr/bin/chromium is missing.
"""
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
PASSWORDS = {"admin": "admin-demo", "manager": "manager-demo", "staff": "staff-demo", "stakeholder": "stakeholder-demo"}
WIDTHS = (375, 1440)


def pytest_collection_modifyitems(config, items):
    # One xdist worker runs every browser test, so only one app server is started, seeded and trained.
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(pytest.mark.xdist_group("browser"))
    if os.path.exists(CHROMIUM):
        return
    skip = pytest.mark.skip(reason=f"{CHROMIUM} is missing (scripts/test.sh installs Debian's chromium)")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _manage(env, *args, timeout=600):
    result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}")
    return result.stdout


class AppServer:
    def __init__(self, url, token, process, log_path):
        self.url, self.token, self.process, self.log_path = url, token, process, log_path

    def hook(self, action, **kwargs):
        """Run a service call inside the server process (tests/browser/asgi_app.py)."""
        request = urllib.request.Request(f"{self.url}/__test__/{action}", data=json.dumps(kwargs).encode(), method="POST",
                                         headers={"X-Test-Token": self.token, "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=120) as response:
            return json.loads(response.read())


@pytest.fixture(scope="session")
def app_server(tmp_path_factory):
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing")
    data_dir = tmp_path_factory.mktemp("browser-app")
    token = secrets.token_hex(16)
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "PYTEST_XDIST_WORKER")}
    env.update({
        "DATA_DIR": str(data_dir), "DEBUG": "1", "CACHE_KEY_PREFIX": f"browser-{token[:6]}",
        "ALLOWED_HOSTS": "127.0.0.1,localhost", "BROWSER_TEST_TOKEN": token, "EMBEDDED_SCHEDULER": "0",
        "EMAIL_URL": f"filemail://{data_dir / 'mail'}", "PYTHONUNBUFFERED": "1",
    })
    _manage(env, "migrate", "--noinput", "-v", "0")
    _manage(env, "seed_demo", "--scale", "small", "--seed", "7", "-v", "0")
    try:  # once train_models does real work, pages with model output have something to show
        _manage(env, "train_models", "--if-needed", timeout=900)
        _manage(env, "train_workflow_models", "--if-needed", timeout=900)  # as `make run` does
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        print(f"train_models did not complete for the browser tests: {exc}", file=sys.stderr)
    port = _free_port()
    log_path = data_dir / "daphne.log"
    log = open(log_path, "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "tests.browser.asgi_app:application"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("the browser-test server did not start:\n" + log_path.read_text()[-4000:])
        time.sleep(0.3)
    server = AppServer(url, token, process, log_path)
    # Stores always open unless a test says otherwise, so alerts are delivered whenever the suite runs.
    for code in ("LON1", "MAN1"):
        server.hook("set_hours", store=code, hours=["00:00", "24:00"])
    yield server
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class BrowserPage:
    """A Playwright page logged in as a role, with the console errors it collected."""

    def __init__(self, page, base_url, width):
        self.page, self.base_url, self.width = page, base_url, width
        self.console_errors = []
        page.on("console", lambda m: self.console_errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.console_errors.append(f"page error: {e}"))

    def goto(self, path, **kwargs):
        response = self.page.goto(self.base_url + path, **kwargs)
        return response

    def wait_live(self, timeout=10000):
        # Arrow functions, not strings: a string predicate would need eval, which our CSP forbids.
        self.page.wait_for_function("() => window.MLA && MLA.live && MLA.live.connected", timeout=timeout)


_sessions = {}  # role -> Playwright storage state (session cookie), so each role logs in once


@pytest.fixture
def page_as(browser, app_server):
    contexts = []

    def open_page(role, width=1440):
        context = browser.new_context(viewport={"width": width, "height": 900}, accept_downloads=True,
                                      storage_state=_sessions.get(role))
        contexts.append(context)
        wrapped = BrowserPage(context.new_page(), app_server.url, width)
        if role not in _sessions:
            wrapped.goto("/accounts/login/")
            wrapped.page.fill("#id_username", role)
            wrapped.page.fill("#id_password", PASSWORDS[role])
            with wrapped.page.expect_navigation():
                wrapped.page.click("button[type=submit]")
            assert "/accounts/login/" not in wrapped.page.url, f"login as {role} failed"
            _sessions[role] = context.storage_state()
        return wrapped

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def shoot():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def save(browser_page, name):
        path = SCREENSHOTS / f"{name}-{browser_page.width}.png"
        browser_page.page.screenshot(path=str(path), full_page=True)
        return path

    return save
