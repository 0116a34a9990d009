"""Strict request input: the views refuse what the OpenAPI schema calls invalid, where DRF would coerce or
silently fall back to a default (tests/api/test_fuzz.py checks both directions for every operation)."""
from django import forms
from django.db import models
from django_filters import rest_framework as filters
from django_filters.widgets import BooleanWidget
from drf_spectacular.utils import extend_schema_field
from rest_framework import pagination, serializers
from rest_framework.exceptions import ValidationError

MAX_LIMIT = 1000
MAX_OFFSET = 1_000_000_000


class StrictLimitOffsetPagination(pagination.LimitOffsetPagination):
    """LimitOffsetPagination that answers 400 to a `limit` or `offset` that is not a whole number in the documented
    range, where DRF silently falls back to the defaults. An empty value is "not given"."""

    max_limit = MAX_LIMIT

    def get_limit(self, request):
        strict_int(request, self.limit_query_param, 1, self.max_limit)
        return super().get_limit(request)

    def get_offset(self, request):
        strict_int(request, self.offset_query_param, 0, MAX_OFFSET)
        return super().get_offset(request)

    def get_schema_operation_parameters(self, view):
        return with_bounds(super().get_schema_operation_parameters(view),
                           {self.limit_query_param: (1, self.max_limit), self.offset_query_param: (0, MAX_OFFSET)})


class StrictCursorPagination(pagination.CursorPagination):
    """CursorPagination whose page size (`page_size_query_param`) is strict in the same way."""

    def get_page_size(self, request):
        strict_int(request, self.page_size_query_param, 1, self.max_page_size)
        return super().get_page_size(request)

    def get_schema_operation_parameters(self, view):
        return with_bounds(super().get_schema_operation_parameters(view),
                           {self.page_size_query_param: (1, self.max_page_size)})


def strict_int(request, name, minimum, maximum):
    """400 unless query parameter `name` is absent, empty or a whole number from minimum to maximum."""
    value = request.query_params.get(name)
    if value in (None, ""):
        return
    if not (value.isascii() and value.isdigit()) or not minimum <= int(value) <= maximum:
        raise ValidationError({name: [f"A whole number from {minimum} to {maximum}."]})


def with_bounds(parameters, bounds):
    for parameter in parameters:
        if parameter["name"] in bounds:
            parameter["schema"]["minimum"], parameter["schema"]["maximum"] = bounds[parameter["name"]]
    return parameters


class StrictJSONTypes:
    """Mixin of request serializers: JSON input must have the JSON types the schema documents. DRF coerces
    (a string "5" or true for a number, 1 or "yes" for a boolean, an object for a list); the schema does not.
    Form and query input (strings by nature, also when a dashboard page passes its form as a dict) are left to
    the fields."""

    def to_internal_value(self, data):
        if isinstance(data, dict) and not hasattr(data, "getlist") and self._from_json():
            errors = {}
            for name, field in self.fields.items():
                if field.read_only or field.field_name not in data:
                    continue
                message = json_type_error(field, data[field.field_name])
                if message:
                    errors[field.field_name] = [message]
            if errors:
                raise ValidationError(errors)
        return super().to_internal_value(data)

    def _from_json(self):
        if self.context.get("form_input"):  # settings carried from a page's form (a report subscription): strings
            return False
        request = self.context.get("request")
        return request is None or "json" in (getattr(request, "content_type", "") or "")


@extend_schema_field({"type": "object", "additionalProperties": True})
class JSONObjectField(serializers.JSONField):
    """A JSON object (documented and checked as one, where JSONField takes any JSON value)."""


@extend_schema_field({"type": "array", "minItems": 1, "items": {"type": "object", "additionalProperties": True}})
class JSONObjectListField(serializers.JSONField):
    """A non-empty JSON list of objects."""


def json_type_error(field, value):
    """Why `value` (parsed JSON) does not have the JSON type `field` documents, or None."""
    if value is None:
        return None  # the field's own null check answers
    if isinstance(field, JSONObjectField):
        return None if isinstance(value, dict) else "Must be an object."
    if isinstance(field, JSONObjectListField):
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            return None
        return "A non-empty list of objects."
    if isinstance(field, serializers.BooleanField):
        return None if isinstance(value, bool) else "Must be true or false."
    if isinstance(field, serializers.IntegerField):
        return None if isinstance(value, int) and not isinstance(value, bool) else "Must be a whole number."
    if isinstance(field, (serializers.FloatField, serializers.DecimalField)):
        return None if isinstance(value, (int, float)) and not isinstance(value, bool) else "Must be a number."
    if isinstance(field, (serializers.ListField, serializers.MultipleChoiceField, serializers.ListSerializer)):
        return None if isinstance(value, list) else "Must be a list."
    if isinstance(field, (serializers.DictField, serializers.Serializer)):
        return None if isinstance(value, dict) else "Must be an object."
    if isinstance(field, serializers.ChoiceField) and not isinstance(field, serializers.MultipleChoiceField):
        # The schema's enum has the choices' own type: numbers for e.g. months 3/6/12, strings otherwise.
        if all(isinstance(c, int) and not isinstance(c, bool) for c in field.choices):
            return None if isinstance(value, int) and not isinstance(value, bool) else "Must be a number listed."
        if all(isinstance(c, str) for c in field.choices):
            return None if isinstance(value, str) else "Must be a string."
        return None
    if isinstance(field, (serializers.CharField, serializers.DateField, serializers.DateTimeField)):
        return None if isinstance(value, str) else "Must be a string."
    return None


# --- Filters (django-filter): the same strictness for `?passed=`, `?enabled=`, `?rule=` ... -----------------------


class StrictBooleanWidget(BooleanWidget):
    """true/false (any case) or nothing; any other text is kept for the field to refuse (django-filter's widget turns
    it into "no filter")."""

    def value_from_datadict(self, data, files, name):
        value = data.get(name)
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        return None if value in (None, "") else value


class StrictBooleanField(forms.NullBooleanField):
    def to_python(self, value):
        if value is None or isinstance(value, bool):
            return value
        raise forms.ValidationError("Must be true or false.", code="invalid")

    def validate(self, value):
        pass


class StrictBooleanFilter(filters.BooleanFilter):
    field_class = StrictBooleanField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", StrictBooleanWidget)
        super().__init__(*args, **kwargs)


MAX_ID = 2**63 - 1


class IdField(forms.IntegerField):
    def __init__(self, *args, **kwargs):
        kwargs.update(min_value=1, max_value=MAX_ID)
        super().__init__(*args, **kwargs)


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": MAX_ID})
class IdFilter(filters.NumberFilter):
    """A foreign key filter by id: an id of no record matches nothing (an empty page), as a filter should; django-filter
    answers 400 "Select a valid choice" to a well-formed id it does not find."""

    field_class = IdField


class StrictFilterSet(filters.FilterSet):
    FILTER_DEFAULTS = {**filters.FilterSet.FILTER_DEFAULTS,
                       models.BooleanField: {"filter_class": StrictBooleanFilter},
                       models.ForeignKey: {"filter_class": IdFilter}}


class StrictFilterBackend(filters.DjangoFilterBackend):
    """DjangoFilterBackend whose generated filter sets use the strict filters above (settings:
    DEFAULT_FILTER_BACKENDS)."""

    filterset_base = StrictFilterSet
