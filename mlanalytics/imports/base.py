"""CSV import machinery: column specs, row validation with a full error report, all-or-nothing apply.

An importer declares its columns once (name, required, parser, description); the same declaration
validates files and generates the column-by-column documentation (docs/import.md). A file is read
completely and every row checked before anything is written; if any row is bad the report lists
every problem (row, column, reason) and the database is untouched. A good file is applied in one
transaction, and rows equal to what is stored already are left alone, so a re-import is a no-op.

The importer refuses rather than guesses: bytes that are not in the file's encoding (UTF-8 unless
told otherwise), NUL characters, broken quoting, cells too long to read, numbers the database
column cannot hold (read from the model field the column is stored in) and dates outside
1900–2099 are each reported with their row and column, and nothing is written. A dry run applies
the file inside a transaction and rolls it back, so it reports exactly what the import would do.
"""
import codecs
import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.backends.base.operations import BaseDatabaseOperations
from django.db.models import DecimalField

from mlanalytics.core.errors import DomainError
from mlanalytics.core.formatting import spreadsheet_text

from mlanalytics.core.shop import currency

TRUE_WORDS = {"1", "true", "yes", "y", "t"}
FALSE_WORDS = {"0", "false", "no", "n", "f", ""}
# Encodings a file may be declared in (--encoding, the import page's select); anything else is refused.
DEFAULT_ENCODING = "utf-8"
ENCODINGS = {
    "utf-8": "UTF-8 (the default)",
    "cp1252": "Windows-1252 (older Excel, Windows)",
    "iso-8859-1": "ISO-8859-1 (Latin-1)",
    "iso-8859-15": "ISO-8859-15 (Latin-9)",
    "mac-roman": "Mac OS Roman (older Excel, Mac)",
}
EARLIEST_DATE, LATEST_DATE = date(1900, 1, 1), date(2099, 12, 31)
MAX_CELL_CHARACTERS = csv.field_size_limit()  # 131,072: Python's csv refuses longer cells
UNDECODABLE = re.compile("[\udc80-\udcff]")  # bytes the decoder could not read, kept by surrogateescape


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
    # The model fields the parsed value is written to: its range (integer type, max_digits, max_length)
    # is checked against each, so a value the database cannot hold is a row error, never a crash.
    stored_in: tuple = ()


def model_field(model, name):
    """The field `name` of `model`, for Column.stored_in."""
    return model._meta.get_field(name)


@dataclass
class RowError:
    row: int | None  # record number in the file (the header is row 1); None: the file as a whole
    column: str
    reason: str

    def __str__(self):
        where = "file" if self.row is None else f"row {self.row}"
        return f"{where}, column {self.column or '-'}: {self.reason}"


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

    def summary(self, *, for_page=False):
        """The command's last line ("parts: 2 row(s) read — …"); for the page without the entity's id and with
        thousands separators."""
        number = "{:,}".format if for_page else str
        prefix = "" if for_page else f"{self.entity}: "
        if self.errors:
            in_file = [e for e in self.errors if e.row is None]
            in_rows = [e for e in self.errors if e.row is not None]
            parts = []
            if in_file:
                parts.append(f"{number(len(in_file))} problem(s) with the file as a whole")
            if in_rows:
                parts.append(f"{number(len(in_rows))} problem(s) in {number(len({e.row for e in in_rows}))} row(s)")
            return f"{prefix}{' and '.join(parts)}; nothing was imported."
        return (f"{prefix}{number(self.rows)} row(s) read — {number(self.created)} created, {number(self.updated)} "
                f"updated, {number(self.unchanged)} unchanged.")

    @property
    def page_summary(self):
        return self.summary(for_page=True)

    def as_dict(self):
        """JSON-ready, for an ImportJob's stored report."""
        return {"entity": self.entity, "rows": self.rows, "created": self.created, "updated": self.updated,
                "unchanged": self.unchanged, "notes": list(self.notes),
                "errors": [[e.row, e.column, e.reason] for e in self.errors]}

    @classmethod
    def from_dict(cls, data):
        return cls(entity=data["entity"], rows=data["rows"], created=data["created"], updated=data["updated"],
                   unchanged=data["unchanged"], notes=list(data["notes"]),
                   errors=[RowError(*e) for e in data["errors"]])


