"""What the real platform does (CONTRACT.md, last section), as the client reads it: the token is
the purchase that saved the card, network transaction ids wherever the gateway puts them, the
refund answer as a payment object, ``GET /payment_methods/`` and an optional currency."""

from __future__ import annotations

import json

import pytest

from payflows.gateway import PaymentMethods, Purchase, PurchaseRequest, Refund
from tests.support.shared import WEBHOOK_SAMPLES

from .payloads import BRAND_ID, CLIENT_ID, PURCHASE_ID, REFUND_CHIP, REFUND_GUIDE, chip_purchase

TOKEN_ID = "29574aa0-cb2a-4f50-9493-0be4410693f8"


def _sample(prefix: str) -> Purchase:
    (path,) = WEBHOOK_SAMPLES.glob(f"{prefix}-*.json")
    return Purchase.model_validate_json(path.read_bytes())


def test_the_card_saving_purchase_is_the_token_and_its_recurring_token_is_null():
    saved = _sample("13")
    assert saved.is_recurring_token and saved.recurring_token is None
    assert saved.saved_token == TOKEN_ID


def test_a_zero_amount_preauthorisation_saves_the_card_without_force_recurring():
    body = json.loads(next(WEBHOOK_SAMPLES.glob("06-*.json")).read_bytes())
    body["is_recurring_token"] = False  # even if a gateway forgot to say so
    assert body["force_recurring"] is False
    zero = Purchase.model_validate(body)
    assert zero.saved_token == zero.id


def test_a_deleted_token_is_no_token():
    deleted = _sample("14")
    assert deleted.saved_token is None and deleted.token_deleted


def test_a_purchase_paid_with_a_token_names_it_but_is_no_token_itself():
    charged = Purchase.model_validate(
        chip_purchase(is_recurring_token=False, recurring_token=TOKEN_ID)
    )
    assert charged.recurring_token == TOKEN_ID
    assert charged.saved_token is None and not charged.token_deleted


@pytest.mark.parametrize(
    "where",
    ["transaction_data.extra", "payment_method_details.card", "purchase.payment_method_details"],
)
def test_the_network_transaction_id_is_read_wherever_the_gateway_puts_it(where):
    body = chip_purchase()
    body["transaction_data"]["extra"].pop("network_transaction_id", None)
    assert Purchase.model_validate(body).network_transaction_id is None
    if where == "transaction_data.extra":
        body["transaction_data"]["extra"]["network_transaction_id"] = "NT-1"
    elif where == "payment_method_details.card":
        body["payment_method_details"] = {"card": {"network_transaction_id": "NT-1"}}
    else:
        body["purchase"]["payment_method_details"] = {
            "card": {"network_transaction_id": "NT-1", "previous_network_transaction_id": "OLD"}
        }
    assert Purchase.model_validate(body).network_transaction_id == "NT-1"


def test_the_id_we_quoted_on_an_mit_is_not_taken_for_this_purchases_own():
    body = chip_purchase()
    body["transaction_data"]["extra"].pop("network_transaction_id", None)
    body["purchase"]["payment_method_details"] = {
        "card": {"is_recurring": True, "previous_network_transaction_id": "OLD"}
    }
    assert Purchase.model_validate(body).network_transaction_id is None


async def test_the_refund_answer_is_read_as_the_payment_object_or_the_guides_shape(
    gateway, recorder
):
    bare = {k: v for k, v in REFUND_CHIP.items() if k != "related_to"}
    recorder.reply(200, REFUND_CHIP).reply(200, bare).reply(200, REFUND_GUIDE)
    chip = await gateway.refund(PURCHASE_ID, 15000)
    no_related = await gateway.refund(PURCHASE_ID, 15000)
    guide = await gateway.refund(PURCHASE_ID, 15000)
    assert (chip.purchase_id, chip.refund_id, chip.done) == (PURCHASE_ID, REFUND_CHIP["id"], True)
    # A payment object that does not say which purchase: the one we refunded, its id the refund's.
    assert (no_related.purchase_id, no_related.refund_id) == (PURCHASE_ID, REFUND_CHIP["id"])
    assert (guide.refund_id, guide.done) == ("ref_xyz789abc123", True)


def test_a_cancelled_refund_is_neither_done_nor_pending():
    refund = Refund.model_validate({**REFUND_CHIP, "status": "cancelled"})
    assert refund.cancelled and not refund.done


async def test_list_payment_methods_asks_for_the_brand_and_currency(gateway, recorder):
    recorder.reply(
        200,
        {
            "available_payment_methods": ["visa", "mastercard", "fpx"],
            "card_methods": ["visa", "mastercard"],
            "by_country": {"any": ["card"]},
            "names": {"visa": "Visa"},
            "logos": {"visa": "/static/visa.svg"},
            "unknown_future_key": 1,
        },
    )
    methods = await gateway.list_payment_methods("ZAR")
    assert isinstance(methods, PaymentMethods)
    assert methods.card_methods == ["visa", "mastercard"]
    assert recorder.last.url.path.endswith("/payment_methods/")
    assert dict(recorder.last.url.params) == {"brand_id": BRAND_ID, "currency": "ZAR"}


def test_currency_may_be_left_to_the_brands_default():
    request = PurchaseRequest.single("Plan", 100, None, client_id=CLIENT_ID)
    assert "currency" not in request.to_body()["purchase"]
    assert PurchaseRequest.single("Plan", 100, "zar", client_id=CLIENT_ID).currency == "ZAR"
