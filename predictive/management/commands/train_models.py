"""python manage.py train_models — placeholder until the predictive models land."""
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Train every model kind for every scope and record each run in the model registry."

    def add_arguments(self, parser):
        parser.add_argument("--if-needed", action="store_true")

    def handle(self, *args, **options):
        self.stdout.write("No model kinds are registered yet.")
