"""Where the shop is: its public holidays, time zone and currency, from the settings (SHOP_COUNTRY,
SHOP_SUBDIVISION, TIME_ZONE, SHOP_CURRENCY; UK defaults) with a store's own country where it has one.

Holidays come from the `holidays` package with English names where the country has them (so
WORKFLOW_CLOSED_HOLIDAYS can name them); the currency's symbol and its place (before or after the
amount) come from the CLDR data of Babel for the shop's country. Amounts keep the pages' English
digit grouping: £1,234.50 in England, 1,234.50 kr. in Denmark.
"""
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import holidays as holiday_calendars
from django.conf import settings
from django.core.exceptions import ValidationError

NAME_LANGUAGES = ("en_GB", "en_US")  # holiday names in the first of these a country offers


@dataclass(frozen=True)
class HolidayRegion:
    """A holiday calendar of the `holidays` package: ISO country code and optional subdivision ("" = none)."""

    country: str
    subdivision: str = ""

    @property
    def label(self):
        if not self.country:
            return "no public holidays"
        return f"public holidays of {self.country}" + (f"-{self.subdivision}" if self.subdivision else "")

    def as_dict(self):
        return {"country": self.country, "subdivision": self.subdivision}


def shop_region():
    """The shop's holiday calendar (SHOP_COUNTRY / SHOP_SUBDIVISION)."""
    return HolidayRegion((settings.SHOP_COUNTRY or "").upper(), settings.SHOP_SUBDIVISION or "")


def store_region(store):
    """A store's holiday calendar: its own country (and subdivision) where set, else the shop's."""
    country = (getattr(store, "holiday_country", "") or "").upper()
    if not country:
        return shop_region()
    return HolidayRegion(country, store.holiday_subdivision or "")


def common_region(regions):
    """The calendar a forecast over several stores uses: the one their `regions` share, else the shop's
    (stores in different countries; no store named)."""
    regions = set(regions)
    return regions.pop() if len(regions) == 1 else shop_region()


@lru_cache(maxsize=128)
def _holidays(country, subdivision, first_year, last_year):
    if not country:
        return {}
    supported = holiday_calendars.list_localized_countries().get(country, ())
    language = next((name for name in NAME_LANGUAGES if name in supported), None)
    found = holiday_calendars.country_holidays(country, subdiv=subdivision or None, years=range(first_year, last_year + 1),
                                               language=language)
    return dict(sorted(found.items()))


def holidays_between(first_day: date, last_day: date, region=None):
    """{date: name} of the public holidays of `region` (default: the shop's) from first_day to last_day."""
    region = region or shop_region()
    found = _holidays(region.country, region.subdivision, first_day.year, last_day.year)
    return {d: name for d, name in found.items() if first_day <= d <= last_day}


def validate_region(country, subdivision=""):
    """A clear error for a country or subdivision the `holidays` package does not know."""
    if not country:
        if subdivision:
            raise ValidationError({"holiday_subdivision": "A subdivision needs a country."})
        return
    supported = holiday_calendars.list_supported_countries()
    if country.upper() not in supported:
        raise ValidationError({"holiday_country": f"{country} is not a country code the holidays package knows "
                                                  f"(ISO 3166-1 alpha-2, e.g. GB, DK)."})
    if subdivision and subdivision not in supported[country.upper()]:
        raise ValidationError({"holiday_subdivision": f"{subdivision} is not a subdivision of {country.upper()}; "
                                                      f"one of {', '.join(supported[country.upper()])}."})


# -- currency ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Currency:
    """The shop's currency: ISO code, symbol, and the text before and after an amount."""

    code: str
    symbol: str
    prefix: str
    suffix: str

    def as_dict(self):
        return {"code": self.code, "symbol": self.symbol, "prefix": self.prefix, "suffix": self.suffix}


@lru_cache(maxsize=32)
def _currency(code, country):
    from babel import Locale, UnknownLocaleError
    from babel.languages import get_official_languages
    from babel.numbers import get_currency_symbol

    locale = Locale("en")
    for language in get_official_languages(country, de_facto=True) if country else ():
        try:
            locale = Locale(language, country)
            break
        except UnknownLocaleError:
            continue
    symbol = get_currency_symbol(code, locale)
    pattern = locale.currency_formats["standard"]
    prefix, suffix = (part.replace("¤", symbol) for part in (pattern.prefix[0], pattern.suffix[0]))
    if prefix and prefix[-1].isalpha():  # "DKK1.00" reads badly: CLDR spaces a letter symbol off the digits
        prefix += "\u00a0"
    if suffix and suffix[0].isalpha():
        suffix = "\u00a0" + suffix
    return Currency(code, symbol, prefix, suffix)


def currency():
    """The shop's currency (SHOP_CURRENCY), written as in its country (SHOP_COUNTRY)."""
    return _currency((settings.SHOP_CURRENCY or "GBP").upper(), (settings.SHOP_COUNTRY or "").upper())


def locale_context():
    """What the pages' scripts need to format as the server does (base.html's "shop-locale" block)."""
    return {"currency": currency().as_dict(), "time_zone": settings.TIME_ZONE}
