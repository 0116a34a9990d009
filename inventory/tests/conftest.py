"""Inventory test fixtures over the session's demo data with its inventory summaries in place
(`inventory_summaries`, in the root conftest)."""
import pytest


@pytest.fixture
def inventory_db(db, inventory_summaries):
    """A `db` test over the demo data with its inventory summaries in place."""
    return db


@pytest.fixture
def stores(inventory_db):
    from mlanalytics.core.models import Store

    return list(Store.objects.order_by("code"))
