"""What the sandbox remembers, and how it survives a restart.

Everything lives in plain dictionaries of small records, mutated only by the engine on the
event loop (so no locks). With a ``state_file`` the whole state is written as JSON by
:mod:`payflows.sandbox.persist` (atomically, debounced) and read back by :func:`load_state`.

No record holds a PAN or a CVC. A card is kept as a :class:`~payflows.sandbox.cards.MaskedCard`:
brand, masked PAN, expiry and the test-card row key that decides later charges.
"""

from __future__ import annotations

import json
import logging
import secrets
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Final

from payflows.sandbox.cards import MaskedCard
from payflows.sandbox.clock import MAX_OFFSET_SECONDS

__all__ = [
    "Purchase",
    "RecurringToken",
    "Refund",
    "SandboxState",
    "ThreeDSSession",
    "Webhook",
    "load_state",
]

logger = logging.getLogger(__name__)

_VERSION = 1


@dataclass(slots=True)
class Purchase:
    """A purchase as the gateway keeps it; ``engine.purchase_wire`` renders CHIP's shape."""

    id: str
    created_on: int
    updated_on: int
    brand_id: str
    client_id: str | None
    client: dict[str, Any]
    currency: str
    language: str
    products: list[dict[str, Any]]
    total: int
    total_override: int | None
    payment_method_details: dict[str, Any]
    reference: str
    send_receipt: bool
    skip_capture: bool
    force_recurring: bool
    payment_method_whitelist: list[str] | None
    success_redirect: str
    failure_redirect: str
    cancel_redirect: str
    success_callback: str
    #: The origin of the request that created it, for the URLs in webhook bodies.
    origin: str
    due: int
    status: str = "created"
    status_history: list[dict[str, Any]] = field(default_factory=list)
    #: Newest first, as CHIP lists them.
    attempts: list[dict[str, Any]] = field(default_factory=list)
    card: MaskedCard | None = None
    remember_card: bool = False
    transaction_id: str | None = None
    network_transaction_id: str | None = None
    #: CHIP's ``payment`` object, replaced whole (never mutated) so webhook snapshots hold.
    payment: dict[str, Any] | None = None
    authorised_amount: int = 0
    authorised_on: int | None = None
    captured: int = 0
    refunded: int = 0
    paid_on: int | None = None
    settled_on: int | None = None
    cancelled_on: int | None = None
    #: The status before the last ``pending_*`` one: where a PREVIOUS transition returns.
    prior_status: str | None = None
    is_recurring_token: bool = False
    refund_ids: list[str] = field(default_factory=list)
    #: When the payer first opened the payment page (``GET {checkout_url}``).
    viewed_on: int | None = None
    #: ``remote_ip`` of the card submission, shown on the payer's attempts.
    client_ip: str = ""
    #: The recurring token that paid this purchase (``/charge/``): its ``recurring_token``.
    used_token: str | None = None
    #: CHIP's own short reference (``CH1234``), numbered in order of creation.
    reference_generated: str = ""

    @property
    def refundable_amount(self) -> int:
        if self.status in ("cancelled", "refunded", "chargeback"):
            return 0
        return max(self.captured - self.refunded, 0)


@dataclass(slots=True)
class Refund:
    id: str
    purchase_id: str
    amount: int
    currency: str
    created_on: int
    status: str = "pending"  # pending -> settled | cancelled
    settled_on: int | None = None
    cancelled_on: int | None = None


@dataclass(slots=True)
class Webhook:
    id: str
    title: str
    all_events: bool
    events: list[str]
    callback: str
    public_key: str
    private_key_pem: str
    created_on: int
    updated_on: int


@dataclass(slots=True)
class ThreeDSSession:
    """A 3-D Secure challenge in progress, keyed by its ``MD``."""

    md: str
    purchase_id: str
    pareq: str
    op: str
    card: MaskedCard
    remember_card: bool
    created_on: int
    #: The final answer, kept so a repeated callback answers the same (never a second charge).
    result_status: int | None = None
    result: dict[str, Any] | None = None


@dataclass(slots=True)
class RecurringToken:
    """A stored card: the id is the purchase that created it, as on CHIP."""

    id: str
    client_id: str | None
    card: MaskedCard
    network_transaction_id: str | None
    created_on: int
    deleted: bool = False


_KINDS: Final = ("clients", "purchases", "refunds", "webhooks", "sessions", "tokens")


