"""The condition language of automation rules: small, declarative, safe.

A condition is JSON, never code. It is checked against a schema of the ticket's fields before it is
stored (`validate_condition`) and evaluated on a dict of facts (`evaluate`) by walking the tree:
there is no `eval`, no attribute access and no way to reach anything but the listed facts.

    condition := {}                                   (always true)
               | {"all": [condition, ...]}            (every one holds)
               | {"any": [condition, ...]}            (at least one holds)
               | {"not": condition}
               | {"field": NAME, "op": OP, "value": V}

A schema maps each field NAME to a `Field(kind, choices, description)`; kinds are
"choice" (one of `choices`), "ordinal" (choices with an order, e.g. priority low < urgent),
"number", "text" and "bool". Operators allowed per kind are in OPERATORS.
"""
import math
from dataclasses import dataclass, field

MAX_DEPTH = 6
MAX_NODES = 60
MAX_LIST = 100  # values of an in / not_in list
MAX_TEXT = 200  # characters of a text value
MAX_NUMBER = 1e12  # a bound far beyond any price or hour count; keeps JSON finite and storable

OPERATORS = {
    "eq": "equals", "ne": "does not equal", "in": "is one of", "not_in": "is none of",
    "gt": "greater than", "gte": "at least", "lt": "less than", "lte": "at most",
    "between": "between two values (inclusive)", "contains": "contains text (case-insensitive)",
    "is_null": "is empty (value true) / is set (value false)",
}
COMMON_OPS = {"eq", "ne", "in", "not_in", "is_null"}
OPS_BY_KIND = {
    "choice": COMMON_OPS,
    "ordinal": COMMON_OPS | {"gt", "gte", "lt", "lte", "between"},
    "number": COMMON_OPS | {"gt", "gte", "lt", "lte", "between"},
    "text": COMMON_OPS | {"contains"},
    "bool": {"eq", "ne", "is_null"},
}


@dataclass(frozen=True)
class Field:
    kind: str
    description: str = ""
    choices: tuple = field(default_factory=tuple)


