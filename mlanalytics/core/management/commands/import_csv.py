"""python manage.py import_csv ENTITY FILE [--dry-run] [--encoding ENC] [--store CODE] [--report REPORT.csv]

Reads the whole file, checks every row, and either reports every problem (row, column, reason) and
changes nothing, or applies the file in one transaction. Importing the same file again changes nothing.
The same importer runs behind the dashboards' import page (mlanalytics/imports/views.py).
"""
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from mlanalytics.imports import IMPORTERS, describe
from mlanalytics.imports.base import DEFAULT_ENCODING, ENCODINGS, write_report


class Command(BaseCommand):
    help = "Import a CSV file of one entity (see docs/import.md for every column)."

    def add_arguments(self, parser):
        parser.add_argument("entity", choices=sorted(IMPORTERS))
        parser.add_argument("file", nargs="?", help="CSV file (comma, semicolon or tab separated).")
        parser.add_argument("--dry-run", action="store_true",
                            help="Check the file and report what the import would do; write nothing.")
        parser.add_argument("--encoding", choices=list(ENCODINGS), default=DEFAULT_ENCODING,
                            help="The file's encoding (default utf-8). A byte that is not valid in it is reported, "
                                 "never guessed.")
        parser.add_argument("--store", help="ORDS only: import every record into this store.")
        parser.add_argument("--report", metavar="REPORT.csv",
                            help="Also write every problem to this CSV file (columns row, column, reason).")
        parser.add_argument("--describe", dest="describe_columns", action="store_true",
                            help="Print the entity's columns as Markdown and exit.")

    def handle(self, *args, entity, file, dry_run, encoding, store, report, describe_columns, **options):
        if describe_columns:
            self.stdout.write(describe(entity))
            return
        if not file:
            raise CommandError("Give the CSV file to import.")
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        importer = IMPORTERS[entity]({"store": store, "encoding": encoding})
        result = importer.run(path.read_bytes(), dry_run=dry_run)
        for note in result.notes:
            self.stdout.write(f"note: {note}")
        if report:
            with Path(report).open("w", newline="", encoding="utf-8") as handle:
                write_report(handle, result.errors)
        if not result.ok:
            for error in result.errors:  # every problem, as docs/import.md promises
                self.stderr.write(str(error))
            raise CommandError(result.summary() + (f" Every problem is listed in {report}." if report else ""))
        prefix = "dry run, nothing written — " if dry_run else ""
        self.stdout.write(self.style.SUCCESS(prefix + result.summary()))
