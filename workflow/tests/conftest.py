"""Fixtures of the workflow tests."""
import pytest


@pytest.fixture(scope="session")
def workflow_models(django_db_setup, django_db_blocker):
    """Train the triage and comeback-risk models once per session on the seeded demo data (committed)."""
    with django_db_blocker.unblock():
        from workflow import training

        return training.train_all()


@pytest.fixture(autouse=True)
def eager_jobs(settings):
    """Background jobs (rule runs, message delivery, QA re-checks) run at once in the test's thread and
    transaction, through the real mlanalytics.core.jobs.enqueue, so tests are deterministic."""
    settings.BACKGROUND_JOBS = "eager"


@pytest.fixture
def models_ready(workflow_models, db):
    return workflow_models


@pytest.fixture
def quiet_rules(db):
    """Switch the default automation rules off, so a test sees only the rules it creates."""
    from workflow.models import AutomationRule

    AutomationRule.objects.update(enabled=False)


@pytest.fixture
def make_ticket(db):
    """make_ticket(store_code=None, status="received", **fields) -> a new ticket moved through valid statuses."""
    from django.utils import timezone

    from mlanalytics.core.models import Store
    from workflow import services
    from workflow.models import Customer, DeviceModel, RepairType

    path = {
        "received": [], "diagnosing": ["diagnosing"], "awaiting_approval": ["diagnosing", "awaiting_approval"],
        "awaiting_parts": ["diagnosing", "awaiting_parts"], "in_repair": ["diagnosing", "in_repair"],
        "quality_check": ["diagnosing", "in_repair", "quality_check"],
        "ready": ["diagnosing", "in_repair", "quality_check", "ready"],
    }

    def make(store_code=None, status="received", repair_type="phone-screen", customer=None, quoted_price=None,
             priority="normal", technician=None):
        store = Store.objects.get(code=store_code) if store_code else Store.objects.order_by("code").first()
        rt = RepairType.objects.get(code=repair_type)
        device = DeviceModel.objects.filter(category=rt.device_category).first()
        if customer is None:
            customer = Customer.objects.create(external_ref=f"T-{Customer.objects.count() + 1}-{store.code}-{status}",
                                               name="Ada Lovelace", email="ada@example.com", phone="+44 7700 900001",
                                               home_store=store, created_at=timezone.now())
        ticket = services.create_ticket(store=store, device_model=device, repair_type=rt, customer=customer, priority=priority,
                                        quoted_price=quoted_price)
        if technician is not None:
            services.assign_technician(ticket, technician)
        for step in path[status]:
            services.change_status(ticket, step)
        ticket.refresh_from_db()
        return ticket

    return make
