"""Gateway answers in the shapes the guide and CHIP Collect use, and a recording transport."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

BASE_URL = "https://gate.test/api/v1/"
API_KEY = "std-key-5f1c9e0a7b"
S2S_KEY = "s2s-key-83d2a64c11"
BRAND_ID = "7a1e3c1e-5b1d-4c8a-9d8e-0d2b6f1b4a01"
PAN = "4111111111111111"
CVC = "123"
PURCHASE_ID = "a1b2c3d4-e5f6-7890-abcd-ef1234567890"
CLIENT_ID = "d9f8a7b6-c5e4-3d2a-1b0c-9e8d7f6a5b4c"

Reply = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


class Recorder:
    """A MockTransport handler: answers from a queue, remembers every request it saw."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self._replies: list[Reply] = []

    def reply(self, status: int = 200, body: Any = None, **kwargs: Any) -> Recorder:
        if body is not None:
            kwargs["json"] = body
        self._replies.append(httpx.Response(status, **kwargs))
        return self

    def fail(self, exc: Exception) -> Recorder:
        self._replies.append(exc)
        return self

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if not self._replies:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        reply = self._replies.pop(0)
        if isinstance(reply, Exception):
            # httpx's own transports attach the request; so do we, to prove it gets dropped.
            if isinstance(reply, httpx.RequestError):
                reply.request = request
            raise reply
        if callable(reply):
            return reply(request)
        return reply

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]

    def last_json(self) -> Any:
        return json.loads(self.last.content) if self.last.content else None


def chip_purchase(**overrides: Any) -> dict[str, Any]:
    """A purchase as CHIP (and the sandbox) answers it."""
    body: dict[str, Any] = {
        "id": PURCHASE_ID,
        "type": "purchase",
        "status": "paid",
        "status_history": [
            {"status": "created", "timestamp": 1768400000},
            {"status": "pending_execute", "timestamp": 1768400005},
            {"status": "paid", "timestamp": 1768400006},
        ],
        "reference": "SUB-FEB-2026",
        "client_id": CLIENT_ID,
        "brand_id": BRAND_ID,
        "client": {"email": "customer@example.com", "full_name": "Customer Name"},
        "purchase": {
            "total": 29900,
            "currency": "ZAR",
            "language": "en",
            "products": [{"name": "Premium Subscription", "price": 29900, "quantity": "1.0000"}],
            "payment_method_details": {},
        },
        "payment": {
            "amount": 29900,
            "currency": "ZAR",
            "net_amount": 29003,
            "fee_amount": 897,
            "paid_on": 1768400006,
            "payment_type": "purchase",
        },
        "transaction_data": {
            "flow": "s2s",
            "payment_method": "visa",
            "extra": {
                "card_brand": "visa",
                "masked_pan": "411111******1111",
                "expiry_month": 12,
                "expiry_year": 2030,
                "cardholder_name": "John Smith",
                "network_transaction_id": "546464487987132",
            },
            "attempts": [
                {
                    "type": "execute",
                    "successful": True,
                    "error": None,
                    "processing_time": 1768400006,
                    "fee_amount": 897,
                }
            ],
        },
        "direct_post_url": None,
        "checkout_url": f"https://gate.test/p/{PURCHASE_ID}/",
        "skip_capture": False,
        "force_recurring": True,
        "is_recurring_token": True,
        "recurring_token": None,  # the platform: the card-saving purchase IS the token
        "refundable_amount": 29900,
        "is_test": True,
        "created_on": 1768400000,
        "updated_on": 1768400006,
        "due": 1768403600,
    }
    body.update(overrides)
    return body


def declined_purchase(code: str = "insufficient_funds", network_code: str = "51") -> dict:
    attempt = {
        "type": "charge",
        "successful": False,
        "error": {"code": code, "message": "Declined by issuer", "network_code": network_code},
    }
    older = {"type": "execute", "successful": False, "error": {"code": "do_not_honour"}}
    return chip_purchase(
        status="error",
        payment=None,
        transaction_data={"attempts": [attempt, older], "extra": {}},
    )


