import pytest


@pytest.mark.django_db
def test_session_demo_data_is_seeded(demo):
    from workflow.models import RepairTicket

    assert demo.scale == "small"
    assert RepairTicket.objects.count() == demo.row_counts["workflow.RepairTicket"]


@pytest.mark.django_db
def test_the_recorded_row_counts_cover_the_catalogue_and_the_users(demo):
    from django.apps import apps

    for label in ("core.Store", "core.User", "inventory.Part", "inventory.Supplier", "inventory.SupplierPrice",
                  "workflow.Technician", "workflow.RepairType", "workflow.RepairTicket", "inventory.StockMovement"):
        assert demo.row_counts[label] == apps.get_model(label).objects.count() > 0, label
    assert (demo.row_counts["core.Store"], demo.row_counts["core.User"]) == (2, 4)  # small scale; one user per role