def write_report(handle, errors):
    """The problems as CSV (row, column, reason), header included; a good file gives a header only.
    A problem of the file as a whole has an empty row."""
    writer = csv.writer(handle)
    writer.writerow(["row", "column", "reason"])
    writer.writerows([spreadsheet_text(value) for value in ("" if e.row is None else e.row, e.column, e.reason)] for e in errors)


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


def _number(value, what):
    """A finite Decimal of reasonable size from a cell (NaN, Infinity and 1e999999 are refused here, before
    arithmetic on them could fail or take forever)."""
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise CellError(f"'{value}' is not {what}") from None
    if not number.is_finite():
        raise CellError(f"'{value}' is not {what}")
    if number and number.adjusted() > 20:  # no column holds more than 19 digits; 1e26 would overflow quantize()
        raise CellError(f"'{value}' is far larger than the database can hold")
    return number


def integer(minimum=None, maximum=None, blank=False, default=None):
    def parse(value):
        value = (value or "").strip()
        if not value:
            if blank:
                return default
            raise CellError("must be a whole number")
        number = _number(value.replace(",", ""), "a whole number")
        if number != number.to_integral_value():
            raise CellError(f"'{value}' is not a whole number")
        number = int(number)
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
        amount = _number(value, "an amount").quantize(Decimal("0.01"))
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
        number = _number(value, "a number")
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
            day = datetime.strptime(value, fmt).date()
        except ValueError:
            continue
        return in_range(day, value)
    raise CellError(f"'{value}' is not a date (use YYYY-MM-DD)")


def in_range(day, value):
    """`day` when it lies in 1900–2099 (a repair shop's records do; 0001-01-01 is a placeholder, not a date)."""
    if not EARLIEST_DATE <= day <= LATEST_DATE:
        raise CellError(f"'{value}' is outside {EARLIEST_DATE.year}–{LATEST_DATE.year}")
    return day


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
        in_range(moment.date(), value)
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


# --- checks against the database columns --------------------------------------------------------------
INTEGER_RANGES = BaseDatabaseOperations.integer_field_ranges  # the SQL types' ranges, whatever the backend


def check_fits(value, fields):
    """Refuse a parsed value that one of the model `fields` it is stored in cannot hold (CellError)."""
    if value is None:
        return
    for model_field_ in fields:
        internal = model_field_.get_internal_type()
        if internal in INTEGER_RANGES and isinstance(value, int) and not isinstance(value, bool):
            low, high = INTEGER_RANGES[internal]
            if not low <= value <= high:
                raise CellError(f"{value:,} is more than the database can hold (at most {high:,})" if value > high
                                else f"{value:,} is less than the database can hold (at least {low:,})")
        elif isinstance(model_field_, DecimalField) and isinstance(value, Decimal):
            places = model_field_.decimal_places
            if value != value.quantize(Decimal(1).scaleb(-places)):
                raise CellError(f"{value} has more than {places} decimal places")
            largest = Decimal(10) ** (model_field_.max_digits - places) - Decimal(1).scaleb(-places)
            if abs(value) > largest:
                raise CellError(f"{value:,} is more than the database can hold (at most {largest:,})")
        elif isinstance(value, str) and model_field_.max_length and len(value) > model_field_.max_length:
            raise CellError(f"is longer than {model_field_.max_length} characters")


# --- reading ----------------------------------------------------------------------------------------
@dataclass
class Table:
    """A decoded CSV file: the header (normalised names), the records after it as (row number, cells),
    the problems met while reading it, and the rows those problems make unusable."""

    header: list = field(default_factory=list)
    rows: list = field(default_factory=list)
    errors: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    bad_rows: set = field(default_factory=set)


def _codec(encoding):
    return "utf-8-sig" if encoding == "utf-8" else encoding


def undecodable_offsets(raw_bytes, text, encoding):
    """Byte offsets, in file order, of the bytes `encoding` cannot decode (surrogates in `text`, which was
    decoded with errors="surrogateescape", so encoding each stretch back gives its length in bytes)."""
    codec = "utf-8" if encoding == "utf-8" else encoding
    offset = 3 if encoding == "utf-8" and raw_bytes.startswith(b"\xef\xbb\xbf") else 0
    offsets, previous = [], 0
    for match in UNDECODABLE.finditer(text):
        offset += len(text[previous:match.start()].encode(codec, errors="surrogateescape"))
        offsets.append(offset)
        offset += 1
        previous = match.end()
    return offsets


