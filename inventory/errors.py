"""Errors of the inventory app, raised where detected and answered by the project's one mapping
(`mlanalytics.core.api.exception_handler`: a DomainError's status code and message)."""
from mlanalytics.core.errors import DomainError, ModelNotReady


class UnknownPart(DomainError):
    """A SKU the shop does not stock."""

    status_code = 404
    code = "not_found"


class DecisionConflict(DomainError):
    """Another answer to the same suggestion was recorded at the same moment."""

    status_code = 409
    code = "conflict"


class ReplayNotReady(ModelNotReady):
    """The stored cost replay of a store asked about is still being computed in the background (503);
    the answer says how many of the stores are ready."""

    def __init__(self, message, progress):
        super().__init__(message)
        self.progress = progress

    def as_response_data(self):
        return {**super().as_response_data(), "progress": self.progress}
