"""The outcome of a payment on a card: approved, declined, or refused before the network.

Shared by the S2S submission, the 3-D Secure callback and ``/charge/``: whatever path a payment
took, approval records the same things (card, amounts, transaction ids, the stored card) and
then moves the status, so the event of the transition carries it all.
"""

from __future__ import annotations

import secrets
from typing import Final

from payflows.domain.states import Op, Result
from payflows.sandbox import wire
from payflows.sandbox.cards import Decline, MaskedCard
from payflows.sandbox.core import Core
from payflows.sandbox.errors import Answer
from payflows.sandbox.state import Purchase, RecurringToken

__all__ = ["ATTEMPT_TYPE", "Payer"]

#: The platform's attempt type of each payment operation (CONTRACT point 7): a zero-amount
#: pre-authorisation is an ``authorize`` too (sample 06), a token charge ``recurring_execute``.
ATTEMPT_TYPE: Final = {
    Op.PAY: "execute",
    Op.AUTHORIZE: "authorize",
    Op.VERIFY: "authorize",
    Op.CHARGE: "recurring_execute",
}


def s2s_error(p: Purchase, decline: Decline) -> Answer:
    """HTTP 400 of a refused S2S submission or 3DS callback, code repeated flat for CHIP."""
    return Answer(
        400,
        {
            "status": "error",
            "id": p.id,
            "purchase_status": p.status,
            "error": decline.as_error(),
            "code": decline.code,
            "message": decline.message,
        },
    )


class Payer:
    def __init__(self, core: Core) -> None:
        self.core = core

    def refuse(
        self, p: Purchase, op: Op, now: int, decline: Decline, *, card: MaskedCard | None = None
    ) -> Answer:
        """A refusal before the card network: an attempt is logged, the status stays."""
        if card is not None and p.card is None:
            p.card = card
        self.core.attempt(p, ATTEMPT_TYPE[op], now, decline=decline)
        return s2s_error(p, decline)

    def decline(self, p: Purchase, op: Op, now: int, decline: Decline) -> None:
        self.core.attempt(p, ATTEMPT_TYPE[op], now, decline=decline)
        self.core.move(p, op, Result.DECLINED, now)

    def approve(self, p: Purchase, op: Op, card: MaskedCard, remember: bool, now: int) -> None:
        """Everything an approval changes, then the transition (so its event carries it all)."""
        p.card = card
        p.remember_card = remember
        p.transaction_id = "txn_" + secrets.token_hex(8)
        p.network_transaction_id = str(secrets.randbelow(10**15)).zfill(15)
        fee = 0
        if op in (Op.PAY, Op.CHARGE):
            p.captured = p.total
            p.paid_on = now
            p.payment = wire.payment(p, p.total, now)
            fee = wire.fee_for(p.total)
        else:
            p.authorised_amount = p.total
            p.authorised_on = now
        # A zero-amount pre-authorisation saves the card whatever force_recurring says
        # (CONTRACT point 2); a token charge never makes a new token.
        if op is not Op.CHARGE and (p.force_recurring or remember or op is Op.VERIFY):
            p.is_recurring_token = True
            self.core.state.tokens[p.id] = RecurringToken(
                id=p.id,
                client_id=p.client_id,
                card=card,
                network_transaction_id=p.network_transaction_id,
                created_on=now,
            )
            self.core.state.changed("tokens", p.id)
        self.core.attempt(p, ATTEMPT_TYPE[op], now, fee=fee)
        self.core.move(p, op, Result.APPROVED, now)
