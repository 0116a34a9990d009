"""One way to show a number, used by the pages, the PDF and the Excel export alike.

A format is a short name a page declares on a column, a KPI or a chart axis:
text, int, num1, num2, money, money0 (the shop's currency, SHOP_CURRENCY: £1,234.50 or 1,234.50 kr.),
pct (a fraction: 0.123 -> 12.3 %), date, datetime, days, bool.
"""
from datetime import date, datetime
from decimal import Decimal

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from .shop import currency

FORMATS = ("text", "int", "num1", "num2", "money", "money0", "pct", "date", "datetime", "days", "bool", "status")
MONEY_DIGITS = {"money": 2, "money0": 0}
# The names of the money formats from when the shop's currency was always GBP.
ALIASES = {"gbp": "money", "gbp0": "money0"}

# Excel number formats for the same names (openpyxl writes real numbers and dates with these); money: excel_number_format.
EXCEL_FORMATS = {
    "int": "#,##0",
    "num1": "#,##0.0",
    "num2": "#,##0.00",
    "pct": "0.0%",
    "days": "#,##0.0",
    "date": "dd mmm yyyy",
    "datetime": "dd mmm yyyy hh:mm",
}

# Plotly tick/hover formats (d3-format) for chart axes; money: d3_format (d3 has no currency of its own).
D3_FORMATS = {"int": ",.0f", "num1": ",.1f", "num2": ",.2f", "pct": ".1%", "days": ",.1f"}


def canonical(fmt):
    return ALIASES.get(fmt, fmt or "text")


def excel_number_format(fmt):
    """The cell number format of `fmt`, or None: money as '"£"#,##0.00' or '#,##0.00" kr."'."""
    fmt = canonical(fmt)
    if fmt in MONEY_DIGITS:
        money = currency()
        body = "#,##0" + ("." + "0" * MONEY_DIGITS[fmt] if MONEY_DIGITS[fmt] else "")
        return (f'"{money.prefix}"' if money.prefix else "") + body + (f'"{money.suffix}"' if money.suffix else "")
    return EXCEL_FORMATS.get(fmt)


def d3_format(fmt):
    """(d3-format spec, tick prefix, tick suffix) of `fmt` for a chart axis and its hover text."""
    fmt = canonical(fmt)
    if fmt in MONEY_DIGITS:
        money = currency()
        return f",.{MONEY_DIGITS[fmt]}f", money.prefix, money.suffix
    return D3_FORMATS.get(fmt, ""), "", ""


def format_money(number, digits=2):
    """An amount in the shop's currency, e.g. −£1,234.50 or −1,234.50 kr."""
    money = currency()
    text = f"{money.prefix}{abs(number):,.{digits}f}{money.suffix}"
    return f"−{text}" if number < 0 else text


def as_number(value):
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, Decimal):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def as_date(value):
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        return parse_date(value[:10])
    return None


def as_datetime(value):
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        moment = parse_datetime(value)
        if moment is None:
            day = parse_date(value[:10])
            return datetime(day.year, day.month, day.day) if day else None
    else:
        return None
    if timezone.is_aware(moment):
        moment = timezone.localtime(moment)
    return moment


def format_value(value, fmt="text"):
    """The text a person reads for `value` in format `fmt` ("–" for a missing value)."""
    if value is None or value == "":
        return "–"
    fmt = canonical(fmt)
    if fmt in ("text", "status"):
        if isinstance(value, (list, tuple)):
            return ", ".join(str(v) for v in value)
        return str(value)
    if fmt == "bool":
        return "Yes" if value else "No"
    if fmt == "date":
        day = as_date(value)
        return day.strftime("%d %b %Y") if day else str(value)
    if fmt == "datetime":
        moment = as_datetime(value)
        return moment.strftime("%d %b %Y %H:%M") if moment else str(value)
    number = as_number(value)
    if number is None:
        return str(value)
    if number != number:  # NaN from an upstream division: show it as missing, not as a figure
        return "–"
    if fmt == "int":
        return f"{number:,.0f}"
    if fmt == "num1":
        return f"{number:,.1f}"
    if fmt == "num2":
        return f"{number:,.2f}"
    if fmt in MONEY_DIGITS:
        return format_money(number, MONEY_DIGITS[fmt])
    if fmt == "pct":
        return f"{number * 100:,.1f} %"
    if fmt == "days":
        return f"{number:,.1f} d"
    return str(value)


# A spreadsheet runs a cell that starts with one of these as a formula (OWASP, "CSV injection").
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_text(value):
    """A CSV cell that no spreadsheet runs: text starting like a formula gets a leading apostrophe (OWASP's
    advice), so `=HYPERLINK(...)` in a name stays the text it is. Excel sheets store text cells as text instead
    (mlanalytics.exports.excel)."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def excel_value(value, fmt="text"):
    """The value to write into a cell: a real number or date where the format has one."""
    if value is None or value == "":
        return None
    fmt = canonical(fmt)
    if fmt in ("date",):
        return as_date(value) or str(value)
    if fmt == "datetime":
        moment = as_datetime(value)
        return moment.replace(tzinfo=None) if moment else str(value)
    if fmt in EXCEL_FORMATS or fmt in MONEY_DIGITS:
        number = as_number(value)
        return number if number is not None and number == number else None
    if fmt == "bool":
        return bool(value)
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    return value


ACRONYMS = {"mae", "mase", "rmse", "mape", "smape", "auc", "ets", "sku", "po", "abc", "xyz", "sla", "gmroi", "rfm", "ltv", "eoq", "id", "p90", "p50", "p95"}


def humanize_key(key):
    """'mase_vs_seasonal_naive' -> 'MASE vs seasonal naive' (labels for metric dictionaries)."""
    words = str(key).replace("_", " ").strip().split(" ")
    words = [w.upper() if w.lower() in ACRONYMS else w for w in words]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


def metric_format(name, value):
    """A sensible format for a backtest metric by its name (coverage and rates are fractions)."""
    if isinstance(value, bool):  # before int: a flag such as "beats baseline" reads Yes/No, not 1/0
        return "bool"
    lowered = str(name).lower()
    if any(word in lowered for word in ("coverage", "rate", "share", "accuracy", "mape", "smape")):
        number = as_number(value)
        if number is not None and abs(number) <= 1.5:
            return "pct"
    if isinstance(value, int):
        return "int"
    return "num2" if as_number(value) is not None else "text"