CLIENT = {
    "id": CLIENT_ID,
    "email": "customer@example.com",
    "phone": "+27123456789",
    "full_name": "Customer Name",
    "street_address": "1 Long Street",
    "city": "Cape Town",
    "state": "Western Cape",
    "zip_code": "8001",
    "country": "South Africa",
    "created_on": 1768400000,
    "updated_on": 1768400000,
}

WEBHOOK = {
    "id": "wh_1",
    "title": "ledger",
    "all_events": False,
    "events": ["purchase.paid"],
    "callback": "https://merchant.test/hooks/precium/",
    "public_key": "-----BEGIN PUBLIC KEY-----\nMIIB...\n-----END PUBLIC KEY-----\n",
    "created_on": 1768400000,
    "updated_on": 1768400000,
}

REFUND_GUIDE = {
    "id": PURCHASE_ID,
    "status": "refunded",
    "refund_amount": 15000,
    "refunded_on": "2026-01-14T15:30:00Z",
    "refund_id": "ref_xyz789abc123",
}

REFUND_CHIP = {
    "id": "e8106d24-f47e-4fcd-badf-296958410880",
    "type": "payment",
    "status": "success",
    "payment": {
        "amount": 15000,
        "currency": "ZAR",
        "paid_on": 1768400000,
        "payment_type": "refund",
        "is_outgoing": True,
    },
    "related_to": {"id": PURCHASE_ID, "type": "purchase"},
    "created_on": 1768400000,
}

#: docs/gateway-wire.md: the guide's fields plus CHIP's payment object, in one answer.
REFUND_MERGED = {
    **REFUND_GUIDE,
    "refunded_on": 1768400000,
    "type": "payment",
    "payment": {"amount": 15000, "currency": "ZAR", "payment_type": "refund", "is_outgoing": True},
    "related_to": {"id": PURCHASE_ID, "type": "purchase"},
}

S2S_EXECUTED = {
    "status": "executed",
    "id": PURCHASE_ID,
    "purchase_status": "paid",
    "transaction_id": "txn_9876543210",
    "payment_method_details": {
        "card": {
            "brand": "visa",
            "last_4": "1111",
            "exp_month": 12,
            "exp_year": 2030,
            "token": PURCHASE_ID,
            "network_transaction_id": "546464487987132",
        }
    },
}

S2S_3DS = {
    "status": "3DS_required",
    "Method": "POST",
    "PaReq": "eJxVUt1ugjAUvvcpSO",
    "MD": "md_abc123",
    "md": "md_abc123",
    "URL": "https://gate.test/acs/md_abc123/",
    "callback_url": "https://gate.test/3ds/callback/md_abc123/",
}

#: The guide's own example of the 3DS answer: no status, ``md`` in lower case.
S2S_3DS_GUIDE = {
    "md": "abc123xyz789",
    "PaReq": "eJxVUt1ugjAUvvcpSO",
    "URL": "https://acs.cardnetwork.com/3ds/challenge",
    "callback_url": "https://gate.reviopay.com/3ds/callback/a1b2c3d4/",
}

THREE_DS_SUCCESS = {
    "id": PURCHASE_ID,
    "status": "paid",
    "transaction_id": "txn_9876543210",
    "payment_method_details": {
        "card": {
            "brand": "visa",
            "last_4": "1091",
            "exp_month": 12,
            "exp_year": 2028,
            "token": "tok_abc123def456",
            "network_transaction_id": "MCC123456789012345",
        }
    },
}


def s2s_decline(code: str, network_code: str | None = None, advice_code: str | None = None) -> dict:
    error: dict[str, Any] = {"code": code, "message": f"Card declined: {code}"}
    if network_code:
        error["network_code"] = network_code
    if advice_code:
        error["advice_code"] = advice_code
    return {"status": "error", "error": error, "code": code, "message": error["message"]}


def charge_decline(code: str, network_code: str | None = None, advice_code: str | None = None):
    entry: dict[str, Any] = {"message": f"Declined: {code}", "code": code}
    if network_code:
        entry["network_code"] = network_code
    if advice_code:
        entry["advice_code"] = advice_code
    return {"__all__": [{"message": "Charge failed", "code": "purchase_charge_error"}, entry]}
