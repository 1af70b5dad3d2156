"""3-D Secure on the sandbox: the challenge, the ACS page's decision, the merchant's callback.

``3DS_required`` opens a session keyed by ``MD``. The ACS page (app.py renders it) asks the
shopper to approve or fail, and answers with a PaRes that carries the decision, HMAC-signed with
the state's ``acs_secret`` so it cannot be forged and survives a restart. The merchant posts
``MD`` and ``PaRes`` to ``callback_url``; the session answers once and then repeats that answer,
so a replayed PaRes never charges twice. A challenge nobody finishes fails after
:data:`CHALLENGE_WINDOW` of sandbox time, as the issuer's ACS times it out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from typing import Any, Final

from payflows.domain.money import format_amount
from payflows.domain.states import Op, Status
from payflows.sandbox import wire
from payflows.sandbox.cards import Decline, MaskedCard
from payflows.sandbox.core import Core
from payflows.sandbox.errors import Answer, GatewayError, NotFound
from payflows.sandbox.payer import Payer, s2s_error
from payflows.sandbox.state import Purchase, ThreeDSSession

__all__ = ["CHALLENGE_WINDOW", "ThreeDS"]

#: How long a 3-D Secure challenge waits for the shopper (sandbox time) before it fails.
CHALLENGE_WINDOW: Final = 30 * 60
_ACS_FAILED = Decline("3ds_authentication_failed", "3-D Secure authentication failed")
_ACS_ABANDONED = Decline("3ds_authentication_failed", "3-D Secure challenge not completed in time")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class ThreeDS:
    def __init__(self, core: Core, payer: Payer) -> None:
        self.core = core
        self.payer = payer
        self._secret = bytes.fromhex(core.state.acs_secret)

    def start(
        self, p: Purchase, op: Op, card: MaskedCard, remember: bool, now: int, origin: str
    ) -> Answer:
        """Open a challenge: the ``3DS_required`` answer of the S2S submission."""
        md = secrets.token_urlsafe(18)
        pareq = _b64(json.dumps({"md": md, "amount": p.total, "currency": p.currency}).encode())
        self.core.state.sessions[md] = ThreeDSSession(
            md=md,
            purchase_id=p.id,
            pareq=pareq,
            op=op.value,
            card=card,
            remember_card=remember,
            created_on=now,
        )
        self.core.state.changed("sessions", md)
        return Answer(
            200,
            {
                "status": "3DS_required",
                "id": p.id,
                "Method": "POST",
                "PaReq": pareq,
                "MD": md,
                "md": md,
                "URL": f"{origin}/acs/{md}/",
                "callback_url": f"{origin}/3ds/callback/{md}/",
            },
        )

    def session(self, md: str) -> ThreeDSSession:
        session = self.core.state.sessions.get(md)
        if session is None:
            raise NotFound()
        return session

    def acs_view(self, md: str) -> dict[str, str]:
        """What the ACS page shows the shopper: merchant, amount, masked PAN."""
        session = self.session(md)
        p = self.core.get_purchase(session.purchase_id)
        return {
            "merchant": f"Payflows sandbox merchant (brand {p.brand_id})",
            "amount": format_amount(p.total, p.currency),
            "masked_pan": session.card.masked_pan,
            "brand": session.card.brand,
            "pareq": session.pareq,
        }

    def _sign(self, payload: str) -> str:
        return hmac.new(self._secret, payload.encode(), hashlib.sha256).hexdigest()[:32]

    def acs_decide(self, md: str, pareq: str, approve: bool) -> str:
        """The shopper clicked Approve or Fail: the PaRes that carries the decision, signed."""
        session = self.session(md)
        if not hmac.compare_digest(pareq, session.pareq):
            raise GatewayError.field("PaReq", "invalid", "PaReq does not belong to this MD.")
        payload = _b64(json.dumps({"md": md, "d": "Y" if approve else "N"}).encode())
        return f"{payload}.{self._sign(payload)}"

    def _read_pares(self, md: str, pares: str) -> bool | None:
        """The decision a PaRes carries, or ``None`` when it was not issued for this MD."""
        payload, _, signature = pares.partition(".")
        if not signature or not hmac.compare_digest(signature, self._sign(payload)):
            return None
        try:
            data = json.loads(_unb64(payload))
        except (ValueError, UnicodeDecodeError):
            return None
        if not isinstance(data, dict) or data.get("md") != md or data.get("d") not in ("Y", "N"):
            return None
        return bool(data["d"] == "Y")

    def complete(self, md: str, form_md: str | None, pares: str | None) -> Answer:
        """The merchant posts ``MD`` and ``PaRes`` to ``callback_url``: the final answer."""
        session = self.session(md)
        if form_md is not None and form_md != md:
            raise GatewayError.field("MD", "invalid", "MD does not match the callback URL.")
        if session.result is not None and session.result_status is not None:
            return Answer(session.result_status, session.result)
        if not pares:
            raise GatewayError.field("PaRes", "required", "This field is required.")
        approved = self._read_pares(md, pares)
        if approved is None:
            raise GatewayError.field("PaRes", "invalid", "PaRes does not verify.")
        p = self.core.get_purchase(session.purchase_id)
        if p.status != Status.PENDING_EXECUTE:
            raise GatewayError.field(
                "__all__", "purchase_execute_error", f"Purchase is {p.status}, not awaiting 3DS."
            )
        op, now = Op(session.op), self.core.now()
        if approved:
            self.payer.approve(p, op, session.card, session.remember_card, now)
            body: dict[str, Any] = {
                "id": p.id,
                "status": p.status,
                "transaction_id": p.transaction_id,
                "payment_method_details": wire.card_details(p),
            }
            answer = Answer(200, body)
        else:
            self.payer.decline(p, op, now, _ACS_FAILED)
            answer = s2s_error(p, _ACS_FAILED)
        session.result_status, session.result = answer.status_code, answer.body
        self.core.state.changed("sessions", md)
        return answer

    def abandon(self, session: ThreeDSSession, now: int) -> None:
        """A challenge nobody finished fails, as the issuer's ACS times it out.

        Without this a purchase would sit in ``pending_execute`` for ever: the table lets
        nothing else move it.
        """
        if session.result is not None or now < session.created_on + CHALLENGE_WINDOW:
            return
        p = self.core.state.purchases.get(session.purchase_id)
        if p is None or p.status != Status.PENDING_EXECUTE:
            return
        self.payer.decline(p, Op(session.op), session.created_on + CHALLENGE_WINDOW, _ACS_ABANDONED)
        answer = s2s_error(p, _ACS_ABANDONED)
        session.result_status, session.result = answer.status_code, answer.body
        self.core.state.changed("sessions", session.md)
