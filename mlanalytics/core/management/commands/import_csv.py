"""python manage.py import_csv ENTITY FILE [--dry-run] [--store CODE] [--report REPORT.csv]

Reads the whole file, checks every row, and either reports every problem (row, column, reason) and
changes nothing, or applies the file in one transaction. Importing the same file again changes nothing.
"""
import csv
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from mlanalytics.core.formatting import spreadsheet_text
from mlanalytics.imports import IMPORTERS, describe


class Command(BaseCommand):
    help = "Import a CSV file of one entity (see docs/import.md for every column)."

    def add_arguments(self, parser):
        parser.add_argument("entity", choices=sorted(IMPORTERS))
        parser.add_argument("file", nargs="?", help="CSV file (UTF-8 or Windows-1252; comma, semicolon or tab separated).")
        parser.add_argument("--dry-run", action="store_true", help="Check the file only; write nothing.")
        parser.add_argument("--store", help="ORDS only: import every record into this store.")
        parser.add_argument("--report", metavar="REPORT.csv",
                            help="Also write every problem to this CSV file (columns row, column, reason).")
        parser.add_argument("--describe", dest="describe_columns", action="store_true",
                            help="Print the entity's columns as Markdown and exit.")

    def handle(self, *args, entity, file, dry_run, store, report, describe_columns, **options):
        if describe_columns:
            self.stdout.write(describe(entity))
            return
        if not file:
            raise CommandError("Give the CSV file to import.")
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        importer = IMPORTERS[entity]({"store": store})
        result = importer.run(path.read_bytes(), dry_run=dry_run)
        for note in result.notes:
            self.stdout.write(f"note: {note}")
        if report:
            write_report(Path(report), result.errors)
        if not result.ok:
            for error in result.errors:  # every problem, as docs/import.md promises
                self.stderr.write(str(error))
            raise CommandError(result.summary() + (f" Every problem is listed in {report}." if report else ""))
        prefix = "dry run, nothing written — " if dry_run else ""
        self.stdout.write(self.style.SUCCESS(prefix + result.summary()))


def write_report(path, errors):
    """The problems as CSV (row, column, reason), header included; a good file gives a header only."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["row", "column", "reason"])
        writer.writerows([spreadsheet_text(value) for value in (error.row, error.column, error.reason)] for error in errors)
