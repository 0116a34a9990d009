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
    user = make_user("admin")
    user.is_staff = user.is_superuser = True
    user.save()
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
