"""python manage.py train_workflow_models — train the triage (repair_time) and comeback_risk models."""
from django.core.management.base import BaseCommand

from workflow import training


class Command(BaseCommand):
    help = "Train the workflow models and store them, with their backtest, in the model registry."

    def add_arguments(self, parser):
        parser.add_argument("--if-needed", action="store_true", help="Only kinds without a current model or older than a week.")

    def handle(self, *args, if_needed=False, **options):
        results = training.retrain_stale() if if_needed else training.train_all()
        if not results:
            self.stdout.write("Workflow models are up to date.")
        for kind, result in results.items():
            if isinstance(result, str):
                self.stdout.write(self.style.WARNING(f"{kind}: not trained ({result})"))
            else:
                self.stdout.write(f"{kind} v{result.version} ({result.method}) in {result.duration_seconds:.1f} s: {result.metrics}")
