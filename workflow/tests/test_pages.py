"""The Workflow Automation dashboard pages: each renders its endpoint's figures for the roles that
may see it, and the buttons that change things are there only for the roles allowed to press them."""
import pytest

pytestmark = pytest.mark.django_db
PAGES = ["overview", "automation", "process", "analytics", "communication", "quality", "allocation"]


@pytest.fixture
def browser(make_user, client):
    def login(role, stores="all"):
        client.force_login(make_user(role, stores))
        return client

    return login


@pytest.mark.parametrize("slug", PAGES)
def test_page_renders_for_a_manager(models_ready, browser, slug):
    response = browser("manager").get(f"/admin/ml-analytics/workflow/{slug}/")
    assert response.status_code == 200
    assert b"Traceback" not in response.content


def test_buttons_follow_the_role(models_ready, browser, store_codes):
    staff = browser("staff", [store_codes[0]])
    page = staff.get("/admin/ml-analytics/workflow/allocation/")
    assert page.status_code == 200 and b"Apply these assignments" not in page.content
    assert staff.post("/admin/ml-analytics/workflow/allocation/", {"action": "apply"}).status_code == 403
    manager = browser("manager")
    assert b"Apply these assignments" in manager.get("/admin/ml-analytics/workflow/allocation/").content


def test_communication_page_previews_on_submit(models_ready, browser, make_ticket, store_codes):
    ticket = make_ticket(store_code=store_codes[0], status="ready")
    page = browser("manager").get("/admin/ml-analytics/workflow/communication/",
                                  {"event": "ready_for_collection", "ticket": ticket.reference, "submitted": "1"})
    assert page.status_code == 200 and ticket.reference.encode() in page.content
