"""python manage.py refresh_inventory — rebuild the ledger's daily summary, the stored reorder policies and
the stored cost replays, then raise or resolve projected-stockout alerts (what the hourly job does)."""
import time

from django.core.management.base import BaseCommand, CommandError

from mlanalytics.core.models import Store


class Command(BaseCommand):
    help = "Bring the PartDay summary and the stored reorder policies up to date, and re-check stockout alerts."

    def add_arguments(self, parser):
        parser.add_argument("--full", action="store_true", help="Rebuild the daily summary from the start of the ledger.")
        parser.add_argument("--store", action="append", default=[], help="Store code (repeatable). Default: every active store.")
        parser.add_argument("--no-alerts", action="store_true", help="Do not re-check stockout alerts.")
        parser.add_argument("--no-replays", action="store_true", help="Do not replay the last year through the policies.")

    def handle(self, *args, full, store, no_alerts, no_replays, **options):
        from inventory.services import (
            refresh_part_days,
            refresh_stock_policies,
            refresh_stock_replays,
            scan_stockout_alerts,
        )

        store_ids = None
        if store:
            found = dict(Store.objects.filter(code__in=store).values_list("code", "id"))
            missing = sorted(set(store) - set(found))
            if missing:
                raise CommandError(f"Unknown store: {', '.join(missing)}")
            store_ids = list(found.values())
        started = time.monotonic()
        days = refresh_part_days(store_ids, full=full)
        self.stdout.write(f"daily summary: {days:,} rows ({time.monotonic() - started:.1f} s)")
        started = time.monotonic()
        policies = refresh_stock_policies(store_ids)
        self.stdout.write(f"reorder policies: {policies:,} rows ({time.monotonic() - started:.1f} s)")
        if not no_replays:
            started = time.monotonic()
            replayed = refresh_stock_replays(store_ids)
            self.stdout.write(f"cost replays: {replayed} stores ({time.monotonic() - started:.1f} s)")
        if not no_alerts:
            started = time.monotonic()
            raised, resolved = scan_stockout_alerts(store_ids)
            self.stdout.write(f"stockout alerts: {raised} open, {resolved} resolved ({time.monotonic() - started:.1f} s)")
