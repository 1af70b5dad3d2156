"""Test cards by NAME, for runs against the local sandbox (from the Prefect UI or the CLI).

A Prefect parameter is stored in Prefect's database and shown in the UI, so a card number may
never be one. The sandbox's test cards are public, but the rule is kept anyway: a flow takes the
name of a test card, and this module turns it into a card in memory, and only when the settings
point at the local sandbox. The names and numbers come from the sandbox's conveniences, wired
at the top (:mod:`tasks.conveniences`); this module never imports the sandbox.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from payflows.domain.cards import CardData
from payflows.payments import OperationRejected
from payflows.settings import Settings
from tasks.conveniences import sandbox_conveniences

__all__ = ["SANDBOX_NETWORK_TOKEN", "SandboxCard", "sandbox_card_data", "sandbox_only"]

_conveniences = sandbox_conveniences()
_NUMBERS: dict[str, str] = dict(_conveniences.card_numbers) if _conveniences else {}

#: The names of docs/test-cards.md, as a dropdown in the Prefect UI (none without the sandbox).
SandboxCard = StrEnum("SandboxCard", {key: key for key in _NUMBERS})  # type: ignore[misc]
SandboxCard.__doc__ = "A sandbox test card, by name (docs/test-cards.md)."

#: A test network token (a DPAN, not a card's PAN) and cryptogram the sandbox accepts.
SANDBOX_NETWORK_TOKEN = ("4895370012341234", "AgAAAAAABk4DWZ4C28yUQAAAAAA=")


def sandbox_only(settings: Settings, what: str) -> None:
    """Refuse a sandbox convenience when the settings point at a real gateway."""
    if not settings.uses_local_sandbox:
        raise OperationRejected(
            f"{what} is only accepted against the local sandbox "
            f"(PRECIUM_BASE_URL is {settings.precium_base_url})"
        )


def sandbox_card_data(
    card: SandboxCard | str, *, cardholder_name: str, cvc: str = "123"
) -> CardData:
    """The test card ``card`` as card data, good for three more years."""
    key = card.value if isinstance(card, StrEnum) else str(card)
    try:
        number = _NUMBERS[key]
    except KeyError:
        raise OperationRejected(f"{key!r} is not a sandbox test card") from None
    expires = f"12/{(datetime.now(UTC).year + 3) % 100:02d}"
    return CardData(number, expires, cvc, cardholder_name)
