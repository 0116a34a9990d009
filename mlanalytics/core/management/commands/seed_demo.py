"""python manage.py seed_demo [--seed N] [--scale small|demo|large] [--end YYYY-MM-DD] [--reset]"""
from datetime import date

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from mlanalytics.demo.catalogue import SCALES
from mlanalytics.demo.seed import INTERRUPTED, OTHER_DATA, SEEDED, AlreadySeeded, database_state, progress_steps, seed_demo


class Command(BaseCommand):
    help = "Generate the reproducible demo data set with planted truth (see README, 'Demo data')."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=settings.DEMO_SEED)
        parser.add_argument("--scale", choices=sorted(SCALES), default=settings.DEMO_SCALE)
        parser.add_argument("--end", type=date.fromisoformat, default=None,
                            help="Last day of history (default: yesterday). Same seed + same end = same data.")
        parser.add_argument("--reset", action="store_true", help="Wipe the database first (all data and users).")
        parser.add_argument("--if-empty", action="store_true",
                            help="Do nothing when the database holds a finished demo data set or data of its own "
                                 "(an interrupted seed is still done again).")

    def handle(self, *args, seed, scale, end, reset, if_empty, **options):
        state = database_state()
        if if_empty and not reset and state in (SEEDED, OTHER_DATA):
            self.stdout.write("Demo data already seeded; not seeding." if state == SEEDED else
                              "The database holds data seed_demo did not write; not seeding (seed_demo --reset replaces it).")
            return
        if state == INTERRUPTED and not reset:
            self.stdout.write("An earlier seed_demo stopped before it finished (no demo data set is recorded): "
                              "wiping its partial data and seeding again.")
        bar = tqdm(total=progress_steps(scale), desc=f"seed_demo {scale}", unit="step", disable=options["verbosity"] == 0)

        def progress(step, advance):
            bar.set_postfix_str(step)
            bar.update(advance)

        try:
            dataset = seed_demo(seed=seed, scale=scale, end=end, reset=reset, progress=progress)
        except AlreadySeeded as exc:
            raise CommandError(str(exc)) from exc
        finally:
            bar.close()
        self.stdout.write(self.style.SUCCESS(
            f"Seeded {scale} demo data (seed {seed}, {dataset.start_date} to {dataset.end_date}) in {dataset.duration_seconds:.1f} s"
        ))
        for label, count in dataset.row_counts.items():
            self.stdout.write(f"  {label:32s} {count:>10,}")
        self.stdout.write(f"Planted truth: {settings.DATA_DIR / 'demo_truth.json'} and table core_demodataset")
