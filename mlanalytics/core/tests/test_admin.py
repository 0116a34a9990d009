"""The Django admin lists every model with its columns, filters and search working on real data."""
import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db

FOUNDATION_APPS = {"core", "inventory", "workflow", "predictive"}


def registered_models():
    return [m for m in admin.site._registry if m._meta.app_label in FOUNDATION_APPS]


def test_every_domain_model_is_in_the_admin():
    from django.apps import apps

    missing = [
        m._meta.label for label in FOUNDATION_APPS for m in apps.get_app_config(label).get_models()
        if m not in admin.site._registry
    ]
    assert missing == []


@pytest.mark.parametrize("model", registered_models(), ids=lambda m: m._meta.label)
def test_admin_lists_search_and_open_a_record(model, make_user):
    user = make_user("admin", superuser=True)
    browser = Client()
    browser.force_login(user)
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    assert browser.get(url).status_code == 200
    if admin.site._registry[model].search_fields:
        assert browser.get(url, {"q": "a"}).status_code == 200
    first = model.objects.order_by("pk").first()
    if first is not None:
        change = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[first.pk])
        assert browser.get(change).status_code == 200


@pytest.fixture
def superuser_browser(make_user):
    user = make_user("admin", superuser=True)
    browser = Client()
    browser.force_login(user)
    return browser


def admin_url(model, action, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{action}", args=args)


def ledger_models():
    from inventory.models import POReceipt, Stock, StockMovement
    from workflow.models import TicketStatusEvent

    return [StockMovement, TicketStatusEvent, POReceipt, Stock]


@pytest.mark.parametrize("model", ledger_models(), ids=lambda m: m._meta.label)
def test_ledger_like_records_can_be_read_but_not_added_changed_or_deleted_in_the_admin(model, superuser_browser):
    """Their services keep stock, ledger, receipts and status history in step; the admin must not bypass them."""
    record = model.objects.order_by("pk").first()
    before = model.objects.filter(pk=record.pk).values().get()
    assert superuser_browser.get(admin_url(model, "changelist")).status_code == 200
    page = superuser_browser.get(admin_url(model, "change", record.pk))
    assert page.status_code == 200 and b'name="_save"' not in page.content  # a view page: no Save button
    assert superuser_browser.get(admin_url(model, "add")).status_code == 403
    assert superuser_browser.post(admin_url(model, "add"), {}).status_code == 403
    assert superuser_browser.post(admin_url(model, "change", record.pk), {}).status_code == 403
    assert superuser_browser.post(admin_url(model, "delete", record.pk), {"post": "yes"}).status_code == 403
    listing = superuser_browser.post(admin_url(model, "changelist"), {"action": "delete_selected", "_selected_action": [record.pk], "post": "yes"})
    assert listing.status_code in (200, 302)
    assert model.objects.filter(pk=record.pk).values().get() == before


def test_a_ticket_page_in_the_admin_offers_no_way_to_add_status_events(superuser_browser):
    from workflow.models import RepairTicket

    ticket = RepairTicket.objects.filter(status="collected").first()
    page = superuser_browser.get(admin_url(RepairTicket, "change", ticket.pk))
    assert page.status_code == 200
    (events,) = [f for f in page.context["inline_admin_formsets"] if f.formset.model._meta.model_name == "ticketstatusevent"]
    assert not events.has_add_permission and not events.has_delete_permission
    assert len(events.formset.forms) == ticket.status_events.count()