CSV_REASONS = (
    ("field larger than field limit", f"a cell is longer than {MAX_CELL_CHARACTERS:,} characters, the most one cell "
                                      "may hold (often a quote that is never closed)"),
    ("unexpected end of data", 'a quoted cell that starts on this row is never closed (a " is missing): the rest '
                               "of the file was read into it"),
    ("expected after", 'a closing quote is followed by more text in the same cell (write a quote inside a quoted '
                       'cell as "")'),
)


def _csv_reason(exc):
    message = str(exc)
    for fragment, reason in CSV_REASONS:
        if fragment in message:
            return reason
    return f"the file cannot be read as CSV from this row on ({message})"


def _sniff_delimiter(text):
    first = text[:20000].splitlines()[0] if text.strip() else ","
    try:
        return csv.Sniffer().sniff(first, delimiters=",;\t").delimiter
    except csv.Error:
        return ","


def read_table(raw_bytes, encoding=DEFAULT_ENCODING):
    """Decode strictly in `encoding` (UTF-8 with or without a byte-order mark by default), sniff the
    delimiter and read every record. Nothing is guessed: each byte the encoding cannot decode, each NUL
    and broken quoting is a problem of its row (with the byte offset for undecodable bytes)."""
    label = ENCODINGS[encoding].split(" (")[0]
    table = Table()
    for bom, wide in ((codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"), (codecs.BOM_UTF16_LE, "UTF-16"),
                      (codecs.BOM_UTF16_BE, "UTF-16")):
        if raw_bytes.startswith(bom):  # every cell would be a string of NULs and stray bytes: say what it is
            table.errors.append(RowError(None, "", (
                f"the file is {wide} (it starts with a {wide} byte-order mark), which the import does not read: "
                "save it as “CSV UTF-8” and import that")))
            return table
    text = raw_bytes.decode(_codec(encoding), errors="surrogateescape")
    pending = iter(undecodable_offsets(raw_bytes, text, encoding) if UNDECODABLE.search(text) else [])
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_sniff_delimiter(text), strict=True)
    number = 0
    while True:
        number += 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            table.errors.append(RowError(number, "", _csv_reason(exc)))
            table.notes.append(f"the file was not read past row {number}")
            break
        for position, cell in enumerate(cells):
            header_ok = 1 not in table.bad_rows and position < len(table.header)
            column = table.header[position] if number > 1 and header_ok else ""
            where = f" (header cell {position + 1})" if number == 1 else ""
            for byte in UNDECODABLE.findall(cell):
                offset = next(pending, None)
                at = f"{offset:,}" if offset is not None else "unknown"
                table.errors.append(RowError(number, column, (
                    f"byte 0x{ord(byte) - 0xDC00:02X} at byte offset {at} is not valid {label}{where}")))
                table.bad_rows.add(number)
            if "\x00" in cell:
                table.errors.append(RowError(number, column, f"contains a NUL character (byte 0x00){where}: is the "
                                                             "file UTF-16 or not a CSV file?"))
                table.bad_rows.add(number)
            if number in table.bad_rows:
                cells[position] = UNDECODABLE.sub("\ufffd", cell).replace("\x00", "\ufffd")  # never stored or printed
        if number == 1:
            table.header = [h.strip().lower().replace(" ", "_") for h in cells]
        else:
            table.rows.append((number, cells))
    rest = list(pending)
    if rest:  # bytes after a row the reader could not get past
        table.errors.append(RowError(None, "", f"{len(rest)} more byte(s) are not valid {label}, the first at byte "
                                               f"offset {rest[0]:,}"))
    if any("is not valid" in e.reason for e in table.errors):
        table.notes.append(f"the file is not valid {label}: if it was saved in another encoding (such as "
                           "Windows-1252 from older Excel), import it again choosing that encoding (--encoding, or "
                           "Encoding on the import page)")
    return table


class DryRun(Exception):
    """Raised inside the transaction of a dry run, so what apply() wrote is rolled back."""


