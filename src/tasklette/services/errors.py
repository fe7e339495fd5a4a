"""What can go wrong in a service call, in terms a person can act on."""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """Base of the errors services raise; `status` is the matching HTTP status."""

    status = 400
    title = "Bad request"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class NotFound(ServiceError):
    """The object does not exist, or the actor may not know that it does."""

    status = 404
    title = "Not found"


class Forbidden(ServiceError):
    """The actor can see the object but their role does not allow this."""

    status = 403
    title = "Forbidden"


class Conflict(ServiceError):
    """The change clashes with the current state (stale version, duplicate name)."""

    status = 409
    title = "Conflict"


class PreconditionRequired(ServiceError):
    """The change must name the version it was based on."""

    status = 428
    title = "Precondition required"


class Invalid(ServiceError):
    """A value is well-formed but not acceptable here (e.g. a column of another project)."""

    status = 422
    title = "Invalid input"

    def __init__(self, detail: str, field: str | None = None) -> None:
        errors = [{"field": field, "message": detail}] if field else []
        super().__init__(detail, errors=errors)


class Busy(ServiceError):
    """The database kept refusing the change because of other writers at the same moment."""

    status = 503
    title = "Service unavailable"


class TooLarge(ServiceError):
    """The request is larger than what this form or endpoint accepts."""

    status = 413
    title = "Content too large"


class Unauthenticated(ServiceError):
    status = 401
    title = "Unauthorized"


class TooManyRequests(ServiceError):
    """Too many attempts in a short time; `retry_after` says when to try again."""

    status = 429
    title = "Too many requests"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after
