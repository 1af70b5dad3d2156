"""The shapes Precium sends and receives, as pydantic models.

Precium's S2S guide and the CHIP Collect platform underneath it describe the same objects in
different shapes (a refund is ``{id, refund_id, refund_amount}`` in one and a Payment object in
the other; a webhook is an envelope in one and the bare object in the other). Models that *read*
accept both, ignore keys they do not know, treat ``null`` as "absent", and turn every timestamp
(Unix seconds or ISO-8601) into an aware UTC ``datetime``; so a gateway that adds a field or
fills in a guide-only one does not break a billing run. Models that *write* forbid unknown keys,
so a typo in a flag is an error here rather than a silently ignored field at the gateway.

Amounts are integer cents everywhere.

One module per concern: ``wire`` (timestamps, cents, the read and write bases, a page of a
list), ``clients``, ``purchases`` (reading), ``purchase_request`` (writing),
``card_submission`` (S2S and 3-D Secure), ``refunds``, ``webhooks``.
"""

from payflows.gateway._models.card_submission import (
    CardDetails,
    CardSubmission,
    SubmissionStatus,
    ThreeDSChallenge,
    ThreeDSResult,
)
from payflows.gateway._models.clients import (
    Client,
    ClientDetails,
    PaymentMethods,
    RecurringToken,
)
from payflows.gateway._models.purchase_request import (
    CardFlags,
    PurchaseRequest,
)
from payflows.gateway._models.purchases import (
    Attempt,
    AttemptError,
    CardExtra,
    Payment,
    Product,
    Purchase,
    PurchaseDetails,
    StatusChange,
    TransactionData,
)
from payflows.gateway._models.refunds import (
    Refund,
)
from payflows.gateway._models.webhooks import (
    Webhook,
    WebhookEvent,
)
from payflows.gateway._models.wire import (
    Page,
)

__all__ = [
    "Attempt",
    "AttemptError",
    "CardDetails",
    "CardExtra",
    "CardFlags",
    "CardSubmission",
    "Client",
    "ClientDetails",
    "Page",
    "Payment",
    "PaymentMethods",
    "Product",
    "Purchase",
    "PurchaseDetails",
    "PurchaseRequest",
    "RecurringToken",
    "Refund",
    "StatusChange",
    "SubmissionStatus",
    "ThreeDSChallenge",
    "ThreeDSResult",
    "TransactionData",
    "Webhook",
    "WebhookEvent",
]
