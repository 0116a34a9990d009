"""The Django admin under the app's Content-Security-Policy (security issue 12, item 11): the policy that keeps
the dashboards to our own scripts now covers /admin/ too, and the admin's own scripts still work under it."""
import pytest

pytestmark = pytest.mark.browser

RECORD_VIOLATIONS = """document.addEventListener("securitypolicyviolation",
    e => (window.__cspViolations = window.__cspViolations || []).push(e.violatedDirective + " " + e.blockedURI));"""


def test_the_django_admin_works_under_the_content_security_policy(page_as):
    bp = page_as("admin")
    bp.page.add_init_script(RECORD_VIOLATIONS)
    for path in ("/admin/", "/admin/core/user/", "/admin/core/alert/", "/admin/workflow/automationrule/",
                 "/admin/core/store/add/"):
        response = bp.goto(path)
        assert response.status == 200, path
        assert "script-src 'self'" in response.headers["content-security-policy"], path
        assert bp.page.evaluate("() => window.__cspViolations || []") == [], path
    bp.goto("/admin/core/user/")
    with bp.page.expect_navigation():
        bp.page.locator("#result_list tbody th a").first.click()
    # The stores and groups pickers (filter_horizontal) are drawn by the admin's own scripts.
    bp.page.wait_for_selector(".selector")
    assert bp.page.locator(".selector").count() >= 2
    assert bp.page.evaluate("() => window.__cspViolations || []") == []
    assert not [e for e in bp.console_errors if "Content Security Policy" in e]
