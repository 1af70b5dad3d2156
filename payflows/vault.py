"""One-time card references: how a card reaches the card-submission step without resting.

A card typed at checkout (or at a CLI prompt) must reach the task that submits it to Precium, but
it may not travel as a Prefect parameter (Prefect stores parameters in its database and shows them
in the UI) nor be written to a result, a log or the ledger. So the entry point puts the card into
this vault and hands the flow an opaque, one-time reference instead. The submitting task takes the
card out, which destroys the entry; an entry nobody takes expires after a few minutes.

Entries are encrypted with a key that exists only in this process's memory, so the vault holds no
plaintext card data even in memory, and nothing about it survives the process.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken

from payflows.domain.cards import CardData

_PREFIX = "cardref_"
#: What a card reference looks like (``put`` makes them): a flow parameter's JSON-schema pattern,
#: so a card number typed where a reference belongs is refused before Prefect stores it.
REFERENCE_PATTERN = r"^cardref_[A-Za-z0-9_-]{32}$"


class VaultError(LookupError):
    """The reference is unknown, already used, or expired. It never contains card data."""


@dataclass(frozen=True, slots=True)
class _Entry:
    ciphertext: bytes
    expires_at: float
    brand: str
    masked_pan: str


class CardVault:
    """Encrypted, expiring, single-use storage of card data in process memory."""

    def __init__(
        self, ttl_seconds: float = 900.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._fernet = Fernet(Fernet.generate_key())
        self._ttl = ttl_seconds
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._secrets: dict[str, tuple[bytes, float]] = {}
        self._lock = threading.Lock()

    def put(self, card: CardData) -> str:
        """Store ``card`` and return the one-time reference to pass to a flow instead of it."""
        ref = _PREFIX + secrets.token_urlsafe(24)
        payload = json.dumps(card.s2s_fields()).encode()
        entry = _Entry(
            ciphertext=self._fernet.encrypt(payload),
            expires_at=self._clock() + self._ttl,
            brand=card.brand,
            masked_pan=card.masked_pan,
        )
        with self._lock:
            self._purge_locked()
            self._entries[ref] = entry
        return ref

    def describe(self, ref: str) -> tuple[str, str]:
        """Brand and masked PAN behind ``ref``, without using it up."""
        with self._lock:
            entry = self._live_locked(ref)
            return entry.brand, entry.masked_pan

    def take(self, ref: str) -> CardData:
        """Return the card and destroy the entry: a reference works once."""
        card = self.get(ref)
        self.discard(ref)
        return card

    def get(self, ref: str) -> CardData:
        """Return the card but keep the entry, for a submission that may be retried.

        The submitting task reads the card with ``get`` and calls :meth:`discard` once the
        gateway has answered (or the answer is unknown); a retry after a refusal that changed
        nothing (rate limit, gateway unavailable) can read it again until the entry expires.
        """
        with self._lock:
            entry = self._live_locked(ref)
        try:
            fields = json.loads(self._fernet.decrypt(entry.ciphertext))
        except InvalidToken:  # pragma: no cover - only if memory was tampered with
            raise VaultError("card reference could not be decrypted") from None
        expires = fields["expires"]
        return CardData(fields["card_number"], expires, fields["cvc"], fields["cardholder_name"])

    def discard(self, ref: str) -> None:
        with self._lock:
            self._entries.pop(ref, None)
            self._secrets.pop(ref, None)

    def put_secret(self, key: str, value: str) -> None:
        """Keep a short-lived secret that is not a card (a 3DS PaReq can embed the PAN)."""
        with self._lock:
            self._secrets[key] = (self._fernet.encrypt(value.encode()), self._clock() + self._ttl)

    def pop_secret(self, key: str) -> str | None:
        with self._lock:
            item = self._secrets.pop(key, None)
        if item is None or item[1] <= self._clock():
            return None
        return self._fernet.decrypt(item[0]).decode()

    def __len__(self) -> int:
        with self._lock:
            self._purge_locked()
            return len(self._entries)

    def _live_locked(self, ref: str) -> _Entry:
        entry = self._entries.get(ref)
        if entry is None:
            raise VaultError("unknown or already used card reference")
        if entry.expires_at <= self._clock():
            del self._entries[ref]
            raise VaultError("card reference expired")
        return entry

    def _purge_locked(self) -> None:
        now = self._clock()
        for ref in [r for r, e in self._entries.items() if e.expires_at <= now]:
            del self._entries[ref]
        for key in [k for k, (_, exp) in self._secrets.items() if exp <= now]:
            del self._secrets[key]

    def __repr__(self) -> str:
        return f"CardVault(entries={len(self._entries)})"


#: The process-wide vault used by the CLI, the checkout endpoint and the flows they start.
default_vault = CardVault()
