"""Background jobs of the inventory app (run by Celery in production, a thread when embedded)."""
import logging

log = logging.getLogger(__name__)


def refresh_policies_job(store_ids=None, replays="stale"):
    """Bring the ledger's daily summary up to date, recompute the stored reorder policies, replay the
    last year through the policies for the stores whose stored replay is out of date (`replays="all"`:
    every store, e.g. after a new parts model), then raise or resolve projected-stockout alerts."""
    from django.core.cache import cache

    from .services import (
        refresh_part_days,
        refresh_stock_policies,
        refresh_stock_replays,
        scan_stockout_alerts,
        stale_replay_stores,
    )

    try:
        refresh_part_days(store_ids)
        written = refresh_stock_policies(store_ids)
        replayed = refresh_stock_replays(store_ids if replays == "all" else stale_replay_stores(store_ids))
        raised, resolved = scan_stockout_alerts(store_ids)
        log.info("stock policies refreshed: %s rows; %s stores replayed; stockout alerts %s open, %s resolved",
                 written, replayed, raised, resolved)
    finally:
        cache.delete("inventory-policy-refresh-running")
