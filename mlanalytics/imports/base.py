"""CSV import machinery: column specs, row validation with a full error report, all-or-nothing apply.

An importer declares its columns once (name, required, parser, description); the same declaration
validates files and generates the column-by-column documentation (docs/import.md). A file is read
completely and every row checked before anything is written; if any row is bad the report lists
every problem (row, column, reason) and the database is untouched. A good file is applied in one
transaction, and rows equal to what is stored already are left alone, so a re-import is a no-op.
"""
import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction

from mlanalytics.core.shop import currency

TRUE_WORDS = {"1", "true", "yes", "y", "t"}
FALSE_WORDS = {"0", "false", "no", "n", "f", ""}


def shop_zone():
    """The shop's time zone (TIME_ZONE): times in a file without an offset are its wall-clock times."""
    return ZoneInfo(settings.TIME_ZONE)


class CellError(ValueError):
    """A cell that cannot be read; the message says why, in words a shop manager understands."""


@dataclass
class Column:
    name: str
    parse: callable
    required: bool = False
    description: str = ""
    example: str = ""


@dataclass
class RowError:
    row: int  # line number in the file (the header is row 1)
    column: str
    reason: str

    def __str__(self):
        return f"row {self.row}, column {self.column or '-'}: {self.reason}"


@dataclass
class ImportResult:
    entity: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list = field(default_factory=list)
    notes: list = field(default_factory=list)

    @property
    def ok(self):
        return not self.errors

    def summary(self):
        if self.errors:
            return f"{self.entity}: {len(self.errors)} problem(s) in {self.rows} row(s); nothing was imported."
        return (f"{self.entity}: {self.rows} row(s) read — {self.created} created, {self.updated} updated, "
                f"{self.unchanged} unchanged.")


# --- cell parsers -----------------------------------------------------------------------------------
def text(max_length=None, blank=True):
    def parse(value):
        value = (value or "").strip()
        if not value and not blank:
            raise CellError("must not be empty")
        if max_length and len(value) > max_length:
            raise CellError(f"is longer than {max_length} characters")
        return value

    return parse


def integer(minimum=None, maximum=None, blank=False, default=None):
    def parse(value):
        value = (value or "").strip()
        if not value:
            if blank:
                return default
            raise CellError("must be a whole number")
        try:
            number = int(Decimal(value.replace(",", "")))
            if Decimal(value.replace(",", "")) != number:
                raise CellError(f"'{value}' is not a whole number")
        except InvalidOperation:
            raise CellError(f"'{value}' is not a whole number") from None
        if minimum is not None and number < minimum:
            raise CellError(f"must be at least {minimum}")
        if maximum is not None and number > maximum:
            raise CellError(f"must be at most {maximum}")
        return number

    return parse


def money(blank=False, minimum=Decimal("0")):
    def parse(value):
        money = currency()
        value = (value or "").strip()
        for mark in (money.prefix.strip(), money.suffix.strip(), money.code):  # "£12.50", "12.50 kr.", "DKK 12.50"
            value = value.removeprefix(mark).removesuffix(mark).strip() if mark else value
        value = value.replace(",", "")
        if not value:
            if blank:
                return None
            raise CellError(f"must be an amount in {money.code}, e.g. 12.50")
        try:
            amount = Decimal(value).quantize(Decimal("0.01"))
        except InvalidOperation:
            raise CellError(f"'{value}' is not an amount") from None
        if minimum is not None and amount < minimum:
            raise CellError("must not be negative")
        return amount

    return parse


def decimal_between(low, high, blank=True, default=None):
    def parse(value):
        value = (value or "").strip()
        if not value:
            if blank:
                return default
            raise CellError("must be a number")
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise CellError(f"'{value}' is not a number") from None
        if not low < number < high:
            raise CellError(f"must be between {low} and {high}")
        return number

    return parse


def boolean(default=False):
    def parse(value):
        word = (value or "").strip().lower()
        if word == "":
            return default
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise CellError(f"'{value}' is not yes/no (use yes, no, true, false, 1 or 0)")

    return parse


def choice(options, blank=False, default=None):
    lookup = {o.lower(): o for o in options}

    def parse(value):
        word = (value or "").strip().lower()
        if not word and blank:
            return default
        if word not in lookup:
            raise CellError(f"'{value}' is not one of: {', '.join(options)}")
        return lookup[word]

    return parse


DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%Y/%m/%d")


def parse_date(value):
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    raise CellError(f"'{value}' is not a date (use YYYY-MM-DD)")


def a_date(blank=False):
    def parse(value):
        value = (value or "").strip()
        if not value:
            if blank:
                return None
            raise CellError("must be a date (YYYY-MM-DD)")
        return parse_date(value)

    return parse


def a_datetime(blank=False, default_time=time(12, 0)):
    """ISO 8601 date-time; a time without a zone is London time; a bare date takes `default_time`."""

    def parse(value):
        value = (value or "").strip()
        if not value:
            if blank:
                return None
            raise CellError("must be a date and time (YYYY-MM-DD HH:MM)")
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            moment = datetime.combine(parse_date(value), default_time)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=shop_zone())
        return moment

    return parse


