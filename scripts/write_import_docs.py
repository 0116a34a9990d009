"""Regenerate docs/import.md from the importers' column declarations (run after changing a column)."""
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlanalytics.settings")

import django  # noqa: E402

django.setup()

from mlanalytics.imports import IMPORTERS, describe  # noqa: E402

INTRO = """# Importing data

`python manage.py import_csv ENTITY FILE [--dry-run] [--encoding ENC] [--store CODE] [--report REPORT.csv]`,
or the import page of the dashboards (admins: **Import data** in the menu, below).

- Files are CSV separated by commas, semicolons or tabs, with a header row. Column names are matched
  without regard to case; unknown columns are ignored (and named in the output).
- Files are read as UTF-8 (with or without a byte-order mark) unless another encoding is given with
  `--encoding` (`utf-8`, `cp1252` for Windows-1252, `iso-8859-1`, `iso-8859-15`, `mac-roman`) or chosen
  on the import page. The encoding is never guessed: a byte that is not valid in it is reported with
  its row and byte offset (`row 4, column problem: byte 0xFF at byte offset 489 is not valid UTF-8`)
  and nothing is imported. A UTF-16 file (Excel's "Unicode text") is refused as a whole: save it as
  "CSV UTF-8".
- The whole file is checked first. If anything is wrong, the command lists every problem as
  `row N, column C: reason` (the header is row 1; `file, column C: reason` for a problem of the
  file as a whole, such as a missing required column), exits with an error, and writes nothing.
  `--report REPORT.csv` also writes every problem to a CSV file with the columns `row`, `column`,
  `reason` (the row is empty for a problem of the whole file; a header only when the file is good).
- Refused, each as a problem of its row: NUL characters, a cell longer than 131,072 characters, a
  quoted cell that is never closed or a closing quote followed by more text (the file is not read past
  that row), a number the database column cannot hold (the limit is read from the model field the
  column is stored in: e.g. at most 2,147,483,647 units, £9,999,999.99, 3 decimal places for a service
  level), `NaN` and `Infinity`, and dates outside 1900–2099.
- A good file is applied in one transaction: all of it or none of it. Should the database still refuse
  something the checks let through, the transaction is rolled back and the refusal is reported.
- Each entity has a key (named below). A row equal to what is stored changes nothing, so importing
  the same file twice changes nothing the second time; a row with the same key and different values
  updates that record.
- Dates are `YYYY-MM-DD` (also `DD/MM/YYYY`); date-times are ISO 8601 (`YYYY-MM-DD HH:MM`), read as
  London time unless they carry an offset. Amounts are GBP (`12.50`, a leading `£` is fine).
  Yes/no columns take `yes`, `no`, `true`, `false`, `1`, `0`.
- Import in this order, so references resolve: suppliers → parts → supplier_prices → customers →
  stock → purchase_orders → tickets. Stores are created in the admin first.
- `--dry-run` checks the file, applies it inside a transaction and rolls it back: it reports the same
  problems, notes and counts (created, updated, unchanged) as the import would, and writes nothing. So it
  takes about as long as the import: the Restart Project sample (23,940 records, 4.1 MB) took 77 s to dry-run,
  75 s to import and 30 s to re-import unchanged (2026-12-07, SQLite, this 2-core machine shared at load
  ~12; the importer before these checks: 92 s to import, 28 s to re-import, and a 20 s dry run without counts).
- Ticket statuses belong to the repair process: a ticket booked in the app, or imported and then
  moved on in the app, changes status only in the app (`workflow.services.change_status`). A row that
  would change such a ticket's status or its received/completed/collected times is reported; other
  columns may change. Only the status events an import wrote are ever rebuilt.

Open Repair Data: `import_csv ords FILE` takes any file in the Open Repair Data Standard v0.3
(openrepair.org; data from the Open Repair Alliance and its partners such as The Restart Project,
licence CC BY-SA 4.0 — attribute them wherever the data is shown). A sample is in
`../shared/data/openrepair/`. Values the ORDS v0.3 schema allows are accepted: ids and provider names
of any length (shortened with a hash where a field is shorter), a blank `product_category` when
`product_category_id` names an ORDS category, and any `product_age` (outside 0–150 years it is kept as
unknown and the output names the rows).

"""

PAGE = """## The import page

Admins (capability `import_data`) import without a shell under **Import data** in the dashboards' menu
(`/admin/ml-analytics/import/`, `mlanalytics/imports/views.py`):

1. Choose what the file holds, the file, its encoding (UTF-8 unless you know otherwise) and, for Open
   Repair Data, optionally one store for every record; press **Upload and check**. Files larger than
   `IMPORT_MAX_UPLOAD_MB` (default 20) are refused on the form; the command takes any size.
2. The file is kept server-side (`core.ImportJob`, with its SHA-256) and checked by a dry run. The page
   shows the same report as the command: the summary, notes, problems of the file as a whole, and every
   problem by row (the first 500 on the page; **Download the report (CSV)** has all of them, with the
   columns `row`, `column`, `reason` of `--report`).
3. A clean file shows **Import N row(s)**: it imports the stored file (never a second upload; a file whose
   bytes no longer match its checksum is refused). A file with any problem offers no import, and an import
   forced by hand is refused. Each file is imported at most once: the status moves from checked to
   importing in one conditional update.

Files up to `IMPORT_INLINE_MAX_KB` (default 256) are checked and imported within the request; larger
ones run as a background job (`mlanalytics.core.jobs`: a thread of the web process in the embedded
default, a Celery worker with a broker) while the page shows a progress bar, polling
`/admin/ml-analytics/import/<token>/status/` for the rows done, read from the cache. The result of every
import (entity, file, checksum, rows, created, updated, unchanged, problems) is written to the audit log
as `import.apply`, or `import.refused` when the database changed between the check and the import so that
the import found problems; `import.start` records who started it. The page lists the last ten uploads.
Forms carry Django's CSRF token; other roles get 403 on every URL of the page.

"""


def main():
    text = INTRO + PAGE + "\n".join(describe(entity) for entity in IMPORTERS)
    (ROOT / "docs" / "import.md").write_text(text)
    print(f"wrote {ROOT / 'docs' / 'import.md'}")


if __name__ == "__main__":
    main()
