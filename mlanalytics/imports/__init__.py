"""CSV import of a shop's own records and of Open Repair Data (ORDS) files."""
from .entities import (
    CustomersImporter, PartsImporter, PurchaseOrdersImporter, StockImporter, SupplierPricesImporter, SuppliersImporter,
    TicketsImporter,
)
from .ords import OrdsImporter

IMPORTERS = {
    importer.entity: importer
    for importer in (CustomersImporter, PartsImporter, SuppliersImporter, SupplierPricesImporter, StockImporter,
                     PurchaseOrdersImporter, TicketsImporter, OrdsImporter)
}


def describe(entity):
    """The column-by-column documentation of one importer, as Markdown."""
    importer = IMPORTERS[entity]
    lines = [f"## `{entity}`", "", importer.description, "", "| column | required | meaning | example |", "| --- | --- | --- | --- |"]
    for c in importer.columns:
        lines.append(f"| `{c.name}` | {'yes' if c.required else 'no'} | {c.description} | `{c.example}` |")
    return "\n".join(lines) + "\n"
