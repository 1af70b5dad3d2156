"""Stored cards (recurring tokens) as the real platform has them.

The purchase that saved a card *is* the token: its own ``id`` is what ``/charge/`` takes, it
shows ``is_recurring_token: true`` and ``recurring_token: null``. A purchase paid with a token
shows that token in ``recurring_token``. A zero-amount pre-authorisation saves the card even
without ``force_recurring``. Deleting a token logs a ``delete_recurring_token`` attempt, turns
``is_recurring_token`` false and sends ``purchase.pending_recurring_token_delete`` then
``purchase.recurring_token_deleted`` (samples 13, 14; CONTRACT "What the real platform does").

Tokens migrated from another processor are taught with ``PUT /_sandbox/recurring_tokens/{id}/``
and bound to a test card by name; they charge like any other token.
"""

from __future__ import annotations

from typing import Any

from payflows.domain.states import Op, Result
from payflows.sandbox import wire
from payflows.sandbox.cards import (
    Decline,
    MaskedCard,
    Outcome,
    UnknownTestCard,
    card_by_key,
    card_by_name,
    expiry_passed,
)
from payflows.sandbox.core import Core
from payflows.sandbox.errors import Answer, FieldErrors, GatewayError, state_error
from payflows.sandbox.payer import Payer
from payflows.sandbox.state import Purchase, RecurringToken

__all__ = ["Tokens"]

_EXPIRED_TOKEN = Decline("expired_card", "Expired card", "54")


def _invalid_token() -> GatewayError:
    return GatewayError.field(
        "recurring_token", "invalid_recurring_token", "No such recurring token."
    )


class Tokens:
    def __init__(self, core: Core, payer: Payer) -> None:
        self.core = core
        self.payer = payer

    def charge(self, purchase_id: str, body: dict[str, Any]) -> Answer:
        """A merchant-initiated charge of ``purchase_id`` on a stored card."""
        core = self.core
        p = core.get_purchase(purchase_id)
        token_id = body.get("recurring_token")
        if not isinstance(token_id, str) or not token_id:
            raise GatewayError.field("recurring_token", "required", "This field is required.")
        token = core.state.tokens.get(token_id)
        if token is None or token.deleted:
            raise _invalid_token()
        if p.status not in wire.PAYABLE:
            raise state_error(
                "purchase_charge_error", f"Purchase is {p.status} and cannot be charged."
            )
        now = core.now()
        card = token.card
        behaviour = card_by_key(card.key)
        outcome, decline = behaviour.mit, behaviour.mit_decline
        if expiry_passed(card.exp_month, card.exp_year, core.today(now)):
            outcome, decline = Outcome.DECLINE, _EXPIRED_TOKEN
        p.card = card
        p.used_token = token.id
        core.move(p, Op.CHARGE, Result.STARTED, now)
        if outcome is Outcome.DECLINE:
            assert decline is not None
            self.payer.decline(p, Op.CHARGE, now, decline)
            charge_error = {"message": "The charge was declined.", "code": "purchase_charge_error"}
            return Answer(400, {"__all__": [charge_error, decline.as_error()]})
        self.payer.approve(p, Op.CHARGE, card, False, now)
        return Answer(200, wire.purchase_wire(p), hold_back=outcome is Outcome.TIMEOUT)

    def delete(self, purchase_id: str) -> Purchase:
        """``POST /purchases/{id}/delete_recurring_token/`` on the card-saving purchase."""
        core = self.core
        p = core.get_purchase(purchase_id)
        token = core.state.tokens.get(p.id)
        if not p.is_recurring_token or token is None or token.deleted:
            raise state_error("invalid_recurring_token", "Purchase holds no recurring token.")
        now = core.now()
        core.publish(p, "purchase.pending_recurring_token_delete")
        token.deleted = True
        p.is_recurring_token = False
        core.attempt(p, "delete_recurring_token", now)
        core.state.changed("tokens", p.id)
        core.publish(p, "purchase.recurring_token_deleted")
        return p

    def import_token(self, token_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """A recurring token migrated from another processor, bound to a test card by NAME.

        A merchant moving to Precium brings its customers' stored cards as tokens; the sandbox
        cannot know those, so this lets a test or the demo teach it one, with the test card
        that decides how charges on it behave. A card number is never accepted here.
        """
        errors = FieldErrors()
        if not token_id or len(token_id) > 64:
            errors.add("recurring_token", "invalid", "1 to 64 characters.")
        name = body.get("card")
        card = None
        try:
            card = card_by_name(name)
        except UnknownTestCard as exc:
            errors.add("card", "invalid", str(exc))
        client_id = body.get("client_id")
        if client_id is not None and not isinstance(client_id, str):
            errors.add("client_id", "invalid", "A client id or null.")
        nti = body.get("network_transaction_id")
        if nti is not None and (not isinstance(nti, str) or len(nti) > 64):
            errors.add("network_transaction_id", "invalid", "Up to 64 characters.")
        errors.raise_if_any()
        assert card is not None
        now = self.core.now()
        tokens = self.core.state.tokens
        existing = tokens.get(token_id)
        if existing is None or existing.deleted:
            tokens[token_id] = RecurringToken(
                id=token_id,
                client_id=client_id,
                card=MaskedCard(
                    key=card.key,
                    brand=card.brand,
                    masked_pan=card.masked_pan,
                    last_4=card.last_4,
                    exp_month=12,
                    exp_year=self.core.today(now).year + 3,
                    cardholder_name="",
                ),
                network_transaction_id=nti,
                created_on=now,
            )
            self.core.state.changed("tokens", token_id)
        token = tokens[token_id]
        return {
            "recurring_token": token.id,
            "client_id": token.client_id,
            "card_brand": token.card.brand,
            "masked_pan": token.card.masked_pan,
            "created_on": token.created_on,
        }
