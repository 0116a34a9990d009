"""python manage.py simulate_activity [--rate 2/s] [--duration 60] [--store LON1] [--seed N]"""
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from mlanalytics.core.errors import DomainError
from mlanalytics.core.simulation import ActivitySimulator, parse_rate


class Command(BaseCommand):
    help = ("Generate a live stream of realistic tickets, status changes and part consumption through the "
            "services, so the dashboards can be watched moving. Writes real records.")

    def add_arguments(self, parser):
        parser.add_argument("--rate", default="1/s", help="Events per second or minute: 2/s, 30/min (default 1/s).")
        parser.add_argument("--duration", type=float, default=60, help="Seconds to run; 0 runs until Ctrl-C (default 60).")
        parser.add_argument("--store", action="append", default=[], help="Store code; repeat for several (default: all).")
        parser.add_argument("--seed", type=int, default=None, help="Random seed for a reproducible stream.")

    def handle(self, *args, rate, duration, store, seed, **options):
        try:
            per_second = parse_rate(rate)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if "InMemory" in settings.CHANNEL_LAYERS["default"]["BACKEND"]:
            self.stderr.write(self.style.WARNING(
                "The channel layer is in-memory (no REDIS_URL): events from this process cannot reach the web "
                "server's browsers. Data changes still land, and pages show them on reload. For live updates "
                "set REDIS_URL for both, or start the simulation from the home page as an admin."))
        try:
            simulator = ActivitySimulator(store_codes=store or None, seed=seed)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        verbose = options["verbosity"] >= 2
        self.stdout.write(f"Simulating {per_second:g} events/s for {'ever' if not duration else f'{duration:g} s'} "
                          f"in {', '.join(s.code for s in simulator.stores)} (Ctrl-C stops).")
        stop = threading.Event()
        try:
            counts = simulator.run(per_second, duration or None, stop, report=self.stdout.write if verbose else None)
        except KeyboardInterrupt:
            counts = simulator.counts
        self.stdout.write(self.style.SUCCESS("Done: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in counts.items())))
