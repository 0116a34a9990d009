"""python manage.py bench_intervals [--windows N] [--calibration-folds N] [--no-demo] [--no-public]"""
from django.core.management.base import BaseCommand

from predictive import bench

LEGEND = (
    "MASE / sn MASE: backtest of the fit on the whole series (served method, seasonal naive); cv: cross-validated "
    "backtest coverage; held: coverage on the latest backtest window with scales from earlier windows only; "
    "realised: share of actuals inside the served intervals over the last {windows} 28-day windows, each forecast "
    "by a model refitted just before it; oos MASE: the same windows' MASE, served and seasonal naive."
)


class Command(BaseCommand):
    help = ("Realised coverage of the served 80 %/95 % intervals and MASE of the served method against seasonal "
            "naive, on held-out windows of the demo intake and of public daily series (predictive/tests/data).")

    def add_arguments(self, parser):
        parser.add_argument("--windows", type=int, default=13,
                            help="Held-out 28-day windows per series (default 13: a year).")
        parser.add_argument("--calibration-folds", type=int, default=None,
                            help="Windows the intervals are calibrated on (default: DEMAND_CALIBRATION_FOLDS).")
        parser.add_argument("--no-demo", action="store_true", help="Skip the shop's all-stores intake.")
        parser.add_argument("--no-public", action="store_true", help="Skip the public series.")

    def handle(self, *args, windows, calibration_folds, no_demo, no_public, **options):
        series = []
        if not no_demo:
            demo = bench.demo_intake_series()
            if demo is None:
                self.stderr.write("No tickets: seed the demo data first (manage.py seed_demo); "
                                  "skipping the demo series.")
            else:
                series.append(demo)
        if not no_public:
            series.extend(bench.public_series())
        self.stdout.write(f"{'series':28s} {'days':>5s} {'served':>14s} {'MASE':>6s} {'sn MASE':>7s} | "
                          f"{'cv 80/95':>9s} {'held 80/95':>10s} | {'realised 80/95':>14s} {'pts':>4s} | "
                          f"{'oos MASE':>8s} {'sn oos':>6s} {'s/fit':>5s}")
        for item in series:
            r = bench.interval_benchmark(item, windows=windows, calibration_folds=calibration_folds)
            self.stdout.write(
                f"{r['name']:28s} {r['points']:5d} {r['served']:>14s} {_f(r['mase_served'], 3):>6s} "
                f"{_f(r['mase_seasonal_naive'], 3):>7s} | {_f(r['coverage_80'])}/{_f(r['coverage_95'])} "
                f"{_f(r['coverage_80_held_out']):>5s}/{_f(r['coverage_95_held_out'])} | "
                f"{_f(r['realised_80']):>9s}/{_f(r['realised_95'])} {r['realised_points']:4d} | "
                f"{_f(r['realised_mase_served'], 3):>8s} {_f(r['realised_mase_seasonal_naive'], 3):>6s} "
                f"{r['seconds_per_fit']:5.1f}")
        self.stdout.write(LEGEND.format(windows=windows))


def _f(value, digits=2):
    return "–" if value is None or value != value else f"{value:.{digits}f}"