@dataclass
class SandboxState:
    """All records, by kind and id. Mutators call :meth:`changed` for each record they touch.

    Snapshots re-serialise only the records changed since the last one and reuse the cached
    JSON of the rest, so persisting a state of a million purchases costs the loop little.
    """

    clients: dict[str, dict[str, Any]] = field(default_factory=dict)
    purchases: dict[str, Purchase] = field(default_factory=dict)
    refunds: dict[str, Refund] = field(default_factory=dict)
    webhooks: dict[str, Webhook] = field(default_factory=dict)
    sessions: dict[str, ThreeDSSession] = field(default_factory=dict)
    tokens: dict[str, RecurringToken] = field(default_factory=dict)
    clock_offset: float = 0.0
    company_key_pem: str | None = None
    #: Signs the PaRes of the sandbox ACS; persisted so a challenge survives a restart.
    acs_secret: str = field(default_factory=lambda: secrets.token_hex(32))
    dirty: bool = field(default=False, compare=False)
    _changed: dict[str, set[str]] = field(default_factory=dict, compare=False, repr=False)
    _cache: dict[str, dict[str, bytes]] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        # Everything loaded counts as changed until the first snapshot has cached it.
        self._changed = {kind: set(getattr(self, kind)) for kind in _KINDS}
        self._cache = {kind: {} for kind in _KINDS}

    def mark_dirty(self) -> None:
        """Something outside the records changed (the clock offset, the company key)."""
        self.dirty = True

    def changed(self, kind: str, key: str) -> None:
        """Record ``key`` of ``kind`` was added, changed or removed."""
        self._changed[kind].add(key)
        self.dirty = True

    def snapshot(self) -> list[bytes]:
        """The whole state as JSON, in chunks, re-serialising only what changed since last time.

        The chunks are immutable and not joined here: the persister's thread writes them, so
        the event loop never copies the whole file.
        """
        parts = [
            b'{"version":',
            _dumps(_VERSION),
            b',"clock_offset":',
            _dumps(self.clock_offset),
            b',"company_key_pem":',
            _dumps(self.company_key_pem),
            b',"acs_secret":',
            _dumps(self.acs_secret),
        ]
        for kind in _KINDS:
            records: dict[str, Any] = getattr(self, kind)
            cache = self._cache[kind]
            for key in self._changed[kind]:
                record = records.get(key)
                if record is None:
                    cache.pop(key, None)
                else:
                    cache[key] = _dumps(key) + b":" + _dumps(_record(record))
            self._changed[kind].clear()
            parts += [b',"', kind.encode(), b'":{']
            first = True
            for chunk in cache.values():
                if not first:
                    parts.append(b",")
                parts.append(chunk)
                first = False
            parts.append(b"}")
        parts.append(b"}")
        self.dirty = False
        return parts

    def to_json(self) -> dict[str, Any]:
        """The whole state as plain data, rebuilt from scratch (tests; see :meth:`snapshot`)."""
        return {
            "version": _VERSION,
            "clock_offset": self.clock_offset,
            "company_key_pem": self.company_key_pem,
            "acs_secret": self.acs_secret,
            **{kind: {k: _record(v) for k, v in getattr(self, kind).items()} for kind in _KINDS},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SandboxState:
        if data.get("version") != _VERSION:
            raise ValueError(f"unsupported sandbox state version {data.get('version')!r}")

        def card(raw: dict[str, Any] | None) -> MaskedCard | None:
            return MaskedCard(**raw) if raw else None

        def with_card(raw: dict[str, Any]) -> dict[str, Any]:
            return {**raw, "card": card(raw.get("card"))}

        def records(kind: str) -> dict[str, Any]:
            raw: dict[str, Any] = data.get(kind, {})
            return raw

        return cls(
            clients=dict(records("clients")),
            purchases={k: Purchase(**with_card(v)) for k, v in records("purchases").items()},
            refunds={k: Refund(**v) for k, v in records("refunds").items()},
            webhooks={k: Webhook(**v) for k, v in records("webhooks").items()},
            sessions={k: ThreeDSSession(**with_card(v)) for k, v in records("sessions").items()},
            tokens={k: RecurringToken(**with_card(v)) for k, v in records("tokens").items()},
            clock_offset=_clock_offset(data.get("clock_offset", 0.0)),
            company_key_pem=data.get("company_key_pem"),
            acs_secret=data.get("acs_secret") or secrets.token_hex(32),
        )


def _clock_offset(raw: Any) -> float:
    """The saved clock offset, or 0 when an older sandbox saved one out of range (say 1e30
    seconds, which made every route fail): the sandbox starts, and says so."""
    try:
        offset = float(raw)
    except (TypeError, ValueError):
        offset = float("nan")
    if not 0 <= offset <= MAX_OFFSET_SECONDS:
        logger.warning("sandbox state: clock offset %r is out of range; the clock restarts", raw)
        return 0.0
    return offset


_FIELDS: dict[type, tuple[str, ...]] = {}

try:  # orjson (a dependency of Prefect) is three times faster; the stdlib does the same job.
    import orjson

    def _dumps(value: Any) -> bytes:
        return orjson.dumps(value)

except ImportError:  # pragma: no cover

    def _dumps(value: Any) -> bytes:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _record(obj: Any) -> dict[str, Any]:
    """A record as a JSON-ready dict, shallow and fast (``asdict`` deep-copies everything).

    Nested lists and dicts are shared, not copied: the snapshot is serialised at once, on the
    event loop, before any request can change them.
    """
    if isinstance(obj, dict):
        return obj
    names = _FIELDS.get(type(obj))
    if names is None:
        names = _FIELDS[type(obj)] = tuple(f.name for f in fields(obj))
    out = {name: getattr(obj, name) for name in names}
    card = out.get("card")
    if isinstance(card, MaskedCard):
        out["card"] = {
            "key": card.key,
            "brand": card.brand,
            "masked_pan": card.masked_pan,
            "last_4": card.last_4,
            "exp_month": card.exp_month,
            "exp_year": card.exp_year,
            "cardholder_name": card.cardholder_name,
        }
    return out


def load_state(path: Path | None) -> SandboxState:
    """The state saved in ``path``, or a fresh one when there is no file yet."""
    if path is None or not path.exists():
        return SandboxState()
    return SandboxState.from_json(json.loads(path.read_text(encoding="utf-8")))
