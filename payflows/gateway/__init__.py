"""Precium's S2S gateway, as payflows talks to it.

:class:`PreciumClient` makes the calls; the models read both the S2S guide's shapes and CHIP
Collect's; every failure is one of the exceptions below, each saying whether the same request
may be sent again (``retry_safe``) and whether we know what the gateway did (``outcome_known``).
The client never retries on its own. :func:`verify_signature` checks webhook deliveries.

This package knows nothing of the sandbox: it talks to whatever ``base_url`` (or ``transport``)
it is given.
"""

from payflows.gateway._client import PreciumClient
from payflows.gateway._errors import (
    AuthenticationError,
    CardDeclinedError,
    GatewayUnavailableError,
    InvalidStateError,
    NotFoundError,
    OutcomeUnknownError,
    PreciumError,
    RateLimitedError,
    RequestRejected,
    SignatureError,
    ValidationError,
)
from payflows.gateway._models import (
    Attempt,
    AttemptError,
    CardDetails,
    CardFlags,
    CardSubmission,
    Client,
    ClientDetails,
    Page,
    Payment,
    PaymentMethods,
    Product,
    Purchase,
    PurchaseRequest,
    RecurringToken,
    Refund,
    StatusChange,
    SubmissionStatus,
    ThreeDSChallenge,
    ThreeDSResult,
    Webhook,
    WebhookEvent,
)
from payflows.gateway._signature import require_valid_signature, verify_signature
from payflows.gateway._state import PurchaseState

__all__ = [
    "Attempt",
    "AttemptError",
    "AuthenticationError",
    "CardDeclinedError",
    "CardDetails",
    "CardFlags",
    "CardSubmission",
    "Client",
    "ClientDetails",
    "GatewayUnavailableError",
    "InvalidStateError",
    "NotFoundError",
    "OutcomeUnknownError",
    "Page",
    "Payment",
    "PaymentMethods",
    "PreciumClient",
    "PreciumError",
    "Product",
    "Purchase",
    "PurchaseRequest",
    "PurchaseState",
    "RateLimitedError",
    "RecurringToken",
    "Refund",
    "RequestRejected",
    "SignatureError",
    "StatusChange",
    "SubmissionStatus",
    "ThreeDSChallenge",
    "ThreeDSResult",
    "ValidationError",
    "Webhook",
    "WebhookEvent",
    "require_valid_signature",
    "verify_signature",
]
