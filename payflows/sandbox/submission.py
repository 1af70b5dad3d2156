"""``POST {direct_post_url}?s2s=true``: the card arrives, and is paid, held or challenged.

The card's fields go to :func:`~payflows.sandbox.cards.check_card` and only its masked form
comes back; the test-card table then decides the outcome (docs/test-cards.md). Brand switches
(``allow_non_3ds``, ``allow_external_3ds``) and the purchase's flags (stored credential,
external 3DS, network token) decide whether 3-D Secure runs at all.
"""

from __future__ import annotations

from typing import Any, Final

from payflows.domain.states import Op, Result
from payflows.sandbox import wire
from payflows.sandbox.cards import (
    CardRefusal,
    Decline,
    MaskedCard,
    Outcome,
    card_by_key,
    check_card,
    network_token_card,
)
from payflows.sandbox.core import Core
from payflows.sandbox.errors import Answer
from payflows.sandbox.payer import Payer, s2s_error
from payflows.sandbox.state import Purchase
from payflows.sandbox.threeds import ThreeDS

__all__ = ["FINGERPRINT_FIELDS", "CardSubmission"]

FINGERPRINT_FIELDS: Final = (
    "user_agent",
    "accept_header",
    "language",
    "java_enabled",
    "javascript_enabled",
    "color_depth",
    "utc_offset",
    "screen_width",
    "screen_height",
)
_NON_3DS_REFUSED = Decline("s2s_not_supported", "The brand is not approved for non-3DS payments")
_EXT_3DS_REFUSED = Decline("s2s_not_supported", "The brand is not approved for external 3DS")
_EXT_3DS_INCOMPLETE = Decline(
    "3ds_authentication_failed", "External 3DS needs cavv and eci_raw in payment_method_details"
)


def _not_payable(p: Purchase, what: str) -> Answer:
    return s2s_error(p, Decline("purchase_execute_error", f"Purchase is {p.status}: {what}"))


class CardSubmission:
    def __init__(self, core: Core, payer: Payer, threeds: ThreeDS) -> None:
        self.core = core
        self.payer = payer
        self.threeds = threeds

    def _check(
        self, p: Purchase, pmd: dict[str, Any], body: dict[str, Any], now: int
    ) -> MaskedCard | CardRefusal:
        name = body.get("cardholder_name")
        today = self.core.today(now)
        network_token = bool(pmd.get("network_token") and pmd.get("network_token_cryptogram"))
        if network_token and not body.get("card_number"):
            checked = network_token_card(
                str(pmd["network_token"]), name if isinstance(name, str) else "", today
            )
            # Used once: the cryptogram is single-use and the token is card-equivalent, so the
            # purchase keeps (and the state file holds) only the token's masked form.
            pmd["network_token"] = checked.masked_pan
            pmd.pop("network_token_cryptogram", None)
            self.core.state.changed("purchases", p.id)
            return checked
        never_challenged = bool(
            pmd.get("is_recurring") or pmd.get("is_external_3DS") or network_token
        )
        return check_card(
            body.get("card_number"),
            body.get("expires"),
            body.get("cvc"),
            name,
            today=today,
            placeholder_cvc_ok=never_challenged,
        )

    def submit(self, purchase_id: str, body: dict[str, Any], origin: str | None = None) -> Answer:
        """Validate the card, then pay, hold or challenge."""
        core = self.core
        p = core.get_purchase(purchase_id)
        now = core.now()
        wire_card = p.payment_method_details.get("card")
        pmd: dict[str, Any] = wire_card if isinstance(wire_card, dict) else {}
        if p.status not in wire.PAYABLE:
            return _not_payable(p, "it cannot take a card submission")
        if not ((p.success_redirect and p.failure_redirect) or pmd):
            return _not_payable(p, "it has no direct_post_url")

        op = Op.VERIFY if p.total == 0 else Op.AUTHORIZE if p.skip_capture else Op.PAY
        merchant_initiated = bool(pmd.get("is_recurring"))
        external_3ds = bool(pmd.get("is_external_3DS"))
        network_token = bool(pmd.get("network_token") and pmd.get("network_token_cryptogram"))
        never_challenged = merchant_initiated or external_3ds or network_token
        remote_ip = body.get("remote_ip")
        if isinstance(remote_ip, str) and len(remote_ip) <= 64:
            p.client_ip = remote_ip

        checked = self._check(p, pmd, body, now)
        if isinstance(checked, CardRefusal):
            return self.payer.refuse(p, op, now, checked.decline)
        card = checked
        if p.payment_method_whitelist and card.brand not in p.payment_method_whitelist:
            refusal = Decline("validation_card_number_invalid", f"{card.brand} is not allowed")
            return self.payer.refuse(p, op, now, refusal, card=card)
        fingerprint = any(key in body for key in FINGERPRINT_FIELDS)
        config = core.config
        if external_3ds and not config.allow_external_3ds:
            return self.payer.refuse(p, op, now, _EXT_3DS_REFUSED, card=card)
        if not fingerprint and not never_challenged and not config.allow_non_3ds:
            return self.payer.refuse(p, op, now, _NON_3DS_REFUSED, card=card)

        behaviour = card_by_key(card.key)
        outcome = behaviour.mit if merchant_initiated else behaviour.cit
        decline = behaviour.mit_decline if merchant_initiated else behaviour.cit_decline
        if outcome in (Outcome.CHALLENGE, Outcome.FRICTIONLESS, Outcome.ACS_REFUSE) and (
            never_challenged or not fingerprint
        ):
            outcome = Outcome.APPROVE  # no 3-D Secure runs on these flows
        if external_3ds and not (pmd.get("cavv") and pmd.get("eci_raw")):
            outcome, decline = Outcome.DECLINE, _EXT_3DS_INCOMPLETE
        remember = body.get("remember_card") == "on"

        p.card = card
        core.move(p, op, Result.STARTED, now)
        if outcome is Outcome.CHALLENGE:
            return self.threeds.start(p, op, card, remember, now, origin or p.origin)
        if outcome in (Outcome.DECLINE, Outcome.ACS_REFUSE):
            assert decline is not None
            self.payer.decline(p, op, now, decline)
            return s2s_error(p, decline)
        self.payer.approve(p, op, card, remember, now)
        answer = {
            "status": "executed" if op is Op.PAY else "authorized",
            "id": p.id,
            "purchase_status": p.status,
            "transaction_id": p.transaction_id,
            "payment_method_details": wire.card_details(p),
        }
        return Answer(200, answer, hold_back=outcome is Outcome.TIMEOUT)
