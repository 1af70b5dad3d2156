"""The answers to an S2S card submission and to its 3-D Secure callback."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from pydantic import AliasChoices, Field, model_validator

from payflows.domain.states import Status
from payflows.gateway._models.wire import ReadModel

__all__ = ["CardDetails", "CardSubmission", "SubmissionStatus", "ThreeDSChallenge", "ThreeDSResult"]


class CardDetails(ReadModel):
    """``payment_method_details.card`` in an S2S answer: what may be kept about a card."""

    brand: str | None = None
    last_4: str | None = None
    exp_month: int | None = None
    exp_year: int | None = None
    #: The recurring token, when the card was stored.
    token: str | None = None
    network_transaction_id: str | None = None


class ThreeDSChallenge(ReadModel):
    """Where to send the shopper's browser: POST ``MD``, ``PaReq`` and a ``TermUrl`` to ``url``.

    A 3DS1 PaReq can carry the PAN, so it stays out of ``repr``.
    """

    method: str = Field(default="POST", validation_alias=AliasChoices("Method", "method"))
    pareq: str = Field(validation_alias=AliasChoices("PaReq", "pareq", "paReq"), repr=False)
    md: str = Field(validation_alias=AliasChoices("MD", "md"))
    url: str = Field(validation_alias=AliasChoices("URL", "url"))
    callback_url: str | None = None


class SubmissionStatus(StrEnum):
    EXECUTED = "executed"  # paid
    AUTHORIZED = "authorized"  # a hold, or a zero-amount preauthorisation
    PENDING = "pending"  # wait for the webhook
    THREE_DS_REQUIRED = "3DS_required"


class CardSubmission(ReadModel):
    """The answer to ``POST {direct_post_url}?s2s=true`` (a decline is raised instead)."""

    status: SubmissionStatus
    purchase_id: str | None = None
    purchase_status: Status | None = None
    transaction_id: str | None = None
    card: CardDetails | None = None
    three_ds: ThreeDSChallenge | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_wire(cls, data: Any) -> Any:
        if not isinstance(data, Mapping) or "three_ds" in data:
            return data
        out = dict(data)
        if "purchase_id" not in out and "id" in out:
            out["purchase_id"] = out["id"]
        details = out.get("payment_method_details")
        if isinstance(details, Mapping) and "card" not in out:
            out["card"] = details.get("card")
        if any(k in data for k in ("PaReq", "pareq", "paReq")):
            # The guide's example 3DS answer has no "status" at all.
            out["three_ds"] = dict(data)
            out.setdefault("status", SubmissionStatus.THREE_DS_REQUIRED.value)
        return out

    @property
    def requires_3ds(self) -> bool:
        return self.status is SubmissionStatus.THREE_DS_REQUIRED

    @property
    def approved(self) -> bool:
        return self.status in {SubmissionStatus.EXECUTED, SubmissionStatus.AUTHORIZED}


class ThreeDSResult(ReadModel):
    """The final answer of the 3DS callback (the guide's "success response")."""

    purchase_id: str = Field(validation_alias=AliasChoices("id", "purchase_id"))
    status: Status
    transaction_id: str | None = None
    card: CardDetails | None = None

    @model_validator(mode="before")
    @classmethod
    def _card(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "card" not in data:
            details = data.get("payment_method_details")
            if isinstance(details, Mapping):
                return {**data, "card": details.get("card")}
        return data
