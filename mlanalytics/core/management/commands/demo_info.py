"""Prints where the app is served and the demo logins (the run command calls it)."""
from django.core.management.base import BaseCommand

from mlanalytics.core.models import DemoDataset


class Command(BaseCommand):
    help = "Print the URL and the demo logins."

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000")

    def handle(self, *args, url, **options):
        from mlanalytics.demo.seed import DEMO_USERS

        dataset = DemoDataset.objects.order_by("-created_at").first()
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(f"mlanalytics is starting on {url}/"))
        self.stdout.write(f"  dashboards: {url}/admin/ml-analytics/    Django admin: {url}/admin/    API schema: {url}/api/schema/")
        if dataset:
            self.stdout.write(f"  demo data: seed {dataset.seed}, scale {dataset.scale}, {dataset.start_date} to {dataset.end_date}")
        self.stdout.write("  demo logins (username / password):")
        for username, (role, password, access) in DEMO_USERS.items():
            self.stdout.write(f"    {username:12s} / {password:18s} {role} ({'all stores' if access == 'all' else 'first store only'})")
        self.stdout.write("")
