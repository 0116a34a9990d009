"""Inventory test fixtures: the ledger summary, the stored reorder policies and the stored cost replays of
the session's demo data are built once, committed, so every test reads them instead of rebuilding them
(a request never replays a year: a store without a stored replay is answered 503 while it is computed)."""
import pytest


@pytest.fixture(scope="session")
def inventory_summaries(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        from inventory.services import refresh_part_days, refresh_stock_policies, refresh_stock_replays

        refresh_part_days(full=True)
        refresh_stock_policies()
        refresh_stock_replays()


@pytest.fixture
def inventory_db(db, inventory_summaries):
    """A `db` test over the demo data with its inventory summaries in place."""
    return db


@pytest.fixture
def stores(inventory_db):
    from mlanalytics.core.models import Store

    return list(Store.objects.order_by("code"))
