"""python manage.py train_models [--if-needed] [--kinds ...] [--workers N]"""
from django.core.management.base import BaseCommand, CommandError

from predictive import services, training


class Command(BaseCommand):
    help = "Train every model kind for every scope and record each run in the model registry."

    def add_arguments(self, parser):
        parser.add_argument("--if-needed", action="store_true",
                            help="Train only when a kind has no current model or the data changed since the last run.")
        parser.add_argument("--kinds", nargs="*", choices=training.KINDS, default=None, help="Only these model kinds.")
        parser.add_argument("--workers", type=int, default=None, help="Threads for Prophet fits (default: PREDICTIVE_TRAINING_WORKERS).")

    def handle(self, *args, if_needed, kinds, workers, **options):
        verbose = options["verbosity"] > 0

        def progress(run, step):
            if verbose:
                self.stdout.write(f"  [{run.done_steps:3d}/{run.total_steps}] {step}")

        try:
            run = services.train_all_models(kinds=kinds, if_needed=if_needed, triggered_by="command", progress=progress,
                                            workers=workers)
        except services.TrainingInProgress as exc:
            raise CommandError(str(exc)) from exc
        if run is None:
            self.stdout.write("Models are current for this data; nothing to train (run without --if-needed to retrain).")
            return
        self.stdout.write(self.style.SUCCESS(f"Trained {run.done_steps} models in {run.duration_seconds:.1f} s (run {run.pk})."))
        self.stdout.write("Training time per model kind (wall clock):")
        for kind, seconds in run.timings.items():
            if kind in ("total", "cpu_seconds"):
                continue
            count = sum(1 for entry in run.log if entry["kind"] == kind)
            label = training.KIND_LABELS.get(kind, "reading the shop's data")
            suffix = f" ({count} models)" if count else ""
            self.stdout.write(f"  {kind:20s} {seconds:7.2f} s{suffix}  {label}")
        self.stdout.write(f"  {'total':20s} {run.duration_seconds:7.2f} s  (CPU {run.timings.get('cpu_seconds', 0):.1f} s incl. cmdstan)")
        failed = [entry for entry in run.log if entry.get("error")]
        for entry in failed:
            self.stderr.write(f"  failed: {entry['kind']} {entry['scope']}: {entry['error']}")
