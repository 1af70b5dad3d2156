"""What can go wrong when talking to Precium, as one exception tree.

::

    PreciumError
    ├── RequestRejected           4xx: the gateway answered and changed nothing
    │   ├── ValidationError       400 field-keyed errors (.fields)
    │   │   └── InvalidStateError 400 purchase_*_error, refund_cancel_error,
    │   │                         invalid_recurring_token: not allowed in this status
    │   ├── AuthenticationError   401 / 403
    │   ├── NotFoundError         404
    │   └── CardDeclinedError     the card network said no (.decline, .soft, .hard)
    ├── RateLimitedError          429 (.retry_after)
    ├── GatewayUnavailableError   5xx on a read, or the request never left
    ├── OutcomeUnknownError       a write may have happened, but the answer was lost
    └── SignatureError            a webhook or callback body does not verify

Every error says whether the *very same request, sent again now*, is safe and may succeed
(``retry_safe``), and whether we know what the gateway did (``outcome_known``). Precium has no
idempotency key, so an :class:`OutcomeUnknownError` must never be retried blindly: the caller
reads the purchase back and acts on what it finds. The client never retries by itself; the
Prefect task that called it owns the retry policy.

Errors carry the method and path of the request, never its body: the body of an S2S card
submission holds the PAN and CVC. How an answer or an httpx exception becomes one of these
errors is in ``_translate``.
"""

from __future__ import annotations

from typing import Any

from payflows.domain.declines import DeclineInfo

__all__ = [
    "AuthenticationError",
    "CardDeclinedError",
    "GatewayUnavailableError",
    "InvalidStateError",
    "NotFoundError",
    "OutcomeUnknownError",
    "PreciumError",
    "RateLimitedError",
    "RequestRejected",
    "SignatureError",
    "ValidationError",
]


class PreciumError(Exception):
    """Base class: anything the gateway client raises on purpose."""

    #: Sending the very same request again now is safe and may succeed.
    retry_safe: bool = False
    #: We know what the gateway did (usually: nothing).
    outcome_known: bool = True

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: str | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.code = code
        self.method = method
        self.path = path

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, status_code={self.status_code!r}, "
            f"code={self.code!r})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # Prefect pickles a failed task's exception; the default (cls, args) cannot rebuild
        # errors whose constructors take keyword-only fields.
        return (_rebuild, (type(self), self.message, dict(self.__dict__)))


def _rebuild(cls: type[PreciumError], message: str, state: dict[str, Any]) -> PreciumError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error


class RequestRejected(PreciumError):
    """The gateway answered 4xx: it read the request and changed nothing."""


class ValidationError(RequestRejected):
    """400 with field-keyed messages: the request itself is wrong."""

    def __init__(self, message: str, *, fields: dict[str, list[str]], **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.fields = fields


class InvalidStateError(ValidationError):
    """400: the operation is not allowed in the purchase's (or refund's) current status."""


class AuthenticationError(RequestRejected):
    """401/403: the key is wrong, missing, or not the one this route wants."""


class NotFoundError(RequestRejected):
    """404: no such purchase, client, webhook or route."""


class CardDeclinedError(RequestRejected):
    """The card network declined: a real, final answer for this attempt."""

    def __init__(
        self, message: str, *, decline: DeclineInfo, purchase_id: str | None, **kwargs: Any
    ) -> None:
        super().__init__(message, code=decline.code, **kwargs)
        self.decline = decline
        self.purchase_id = purchase_id

    @property
    def soft(self) -> bool:
        return self.decline.soft

    @property
    def hard(self) -> bool:
        return self.decline.hard


class RateLimitedError(PreciumError):
    """429: slow down. Nothing was done, so the same request may be sent after ``retry_after``."""

    retry_safe = True

    def __init__(self, message: str, *, retry_after: float | None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class GatewayUnavailableError(PreciumError):
    """The gateway could not be reached, or failed a read: nothing changed, try again later."""

    retry_safe = True


class OutcomeUnknownError(PreciumError):
    """A write may have reached the gateway but its answer was lost.

    Sending it again could pay twice. Settle it by reading the purchase back.
    """

    outcome_known = False

    def __init__(self, message: str, *, purchase_id: str | None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.purchase_id = purchase_id


class SignatureError(PreciumError):
    """A webhook or success-callback body does not carry a valid signature."""
