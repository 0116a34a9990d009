from django.apps import AppConfig


class InventoryConfig(AppConfig):
    """Parts, stock ledger, suppliers, purchasing and the inventory analytics."""

    name = "inventory"
    verbose_name = "Inventory"
