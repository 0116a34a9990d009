"""Domain errors: raised where a rule of the shop is broken, turned into HTTP answers in one place
(mlanalytics.core.api.exception_handler) and into clear messages by the commands."""


class DomainError(Exception):
    """A request that breaks a business rule. `field` names the input at fault, when there is one."""

    status_code = 400
    code = "invalid"

    def __init__(self, message, field=None, code=None):
        super().__init__(message)
        self.message = message
        self.field = field
        if code:
            self.code = code

    def as_response_data(self):
        if self.field:
            return {self.field: [self.message]}
        return {"detail": self.message, "code": self.code}


class InvalidTransition(DomainError):
    code = "invalid_transition"
    status_code = 409


class InsufficientStock(DomainError):
    code = "insufficient_stock"
    status_code = 409


class ModelNotReady(DomainError):
    """No trained model can answer yet (e.g. before the first training run)."""

    code = "model_not_ready"
    status_code = 503
