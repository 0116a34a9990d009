from django.apps import AppConfig


class InventoryConfig(AppConfig):
    """Parts, stock ledger, suppliers, purchasing and the inventory analytics."""

    name = "inventory"
    verbose_name = "Inventory"

    def ready(self):
        from mlanalytics.core import jobs

        from . import receivers

        receivers.connect()
        # Forecasts and delivery records move: keep the stored reorder policies (and alerts) current.
        jobs.periodic("inventory-policies", 3600, "inventory.tasks.refresh_policies_job")
