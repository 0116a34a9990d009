import pytest


@pytest.mark.django_db
def test_session_demo_data_is_seeded(demo):
    from workflow.models import RepairTicket

    assert demo.scale == "small"
    assert RepairTicket.objects.count() == demo.row_counts["workflow.RepairTicket"]