def email(blank=True):
    pattern = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

    def parse(value):
        value = (value or "").strip()
        if not value:
            if blank:
                return ""
            raise CellError("must be an email address")
        if not pattern.match(value):
            raise CellError(f"'{value}' is not an email address")
        return value

    return parse


def in_chunks(queryset, field, values, size=5000):
    """`queryset.filter(<field>__in=values)` in chunks: SQLite caps the number of parameters of one query."""
    values = list(values)
    for start in range(0, len(values), size):
        yield from queryset.filter(**{f"{field}__in": values[start:start + size]})


# --- reading ----------------------------------------------------------------------------------------
def read_table(raw_bytes):
    """Decode (UTF-8 with or without BOM, else Windows-1252), sniff the delimiter, return (header, rows)."""
    try:
        content = raw_bytes.decode("utf-8-sig")
    except UnicodeDecodeError:
        content = raw_bytes.decode("cp1252", errors="replace")
    sample = content[:20000]
    try:
        dialect = csv.Sniffer().sniff(sample.splitlines()[0] if sample else ",", delimiters=",;\t")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    reader = csv.reader(io.StringIO(content, newline=""), delimiter=delimiter)
    rows = list(reader)
    if not rows:
        return [], []
    header = [h.strip().lower().replace(" ", "_") for h in rows[0]]
    return header, rows[1:]


class CSVImporter:
    """Base of every importer: subclasses set `entity`, `columns`, `description` and implement
    `prepare(rows)` (bulk lookups, cross-row checks; may add errors) and `apply(rows)`."""

    entity = ""
    description = ""
    columns: list = []

    def __init__(self, options=None):
        self.options = options or {}
        self.result = ImportResult(entity=self.entity)

    def error(self, row, column, reason):
        self.result.errors.append(RowError(row, column, reason))

    def run(self, raw_bytes, dry_run=False):
        header, rows = read_table(raw_bytes)
        if not header:
            self.error(1, "", "the file is empty")
            return self.result
        known = {c.name for c in self.columns}
        missing = [c.name for c in self.columns if c.required and c.name not in header]
        for name in missing:
            self.error(1, name, "required column is missing from the header")
        unknown = [h for h in header if h and h not in known]
        if unknown:
            self.result.notes.append(f"ignored columns: {', '.join(unknown)}")
        if missing:
            return self.result
        index = {name: header.index(name) for name in known if name in header}
        cleaned = []
        for number, cells in enumerate(rows, start=2):
            if not any(cell.strip() for cell in cells):
                continue  # blank lines are not rows
            self.result.rows += 1
            if len(cells) > len(header) and any(c.strip() for c in cells[len(header):]):
                self.error(number, "", f"has {len(cells)} cells but the header has {len(header)} columns")
                continue
            record, bad = {"_row": number}, False
            for column in self.columns:
                raw = cells[index[column.name]] if column.name in index and index[column.name] < len(cells) else ""
                try:
                    record[column.name] = column.parse(raw)
                except CellError as exc:
                    self.error(number, column.name, str(exc))
                    bad = True
            if not bad:
                cleaned.append(record)
        # Cross-row and database checks run on the rows that parsed, so one report names every problem.
        self.prepare(cleaned)
        self.result.errors.sort(key=lambda e: (e.row, e.column))
        if self.result.errors or dry_run:
            return self.result
        with transaction.atomic():
            self.apply(cleaned)
        return self.result

    def prepare(self, rows):
        """Cross-row and database checks before anything is written (add errors with self.error)."""

    def apply(self, rows):
        raise NotImplementedError

    def unique_in_file(self, rows, key, column):
        seen = {}
        for row in rows:
            value = key(row)
            if value in seen:
                self.error(row["_row"], column, f"'{value}' appears again (first on row {seen[value]})")
            else:
                seen[value] = row["_row"]

    def save(self, model, lookup, values, count=True):
        """Create, update or leave alone one record by its natural key; counts the outcome."""
        obj = model.objects.filter(**lookup).first()
        if obj is None:
            obj = model.objects.create(**lookup, **values)
            outcome = "created"
        else:
            changed = {k: v for k, v in values.items() if _differs(_current(obj, k, v), _comparable(v))}
            if changed:
                for k, v in changed.items():
                    setattr(obj, k, v)
                obj.save(update_fields=list(changed))
                outcome = "updated"
            else:
                outcome = "unchanged"
        if count:
            setattr(self.result, outcome, getattr(self.result, outcome) + 1)
        return obj, outcome


def _current(obj, name, new):
    """The stored value to compare with; related objects by id, so no query per row."""
    if new is not None and hasattr(new, "_meta") or (new is None and hasattr(obj, f"{name}_id")):
        return getattr(obj, f"{name}_id")
    return getattr(obj, name)


def _comparable(value):
    return value.pk if hasattr(value, "_meta") else value


def _differs(current, new):
    if isinstance(current, Decimal) or isinstance(new, Decimal):
        try:
            return Decimal(str(current)) != Decimal(str(new))
        except InvalidOperation:
            return True
    if isinstance(current, datetime) and isinstance(new, datetime):
        return current != new
    if isinstance(current, date) and isinstance(new, date):
        return current != new
    return current != new
