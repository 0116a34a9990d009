"""Errors of the inventory app, raised where detected and answered by the project's one mapping
(`mlanalytics.core.api.exception_handler`: a DomainError's status code and message)."""
from mlanalytics.core.errors import DomainError


class UnknownPart(DomainError):
    """A SKU the shop does not stock."""

    status_code = 404
    code = "not_found"


class DecisionConflict(DomainError):
    """Another answer to the same suggestion was recorded at the same moment."""

    status_code = 409
    code = "conflict"