class ConditionError(ValueError):
    """A condition that does not fit the language; `path` says where (e.g. all[1].op)."""

    def __init__(self, path, message):
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _show(value, limit=60):
    """A value as written, cut short (a message must not echo a megabyte back)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _check_scalar(spec, value, path, name):
    if spec.kind == "number":
        if not _is_number(value):
            raise ConditionError(path, f"'{name}' is a number; {_show(value)} is not.")
        # abs() first: an integer too large for a float cannot go through isfinite.
        if abs(value) > MAX_NUMBER or not math.isfinite(value):
            raise ConditionError(path, f"'{name}' must be a finite number between {-MAX_NUMBER:g} and {MAX_NUMBER:g}.")
    elif spec.kind == "bool":
        if not isinstance(value, bool):
            raise ConditionError(path, f"'{name}' is true or false; {_show(value)} is not.")
    elif spec.kind in ("choice", "ordinal"):
        if not isinstance(value, str) or value not in spec.choices:
            raise ConditionError(path, f"{_show(value)} is not a valid {name}. Valid: {', '.join(map(str, spec.choices))}.")
    elif spec.kind == "text":
        if not isinstance(value, str):
            raise ConditionError(path, f"'{name}' is text; {_show(value)} is not.")
        if len(value) > MAX_TEXT:
            raise ConditionError(path, f"'{name}' values are at most {MAX_TEXT} characters.")


def validate_condition(condition, schema, path="", _depth=0, _count=None):
    """Raise ConditionError with a clear message when `condition` is not a valid condition for `schema`."""
    _count = _count if _count is not None else [0]
    _count[0] += 1
    if _count[0] > MAX_NODES:
        raise ConditionError(path, f"a condition may have at most {MAX_NODES} parts.")
    if _depth > MAX_DEPTH:
        raise ConditionError(path, f"conditions may be nested at most {MAX_DEPTH} deep.")
    if not isinstance(condition, dict):
        raise ConditionError(path, "a condition is an object such as {\"field\": \"priority\", \"op\": \"eq\", \"value\": \"high\"}.")
    if not condition:
        return
    keys = set(condition)
    for group in ("all", "any"):
        if group in keys:
            if keys != {group}:
                raise ConditionError(path, f"'{group}' must be the only key of its object (found {', '.join(sorted(keys))}).")
            items = condition[group]
            if not isinstance(items, list) or not items:
                raise ConditionError(f"{path}.{group}" if path else group, "must be a non-empty list of conditions.")
            for i, item in enumerate(items):
                validate_condition(item, schema, f"{path}.{group}[{i}]" if path else f"{group}[{i}]", _depth + 1, _count)
            return
    if "not" in keys:
        if keys != {"not"}:
            raise ConditionError(path, "'not' must be the only key of its object.")
        validate_condition(condition["not"], schema, f"{path}.not" if path else "not", _depth + 1, _count)
        return
    allowed = {"field", "op", "value"}
    if not keys <= allowed or "field" not in keys or "op" not in keys:
        unknown = sorted(keys - allowed)
        hint = f"unknown key(s) {', '.join(unknown)}; " if unknown else ""
        raise ConditionError(path, f"{hint}a comparison needs 'field', 'op' and (except is_null) 'value'; groups use 'all', 'any' or 'not'.")
    name, op = condition["field"], condition["op"]
    where = f"{path}.field" if path else "field"
    # Check the type first: a list or object here is unhashable and cannot even be looked up.
    if not isinstance(name, str):
        raise ConditionError(where, f"a field is a name such as \"priority\", not {_show(name)}. Fields: {', '.join(sorted(schema))}.")
    if name not in schema:
        raise ConditionError(where, f"unknown field {_show(name)}. Fields: {', '.join(sorted(schema))}.")
    spec = schema[name]
    where = f"{path}.op" if path else "op"
    if not isinstance(op, str):
        raise ConditionError(where, f"an operator is a name such as \"eq\", not {_show(op)}. Operators: {', '.join(OPERATORS)}.")
    if op not in OPERATORS:
        raise ConditionError(where, f"{_show(op)} is not an operator. Operators: {', '.join(OPERATORS)}.")
    if op not in OPS_BY_KIND[spec.kind]:
        raise ConditionError(where, f"'{op}' does not apply to {name} ({spec.kind}); use one of {', '.join(sorted(OPS_BY_KIND[spec.kind]))}.")
    where = f"{path}.value" if path else "value"
    if op == "is_null":
        if not isinstance(condition.get("value", True), bool):
            raise ConditionError(where, "is_null takes true (is empty) or false (is set).")
        return
    if "value" not in condition:
        raise ConditionError(where, f"'{op}' needs a value.")
    value = condition["value"]
    if op in ("in", "not_in"):
        if not isinstance(value, list) or not value:
            raise ConditionError(where, f"'{op}' needs a non-empty list of values.")
        if len(value) > MAX_LIST:
            raise ConditionError(where, f"'{op}' takes at most {MAX_LIST} values.")
        for item in value:
            _check_scalar(spec, item, where, name)
    elif op == "between":
        if not isinstance(value, list) or len(value) != 2:
            raise ConditionError(where, "'between' needs a list of two values [low, high].")
        for item in value:
            _check_scalar(spec, item, where, name)
        if _rank(spec, value[0]) > _rank(spec, value[1]):
            raise ConditionError(where, "'between' needs the low value first.")
    elif op == "contains":
        if not isinstance(value, str) or not value:
            raise ConditionError(where, "'contains' needs some text.")
        if len(value) > MAX_TEXT:
            raise ConditionError(where, f"'contains' text is at most {MAX_TEXT} characters.")
    else:
        _check_scalar(spec, value, where, name)


def _rank(spec, value):
    if spec.kind == "ordinal":
        return spec.choices.index(value) if value in spec.choices else None
    return value


def evaluate(condition, facts, schema):
    """True when the (validated) condition holds for `facts` ({field: value}). Missing values compare false."""
    if not condition:
        return True
    if "all" in condition:
        return all(evaluate(c, facts, schema) for c in condition["all"])
    if "any" in condition:
        return any(evaluate(c, facts, schema) for c in condition["any"])
    if "not" in condition:
        return not evaluate(condition["not"], facts, schema)
    name, op = condition["field"], condition["op"]
    spec = schema[name]
    actual = facts.get(name)
    if op == "is_null":
        return (actual is None or actual == "") == bool(condition.get("value", True))
    value = condition["value"]
    if op == "eq":
        return actual == value
    if op == "ne":
        return actual != value
    if op == "in":
        return actual in value
    if op == "not_in":
        return actual not in value
    if actual is None:
        return False
    if op == "contains":
        return str(value).lower() in str(actual).lower()
    left = _rank(spec, actual)
    if left is None:
        return False
    if op == "between":
        return _rank(spec, value[0]) <= left <= _rank(spec, value[1])
    right = _rank(spec, value)
    return {"gt": left > right, "gte": left >= right, "lt": left < right, "lte": left <= right}[op]


def fields_used(condition):
    """The field names a condition reads (to fetch only what it needs)."""
    if not condition:
        return set()
    if "all" in condition or "any" in condition:
        return set().union(*(fields_used(c) for c in condition.get("all") or condition.get("any")))
    if "not" in condition:
        return fields_used(condition["not"])
    return {condition.get("field")}


def describe(condition, schema=None):
    """A readable rendering, e.g. (priority in [high, urgent]) and (hours_in_status >= 24)."""
    if not condition:
        return "always"
    if "all" in condition:
        return " and ".join(f"({describe(c)})" for c in condition["all"])
    if "any" in condition:
        return " or ".join(f"({describe(c)})" for c in condition["any"])
    if "not" in condition:
        return f"not ({describe(condition['not'])})"
    value = condition.get("value", True)
    return f"{condition['field']} {condition['op']} {value}"
