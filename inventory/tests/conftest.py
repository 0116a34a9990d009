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


@pytest.fixture
def short_of_stock(stores):
    """Every store counted out of its ten busiest parts that have no purchase order open, so each store has
    something to reorder whatever day the demo data end on. (The demo shop reviews and orders on Mondays and
    Thursdays: on data that end on one of those days almost nothing sits below its reorder point.)"""
    from inventory.models import PurchaseOrder, PurchaseOrderLine, StockPolicy
    from inventory.services import adjust_stock

    open_statuses = [PurchaseOrder.Status.DRAFT, PurchaseOrder.Status.ORDERED, PurchaseOrder.Status.PARTIAL]
    counted_out = {}
    for store in stores:
        on_order = PurchaseOrderLine.objects.filter(po__store=store, po__status__in=open_statuses).values("part_id")
        policies = (StockPolicy.objects.filter(store=store, reorder_point__gt=0).exclude(part_id__in=on_order)
                    .select_related("part").order_by("-daily_mean", "part_id")[:10])
        for policy in policies:
            adjust_stock(policy.part, store, 0, user=None, reason="test: counted out")
        counted_out[store.code] = [policy.part.sku for policy in policies]
    return counted_out
