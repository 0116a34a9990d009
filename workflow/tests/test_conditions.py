"""The condition language of automation rules: evaluation and the messages of invalid conditions."""
import pytest

from workflow.analytics.conditions import ConditionError, Field, evaluate, validate_condition

SCHEMA = {
    "status": Field("choice", choices=("received", "diagnosing", "ready")),
    "priority": Field("ordinal", choices=("low", "normal", "high", "urgent")),
    "quoted_price": Field("number"),
    "device_brand": Field("text"),
    "is_comeback": Field("bool"),
}
FACTS = {"status": "diagnosing", "priority": "high", "quoted_price": 149.0, "device_brand": "Apple", "is_comeback": False}


@pytest.mark.parametrize("condition, expected", [
    ({}, True),
    ({"field": "status", "op": "eq", "value": "diagnosing"}, True),
    ({"field": "status", "op": "in", "value": ["received", "ready"]}, False),
    ({"field": "priority", "op": "gte", "value": "high"}, True),  # ordinal: high >= high
    ({"field": "priority", "op": "gt", "value": "high"}, False),
    ({"field": "priority", "op": "between", "value": ["normal", "urgent"]}, True),
    ({"field": "quoted_price", "op": "lt", "value": 150}, True),
    ({"field": "quoted_price", "op": "between", "value": [150, 300]}, False),
    ({"field": "device_brand", "op": "contains", "value": "app"}, True),
    ({"field": "is_comeback", "op": "eq", "value": True}, False),
    ({"all": [{"field": "priority", "op": "eq", "value": "high"}, {"field": "quoted_price", "op": "gte", "value": 100}]}, True),
    ({"any": [{"field": "priority", "op": "eq", "value": "low"}, {"field": "quoted_price", "op": "gte", "value": 500}]}, False),
    ({"not": {"field": "is_comeback", "op": "eq", "value": True}}, True),
])
def test_conditions_evaluate_as_written(condition, expected):
    validate_condition(condition, SCHEMA)
    assert evaluate(condition, FACTS, SCHEMA) is expected


def test_missing_value_never_satisfies_a_comparison_but_is_null_sees_it():
    facts = {**FACTS, "quoted_price": None}
    assert evaluate({"field": "quoted_price", "op": "gte", "value": 0}, facts, SCHEMA) is False
    assert evaluate({"field": "quoted_price", "op": "lt", "value": 10**9}, facts, SCHEMA) is False
    assert evaluate({"field": "quoted_price", "op": "is_null", "value": True}, facts, SCHEMA) is True


@pytest.mark.parametrize("condition, message", [
    ({"field": "colour", "op": "eq", "value": "red"}, "unknown field 'colour'"),
    ({"field": "priority", "op": "greater", "value": "high"}, "'greater' is not an operator"),
    ({"field": "device_brand", "op": "gt", "value": "A"}, "'gt' does not apply to device_brand (text)"),
    ({"field": "priority", "op": "eq", "value": "asap"}, "'asap' is not a valid priority"),
    ({"field": "quoted_price", "op": "gte", "value": "100"}, "'quoted_price' is a number"),
    ({"field": "quoted_price", "op": "between", "value": [300, 100]}, "low value first"),
    ({"field": "status", "op": "in", "value": []}, "non-empty list"),
    ({"all": []}, "all: must be a non-empty list"),
    ({"all": [{"field": "priority", "op": "eq", "value": "high"}], "any": []}, "'all' must be the only key"),
    ({"any": [{"field": "priority", "op": "eq", "value": "high"}, {"field": "priority", "op": "eq"}]}, "any[1].value: 'eq' needs a value"),
    ("priority == 'high'", "a condition is an object"),
    # Wrong types where a name is expected: refused with a message, never a TypeError (unhashable list/dict).
    ({"field": ["priority"], "op": "eq", "value": "high"}, "field: a field is a name such as \"priority\""),
    ({"field": {"name": "priority"}, "op": "eq", "value": "high"}, "field: a field is a name"),
    ({"field": "priority", "op": ["eq"], "value": "high"}, "op: an operator is a name such as \"eq\""),
    ({"field": "priority", "op": {"eq": 1}, "value": "high"}, "op: an operator is a name"),
    ({"all": [{"field": 7, "op": "eq", "value": 1}]}, "all[0].field: a field is a name"),
    ({"field": "priority", "op": "eq", "value": ["high"]}, "is not a valid priority"),
    ({"field": "status", "op": "in", "value": [["received"]]}, "is not a valid status"),
    ({"field": "quoted_price", "op": "gte", "value": 1e300}, "finite number"),
    ({"field": "quoted_price", "op": "gte", "value": float("inf")}, "finite number"),
    ({"field": "quoted_price", "op": "between", "value": [0, 10**400]}, "finite number"),
    ({"field": "quoted_price", "op": "in", "value": list(range(500))}, "at most 100 values"),
    ({"field": "device_brand", "op": "contains", "value": "x" * 1000}, "at most 200 characters"),
    ({"field": "device_brand", "op": "eq", "value": {"$ne": None}}, "'device_brand' is text"),
    ({"not": [{"field": "priority", "op": "eq", "value": "high"}]}, "not: a condition is an object"),
    ({"any": {"field": "priority", "op": "eq", "value": "high"}}, "any: must be a non-empty list"),
])
def test_malformed_condition_is_rejected_with_a_message_saying_where(condition, message):
    with pytest.raises(ConditionError) as error:
        validate_condition(condition, SCHEMA)
    assert message in str(error.value)


def test_code_in_a_condition_is_only_ever_data():
    # The language compares values; text that looks like Python is just text that does not match.
    sneaky = {"field": "device_brand", "op": "eq", "value": "__import__('os').system('false')"}
    validate_condition(sneaky, SCHEMA)
    assert evaluate(sneaky, FACTS, SCHEMA) is False
    with pytest.raises(ConditionError):
        validate_condition({"field": "__class__", "op": "eq", "value": "x"}, SCHEMA)


def test_deeply_nested_conditions_are_refused():
    condition = {"field": "priority", "op": "eq", "value": "high"}
    for _ in range(10):
        condition = {"not": condition}
    with pytest.raises(ConditionError, match="nested at most"):
        validate_condition(condition, SCHEMA)
