"""python manage.py install_workflow_defaults — the default message templates and automation rules (idempotent)."""
from django.core.management.base import BaseCommand

from workflow.defaults import install_defaults


class Command(BaseCommand):
    help = "Create the default customer message templates and automation rules that do not exist yet."

    def handle(self, *args, **options):
        templates, rules = install_defaults()
        self.stdout.write(f"{templates} templates and {rules} rules created (existing ones left as they are).")
