"""The shared vocabulary of payflows: money, card data, and the payment state table.

Nothing here does I/O or imports Prefect; the gateway client, the sandbox and the ledger all
speak in these terms so that a status or an amount means the same thing everywhere.
"""

from payflows.domain.cards import BrowserFingerprint, CardData, card_brand, luhn_valid, mask_pan
from payflows.domain.declines import DeclineInfo, classify_decline
from payflows.domain.money import Money, format_amount, parse_amount
from payflows.domain.screening import (
    CardNumberInField,
    contains_card_number,
    find_card_number,
    normalise_digits,
    redact,
    screen,
    screen_value,
)
from payflows.domain.states import (
    PREVIOUS,
    TRANSITIONS,
    InvalidTransition,
    Op,
    Result,
    Status,
    can_reach,
    next_status,
)

__all__ = [
    "PREVIOUS",
    "TRANSITIONS",
    "BrowserFingerprint",
    "CardData",
    "CardNumberInField",
    "DeclineInfo",
    "InvalidTransition",
    "Money",
    "Op",
    "Result",
    "Status",
    "can_reach",
    "card_brand",
    "classify_decline",
    "contains_card_number",
    "find_card_number",
    "format_amount",
    "luhn_valid",
    "mask_pan",
    "next_status",
    "normalise_digits",
    "parse_amount",
    "redact",
    "screen",
    "screen_value",
]