class CSVImporter:
    """Base of every importer: subclasses set `entity`, `columns`, `description` and implement
    `prepare(rows)` (bulk lookups, cross-row checks; may add errors) and `apply(rows)`.

    Options: `encoding` (a key of ENCODINGS), `user` (who imports), `progress` (a callable taking
    phase, done, total: called as rows are read and applied), and the importer's own (`store` for ORDS)."""

    entity = ""
    title = ""  # what the page's entity select shows
    model = None  # the records the file is about (the page links to their admin list)
    records_filter = ""  # the admin list's query string that shows this importer's records, when it has one
    description = ""
    columns: list = []

    def __init__(self, options=None):
        self.options = options or {}
        self.result = ImportResult(entity=self.entity)

    def error(self, row, column, reason):
        self.result.errors.append(RowError(row, column, reason))

    def tick(self, phase, done=0, total=0):
        if self.options.get("progress"):
            self.options["progress"](phase, done, total)

    def track(self, rows, phase="applying"):
        """Iterate `rows`, reporting progress about a hundred times along the way."""
        total = len(rows)
        step = max(1, total // 100)
        for done, row in enumerate(rows):
            if done % step == 0:
                self.tick(phase, done, total)
            yield row
        self.tick(phase, total, total)

    def run(self, raw_bytes, dry_run=False):
        """Read, check and (unless a problem was found) apply the file in one transaction; a dry run
        applies it too and rolls back, so its counts are the import's. Always returns the result."""
        encoding = self.options.get("encoding") or DEFAULT_ENCODING
        if encoding not in ENCODINGS:
            self.error(None, "", f"unknown encoding '{encoding}' (use one of: {', '.join(ENCODINGS)})")
            return self.result
        self.tick("reading")
        table = read_table(raw_bytes, encoding)
        self.result.errors.extend(table.errors)
        self.result.notes.extend(table.notes)
        cleaned = self.check_rows(table)
        if cleaned is None:
            self.result.errors.sort(key=lambda e: (e.row or 0, e.column))
            return self.result
        # Cross-row and database checks run on the rows that parsed, so one report names every problem.
        self.tick("checking", len(cleaned), len(cleaned))
        self.prepare(cleaned)
        self.result.errors.sort(key=lambda e: (e.row or 0, e.column))
        if self.result.errors:
            return self.result
        notes = list(self.result.notes)
        try:
            with transaction.atomic():
                self.apply(cleaned)
                if dry_run:
                    raise DryRun
        except DryRun:
            pass
        except (DatabaseError, DomainError) as exc:  # a last net: the checks above should leave nothing for it
            self.result.created = self.result.updated = self.result.unchanged = 0
            self.result.notes = notes
            self.error(None, "", f"the database refused the file, so nothing was imported ({exc})")
        return self.result

    def check_rows(self, table):
        """Parse every cell of every row; returns the rows that parsed, or None when the header alone
        makes the file unusable (empty, a required column missing, a column named twice)."""
        header = table.header
        if not header:
            if not self.result.errors:
                self.error(None, "", "the file is empty")
            return None
        known = {c.name for c in self.columns}
        if 1 not in table.bad_rows:  # a header with an unreadable byte is reported as such, not as missing names
            for name in sorted({h for h in header if h and header.count(h) > 1}):
                self.error(None, name, f"the header names this column {header.count(name)} times")
            for column in self.columns:
                if column.required and column.name not in header:
                    self.error(None, column.name, "required column is missing from the header")
            unknown = [h for h in header if h and h not in known]
            if unknown:
                self.result.notes.append(f"ignored columns: {', '.join(unknown)}")
        if any(e.row is None for e in self.result.errors) or 1 in table.bad_rows:
            self.result.rows = sum(1 for _, cells in table.rows if any(c.strip() for c in cells))
            return None
        index = {name: header.index(name) for name in known if name in header}
        cleaned = []
        for number, cells in self.track(table.rows, "reading"):
            if not any(cell.strip() for cell in cells):
                continue  # blank lines are not rows
            self.result.rows += 1
            if number in table.bad_rows:
                continue  # reported while reading; its cells are not what the file meant
            if len(cells) > len(header) and any(c.strip() for c in cells[len(header):]):
                self.error(number, "", f"has {len(cells)} cells but the header has {len(header)} columns")
                continue
            record, bad = {"_row": number}, False
            for column in self.columns:
                raw = cells[index[column.name]] if column.name in index and index[column.name] < len(cells) else ""
                try:
                    record[column.name] = column.parse(raw)
                    check_fits(record[column.name], column.stored_in)
                except CellError as exc:
                    self.error(number, column.name, str(exc))
                    bad = True
            if not bad:
                cleaned.append(record)
        return cleaned

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
