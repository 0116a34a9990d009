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

`python manage.py import_csv ENTITY FILE [--dry-run] [--store CODE] [--report REPORT.csv]`

- Files are CSV in UTF-8 (with or without a byte-order mark) or Windows-1252, separated by commas,
  semicolons or tabs, with a header row. Column names are matched without regard to case; unknown
  columns are ignored (and named in the output).
- The whole file is checked first. If any row is wrong, the command lists every problem as
  `row N, column C: reason` (the header is row 1), exits with an error, and writes nothing.
  `--report REPORT.csv` also writes every problem to a CSV file with the columns `row`, `column`,
  `reason` (a header only when the file is good).
- A good file is applied in one transaction: all of it or none of it.
- Each entity has a key (named below). A row equal to what is stored changes nothing, so importing
  the same file twice changes nothing the second time; a row with the same key and different values
  updates that record.
- Dates are `YYYY-MM-DD` (also `DD/MM/YYYY`); date-times are ISO 8601 (`YYYY-MM-DD HH:MM`), read as
  London time unless they carry an offset. Amounts are GBP (`12.50`, a leading `£` is fine).
  Yes/no columns take `yes`, `no`, `true`, `false`, `1`, `0`.
- Import in this order, so references resolve: suppliers → parts → supplier_prices → customers →
  stock → purchase_orders → tickets. Stores are created in the admin first.
- `--dry-run` checks the file and reports, writing nothing.
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


def main():
    text = INTRO + "\n".join(describe(entity) for entity in IMPORTERS)
    (ROOT / "docs" / "import.md").write_text(text)
    print(f"wrote {ROOT / 'docs' / 'import.md'}")


if __name__ == "__main__":
    main()
