"""The API's JSON parser: DRF's, refusing what no endpoint can use before any view sees it.

A body nested deeper than `MAX_JSON_DEPTH` (JSON a thousand levels deep made `json` raise RecursionError,
a 500) and a NUL character in any key or string (PostgreSQL cannot store it in text or jsonb columns) are
answered 400 like any other unparseable body.
"""
from rest_framework import parsers
from rest_framework.exceptions import ParseError

# No request of this API nests deeper; rule conditions, the deepest, stop far sooner.
MAX_JSON_DEPTH = 32


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels.") from None
        refuse_deep_nesting_and_nul(data)
        return data


def refuse_deep_nesting_and_nul(data, max_depth=MAX_JSON_DEPTH):
    """Walks the parsed body without recursion; raises ParseError at the first container past `max_depth`
    or the first key or string holding a NUL character."""
    pending = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, (dict, list)):
            if depth > max_depth:
                raise ParseError(f"JSON parse error - nested deeper than {max_depth} levels.")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str) and "\x00" in key:
                    raise ParseError("JSON parse error - a key holds a NUL character.")
                pending.append((item, depth + 1))
        elif isinstance(value, str) and "\x00" in value:
            raise ParseError("JSON parse error - a value holds a NUL character.")
