"""The ledger's tables: what the merchant knows about customers, cards, subscriptions and money.

The ledger is the merchant's source of truth, so the database enforces the rules that keep it
honest rather than trusting every caller: a business key names at most one payment attempt, a
purchase id belongs to at most one attempt, hold, or refund, a webhook is stored at most once.
Amounts are integer cents beside an ISO currency column, timestamps are UTC, and no column can
hold a PAN, a CVC or anything like them (only the masked PAN the gateway returns).

The column types, the metadata and the base every table derives from are in
:mod:`payflows.ledger.columns`; the enumerations of states and kinds in
:mod:`payflows.ledger.enums`. Both are re-exported here.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Index, UniqueConstraint
from sqlmodel import Field

from payflows.domain.attempts import AttemptState
from payflows.domain.states import Status
from payflows.ledger.columns import (
    NAMING_CONVENTION,
    JSONType,
    LedgerModel,
    StrEnumType,
    UTCDateTime,
    enum_field,
    metadata,
    timestamp_field,
    utcnow,
)
from payflows.ledger.enums import (
    AttemptKind,
    HoldDecision,
    HoldPolicy,
    IntervalUnit,
    OneOffChargeStatus,
    RefundStatus,
    SubscriptionStatus,
)

__all__ = [
    "NAMING_CONVENTION",
    "AttemptKind",
    "AttemptState",
    "CheckoutFailure",
    "Customer",
    "Hold",
    "HoldAction",
    "HoldDecision",
    "HoldPolicy",
    "IntervalUnit",
    "LedgerModel",
    "OneOffCharge",
    "OneOffChargeStatus",
    "PaymentAttempt",
    "PaymentMethod",
    "Refund",
    "RefundStatus",
    "StrEnumType",
    "Subscription",
    "SubscriptionStatus",
    "ThreeDSChallenge",
    "UTCDateTime",
    "WebhookEvent",
    "metadata",
    "utcnow",
]


class Customer(LedgerModel, table=True):
    __tablename__ = "customers"
    __table_args__ = (
        UniqueConstraint("external_id"),
        UniqueConstraint("precium_client_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    external_id: str = Field(max_length=128)
    precium_client_id: str | None = Field(default=None, max_length=64)
    email: str | None = Field(default=None, max_length=254)
    full_name: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=32)
    #: ISO 3166-1 alpha-2.
    country: str | None = Field(default=None, max_length=2)
    created_at: datetime = timestamp_field(default_factory=utcnow)
    updated_at: datetime = timestamp_field(default_factory=utcnow)


class PaymentMethod(LedgerModel, table=True):
    """A stored card as the gateway knows it: a recurring token and what may be shown of it."""

    __tablename__ = "payment_methods"
    __table_args__ = (UniqueConstraint("recurring_token"),)

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customers.id", index=True)
    recurring_token: str = Field(max_length=64)
    network_transaction_id: str | None = Field(default=None, max_length=64)
    #: Amount of the first (customer-initiated) payment, sent again with every MIT.
    original_amount_cents: int | None = Field(default=None, sa_type=BigInteger)
    currency: str | None = Field(default=None, max_length=3)
    brand: str | None = Field(default=None, max_length=20)
    masked_pan: str | None = Field(default=None, max_length=19)
    expiry_month: int | None = None
    expiry_year: int | None = None
    #: Set when the gateway reports the token deleted; a deleted token is never charged.
    deleted_at: datetime | None = timestamp_field(nullable=True, default=None)
    created_at: datetime = timestamp_field(default_factory=utcnow)
    updated_at: datetime = timestamp_field(default_factory=utcnow)


class Subscription(LedgerModel, table=True):
    __tablename__ = "subscriptions"
    __table_args__ = (
        UniqueConstraint("external_id"),
        Index("ix_subscriptions_due", "status", "next_billing_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    external_id: str = Field(max_length=128)
    customer_id: int = Field(foreign_key="customers.id", index=True)
    payment_method_id: int | None = Field(default=None, foreign_key="payment_methods.id")
    plan: str = Field(max_length=64)
    amount_cents: int = Field(sa_type=BigInteger)
    currency: str = Field(max_length=3)
    interval_unit: IntervalUnit = enum_field(IntervalUnit)
    interval_count: int = 1
    next_billing_at: datetime = timestamp_field()
    status: SubscriptionStatus = enum_field(SubscriptionStatus, default=SubscriptionStatus.ACTIVE)
    # Dunning.
    failed_attempts: int = 0
    last_decline_code: str | None = Field(default=None, max_length=64)
    retry_at: datetime | None = timestamp_field(nullable=True, default=None)
    # Lease taken by one billing worker so that two never charge the same period.
    claimed_by: str | None = Field(default=None, max_length=128)
    claimed_until: datetime | None = timestamp_field(nullable=True, default=None)
    created_at: datetime = timestamp_field(default_factory=utcnow)
    updated_at: datetime = timestamp_field(default_factory=utcnow)
    #: The day of month the schedule keeps (set at creation from the first billing date), so a
    #: date clamped to a short month returns to it: Jan 31 -> Feb 28 -> Mar 31.
    anchor_day: int | None = None
    #: Why the subscription is past due or suspended ("hard decline do_not_honour",
    #: "retries exhausted", "mastercard advice 21"...); cleared by a successful charge.
    dunning_reason: str | None = Field(default=None, max_length=120)


class PaymentAttempt(LedgerModel, table=True):
    """One thing we asked (or are about to ask) the gateway to do, named by a business key.

    ``purchase_id`` is the purchase this attempt created (unique: one attempt per purchase);
    ``related_purchase_id`` is the existing purchase a capture, void or refund acts on.
    """

    __tablename__ = "payment_attempts"
    __table_args__ = (
        UniqueConstraint("business_key"),
        UniqueConstraint("purchase_id"),
        Index("ix_payment_attempts_state", "state", "updated_at"),
        # Reports select a period of attempts by when they were made.
        Index("ix_payment_attempts_created_at", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    business_key: str = Field(max_length=200)
    kind: AttemptKind = enum_field(AttemptKind)
    state: AttemptState = enum_field(AttemptState, default=AttemptState.INTENT)
    purchase_id: str | None = Field(default=None, max_length=64)
    related_purchase_id: str | None = Field(default=None, max_length=64, index=True)
    purchase_status: Status | None = enum_field(Status, default=None, nullable=True)
    #: When the gateway reported ``purchase_status`` (webhook or read-back).
    status_at: datetime | None = timestamp_field(nullable=True, default=None)
    amount_cents: int = Field(sa_type=BigInteger)
    currency: str = Field(max_length=3)
    customer_id: int | None = Field(default=None, foreign_key="customers.id")
    subscription_id: int | None = Field(default=None, foreign_key="subscriptions.id", index=True)
    payment_method_id: int | None = Field(default=None, foreign_key="payment_methods.id")
    decline_code: str | None = Field(default=None, max_length=64)
    network_code: str | None = Field(default=None, max_length=16)
    advice_code: str | None = Field(default=None, max_length=16)
    brand: str | None = Field(default=None, max_length=20)
    masked_pan: str | None = Field(default=None, max_length=19)
    created_at: datetime = timestamp_field(default_factory=utcnow)
    updated_at: datetime = timestamp_field(default_factory=utcnow)
    resolved_at: datetime | None = timestamp_field(nullable=True, default=None)
    # Settlement of the purchase this attempt created, as the gateway reports it (webhooks,
    # read-backs): what was paid, when, the gateway's fee and the net, and when it settled.
    paid_cents: int | None = Field(default=None, sa_type=BigInteger)
    fee_cents: int | None = Field(default=None, sa_type=BigInteger)
    net_cents: int | None = Field(default=None, sa_type=BigInteger)
    paid_at: datetime | None = timestamp_field(nullable=True, default=None)
    settled_at: datetime | None = timestamp_field(nullable=True, default=None)


class Hold(LedgerModel, table=True):
    """Authorised money waiting for a decision, with the deadline after which it is lost."""

    __tablename__ = "holds"
    __table_args__ = (
        UniqueConstraint("purchase_id"),
        Index("ix_holds_due", "status", "expires_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    purchase_id: str = Field(max_length=64)
    attempt_id: int | None = Field(default=None, foreign_key="payment_attempts.id")
    customer_id: int | None = Field(default=None, foreign_key="customers.id")
    authorised_cents: int = Field(sa_type=BigInteger)
    captured_cents: int = Field(default=0, sa_type=BigInteger)
    currency: str = Field(max_length=3)
    brand: str | None = Field(default=None, max_length=20)
    is_mit: bool = False
    authorised_at: datetime = timestamp_field()
    #: When the authorisation lapses at the card network (Visa 7 / 5 days MIT, Mastercard 30...).
    expires_at: datetime = timestamp_field()
    decision: HoldDecision = enum_field(HoldDecision, default=HoldDecision.NONE)
    decision_cents: int | None = Field(default=None, sa_type=BigInteger)
    decided_at: datetime | None = timestamp_field(nullable=True, default=None)
    #: The purchase status (``hold``, ``pending_capture``, ``paid``, ``released``, ``expired``...).
    status: Status = enum_field(Status, default=Status.HOLD)
    status_at: datetime | None = timestamp_field(nullable=True, default=None)
    created_at: datetime = timestamp_field(default_factory=utcnow)
    updated_at: datetime = timestamp_field(default_factory=utcnow)
    # -- pre-authorisation sweeps (migration 0004) --
    #: This hold's own policy when undecided at its act-by time; None: the merchant's default.
    policy: HoldPolicy | None = Field(
        default=None,
        sa_type=StrEnumType(HoldPolicy),
        nullable=True,
    )
    #: An extended authorisation (the acquirer grants up to 30 days).
    extended: bool = False
    #: The gateway's own expiry, when it reports one (it wins over the network table).
    gateway_expires_at: datetime | None = timestamp_field(nullable=True, default=None)
    #: What the last sweep did with the hold, why, and when (every action is in hold_actions).
    last_action: str | None = Field(default=None, max_length=20)
    last_reason: str | None = Field(default=None, max_length=200)
    acted_at: datetime | None = timestamp_field(nullable=True, default=None)
    #: Set while a person must look (alert policy, expired, outcome unknown); cleared when done.
    alerted_at: datetime | None = timestamp_field(nullable=True, default=None)
    #: The sweep worker acting on the hold, until when (a crashed sweep's lease lapses).
    claimed_by: str | None = Field(default=None, max_length=128)
    claimed_until: datetime | None = timestamp_field(nullable=True, default=None)


class HoldAction(LedgerModel, table=True):
    """One thing a sweep did (or found) for a hold, with its reason: the audit trail."""

    __tablename__ = "hold_actions"

    id: int | None = Field(default=None, primary_key=True)
    hold_id: int = Field(foreign_key="holds.id", index=True)
    purchase_id: str = Field(max_length=64)
    #: captured, partially_captured, voided, reconciled, expired, alerted, unknown, failed.
    action: str = Field(max_length=20)
    reason: str = Field(max_length=200)
    amount_cents: int | None = Field(default=None, sa_type=BigInteger)
    #: The sweep's ``as_of`` (the business time it acted for).
    as_of: datetime = timestamp_field()
    worker_id: str | None = Field(default=None, max_length=128)
    created_at: datetime = timestamp_field(default_factory=utcnow)


class Refund(LedgerModel, table=True):
    __tablename__ = "refunds"
    __table_args__ = (UniqueConstraint("refund_id"),)

    id: int | None = Field(default=None, primary_key=True)
    refund_id: str = Field(max_length=64)
    purchase_id: str = Field(max_length=64, index=True)
    attempt_id: int | None = Field(default=None, foreign_key="payment_attempts.id")
    amount_cents: int = Field(sa_type=BigInteger)
    currency: str = Field(max_length=3)
    status: RefundStatus = enum_field(RefundStatus, default=RefundStatus.PENDING)
    created_at: datetime = timestamp_field(default_factory=utcnow)
    settled_at: datetime | None = timestamp_field(nullable=True, default=None)
    cancelled_at: datetime | None = timestamp_field(nullable=True, default=None)
    updated_at: datetime = timestamp_field(default_factory=utcnow)


class WebhookEvent(LedgerModel, table=True):
    """A webhook as received, stored once (at-least-once delivery makes duplicates normal)."""

    __tablename__ = "webhook_events"
    __table_args__ = (UniqueConstraint("dedupe_key"),)

    id: int | None = Field(default=None, primary_key=True)
    #: sha256 of the raw body, or event type + purchase id + status + timestamp.
    dedupe_key: str = Field(max_length=128)
    event_type: str = Field(max_length=64)
    purchase_id: str | None = Field(default=None, max_length=64, index=True)
    #: Kept as the gateway spelled it: an unknown status must not make us drop the event.
    status: str | None = Field(default=None, max_length=32)
    event_at: datetime | None = timestamp_field(nullable=True, default=None)
    received_at: datetime = timestamp_field(default_factory=utcnow)
    applied: bool = False
    payload: dict[str, Any] | None = Field(default=None, sa_type=JSONType)


class ThreeDSChallenge(LedgerModel, table=True):
    """A 3-D Secure challenge waiting for the shopper, so the payment can finish in any process.

    The shopper's bank answers at our TermUrl, maybe minutes later and maybe after a restart of
    the web process; what the answer needs (the gateway's callback URL for this ``md``) is kept
    here rather than in any process's memory. Nothing here is card data: ``md`` and the callback
    URL are the gateway's handles, and the PaReq is not stored.
    """

    __tablename__ = "three_ds_challenges"
    __table_args__ = (UniqueConstraint("md"),)

    id: int | None = Field(default=None, primary_key=True)
    md: str = Field(max_length=255)
    business_key: str = Field(max_length=200, index=True)
    purchase_id: str = Field(max_length=64, index=True)
    acs_url: str = Field(max_length=1000)
    callback_url: str = Field(max_length=1000)
    created_at: datetime = timestamp_field(default_factory=utcnow)
    completed_at: datetime | None = timestamp_field(nullable=True, default=None)


class OneOffCharge(LedgerModel, table=True):
    """A single charge the merchant planned on a stored card (an imported invoice line).

    Stored as a plan, keyed by the merchant's external id, so that importing the same file again
    changes nothing; the charge itself goes through the MIT path later, under the business key
    ``oneoff:{external_id}``, and ``attempt_id`` points at that attempt once it exists. A plan
    that was charged (or cancelled) no longer changes on re-import.
    """

    __tablename__ = "one_off_charges"
    __table_args__ = (
        UniqueConstraint("external_id"),
        Index("ix_one_off_charges_due", "status", "charge_on"),
    )

    id: int | None = Field(default=None, primary_key=True)
    external_id: str = Field(max_length=128)
    customer_id: int = Field(foreign_key="customers.id", index=True)
    payment_method_id: int = Field(foreign_key="payment_methods.id")
    amount_cents: int = Field(sa_type=BigInteger)
    currency: str = Field(max_length=3)
    description: str = Field(max_length=200)
    charge_on: date
    status: OneOffChargeStatus = enum_field(OneOffChargeStatus, default=OneOffChargeStatus.PLANNED)
    attempt_id: int | None = Field(default=None, foreign_key="payment_attempts.id")
    created_at: datetime = timestamp_field(default_factory=utcnow)
    updated_at: datetime = timestamp_field(default_factory=utcnow)
    # Billing: the same dunning state and lease as a subscription's (see Subscription).
    failed_attempts: int = 0
    last_decline_code: str | None = Field(default=None, max_length=64)
    dunning_reason: str | None = Field(default=None, max_length=120)
    retry_at: datetime | None = timestamp_field(nullable=True, default=None)
    claimed_by: str | None = Field(default=None, max_length=128)
    claimed_until: datetime | None = timestamp_field(nullable=True, default=None)


class CheckoutFailure(LedgerModel, table=True):
    """One failed checkout attempt of a client (decline, invalid card, refused order).

    Counted by the checkout's failure limiter in the ledger rather than in a process's memory,
    so every web process shares the counts (:mod:`payflows.ledger.throttle`). ``client`` is the
    network address the request came from (a SHA-256 of a longer key), never anything typed.
    """

    __tablename__ = "checkout_failures"
    __table_args__ = (Index("ix_checkout_failures_client_failed_at", "client", "failed_at"),)

    id: int | None = Field(default=None, primary_key=True)
    client: str = Field(max_length=64)
    #: Indexed on its own too: pruning deletes by time across every client.
    failed_at: datetime = timestamp_field(index=True)
