"""Decline codes and what they mean for trying again.

A decline is a final answer for *this* attempt. Whether another attempt may follow depends on
the card network's rules (CONTRACT.md, "Card-network facts"): Visa category-1 responses and
Mastercard advice codes 03/21 must never be retried; most others are soft and may be retried on
a schedule. The gateway reports Precium's own code (``insufficient_funds``...) and, where it has
them, the network's response code and Mastercard's merchant advice code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

#: Visa "category 1" response codes: the issuer will never approve; retrying is forbidden.
VISA_NEVER_RETRY: Final = frozenset(
    {"04", "07", "12", "14", "15", "41", "43", "46", "57", "R0", "R1", "R3"}
)
#: Mastercard merchant advice codes that mean "do not try again".
MASTERCARD_STOP_ADVICE: Final = frozenset({"03", "21"})

#: Precium's decline codes that no retry can fix.
HARD_CODES: Final = frozenset(
    {
        "expired_card",
        "3ds_authentication_failed",
        "recurring_token_expired",
        "s2s_not_supported",
        "validation_cvc_invalid",
        "validation_expires_invalid",
        "validation_card_number_invalid",
        "stolen_card",
        "lost_card",
    }
)
#: Precium's decline codes that a later attempt may overcome.
SOFT_CODES: Final = frozenset(
    {"insufficient_funds", "do_not_honour", "authorization_failed", "general_transaction_error"}
)


@dataclass(frozen=True, slots=True)
class DeclineInfo:
    code: str
    message: str = ""
    network_code: str | None = None
    advice_code: str | None = None

    @property
    def hard(self) -> bool:
        return not classify_decline(self.code, self.network_code, self.advice_code)

    @property
    def soft(self) -> bool:
        return not self.hard


def classify_decline(
    code: str, network_code: str | None = None, advice_code: str | None = None
) -> bool:
    """True when the decline is soft (a later attempt is allowed), False when it is hard."""
    if network_code and network_code.upper() in VISA_NEVER_RETRY:
        return False
    if advice_code and advice_code in MASTERCARD_STOP_ADVICE:
        return False
    # Unknown codes are treated as soft: the network caps on attempts still bound the retries.
    return code not in HARD_CODES
