"""Background jobs of the inventory app (run by Celery in production, a thread when embedded)."""
import logging

log = logging.getLogger(__name__)


def refresh_policies_job(store_ids=None):
    """Bring the ledger's daily summary up to date, recompute the stored reorder policies, then raise or
    resolve projected-stockout alerts with them."""
    from django.core.cache import cache

    from .services import (
        refresh_part_days,
        refresh_stock_policies,
        scan_stockout_alerts,
    )

    try:
        refresh_part_days(store_ids)
        written = refresh_stock_policies(store_ids)
        raised, resolved = scan_stockout_alerts(store_ids)
        log.info("stock policies refreshed: %s rows; stockout alerts %s open, %s resolved", written, raised, resolved)
    finally:
        cache.delete("inventory-policy-refresh-running")
