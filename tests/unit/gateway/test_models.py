"""The models read the guide's and CHIP's shapes, and write the guide's request bodies."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pydantic
import pytest

from payflows.domain import DeclineInfo, Status
from payflows.gateway import (
    CardFlags,
    CardSubmission,
    ClientDetails,
    Page,
    Product,
    Purchase,
    PurchaseRequest,
    Refund,
    ThreeDSChallenge,
    ThreeDSResult,
    Webhook,
)
from tests.support.shared import WEBHOOK_SAMPLES

from .payloads import (
    CLIENT_ID,
    PURCHASE_ID,
    REFUND_CHIP,
    REFUND_GUIDE,
    REFUND_MERGED,
    S2S_3DS,
    S2S_3DS_GUIDE,
    THREE_DS_SUCCESS,
    WEBHOOK,
    chip_purchase,
    declined_purchase,
)

SAMPLES = WEBHOOK_SAMPLES

# -- Purchase ----------------------------------------------------------------------------------


def test_a_chip_purchase_reads_with_its_conveniences():
    p = Purchase.model_validate(chip_purchase())
    assert (p.id, p.status, p.total, p.currency) == (PURCHASE_ID, Status.PAID, 29900, "ZAR")
    assert (p.card_brand, p.masked_pan) == ("visa", "411111******1111")
    assert p.network_transaction_id == "546464487987132"
    assert p.paid_on == datetime.fromtimestamp(1768400006, UTC)
    assert (p.fee_amount, p.net_amount, p.refundable_amount) == (897, 29003, 29900)
    assert p.is_recurring_token and p.saved_token == PURCHASE_ID and p.recurring_token is None
    assert [h.status for h in p.status_history] == [
        Status.CREATED,
        Status.PENDING_EXECUTE,
        Status.PAID,
    ]
    assert p.purchase is not None and p.purchase.products[0].quantity == 1
    assert p.last_error is None and p.decline is None
    assert p.created_on is not None and p.created_on.tzinfo is UTC


def test_the_guides_sparse_cancel_answer_reads():
    p = Purchase.model_validate(
        {"id": PURCHASE_ID, "status": "cancelled", "cancelled_on": "2026-01-13T14:30:00Z"}
    )
    assert p.status is Status.CANCELLED
    assert p.cancelled_on == datetime(2026, 1, 13, 14, 30, tzinfo=UTC)
    assert (p.total, p.currency, p.card_brand, p.paid_on, p.last_error) == (None,) * 5


@pytest.mark.parametrize(
    "sample", sorted(SAMPLES.glob("*Purchase-[!r]*.json")), ids=lambda p: p.name
)
def test_chips_real_purchase_objects_read(sample):
    p = Purchase.model_validate_json(sample.read_bytes())
    assert p.currency == "MYR"
    assert p.total is not None


def test_nulls_from_the_gateway_mean_defaults():
    p = Purchase.model_validate(
        chip_purchase(
            transaction_data=None,
            skip_capture=None,
            is_recurring_token=None,
            refundable_amount=None,
            status_history=None,
        )
    )
    assert p.transaction_data.attempts == []
    assert (p.skip_capture, p.is_recurring_token, p.refundable_amount) == (False, False, 0)


def test_the_newest_failed_attempt_is_the_decline():
    p = Purchase.model_validate(declined_purchase("authorization_failed", "R1"))
    assert p.last_error == DeclineInfo("authorization_failed", "Declined by issuer", "R1", None)
    assert p.decline == p.last_error
    assert p.decline is not None and p.decline.hard


def test_unknown_keys_are_ignored_and_unknown_statuses_are_refused():
    assert Purchase.model_validate(chip_purchase(brand_new_field={"x": 1})).id == PURCHASE_ID
    with pytest.raises(pydantic.ValidationError):
        Purchase.model_validate(chip_purchase(status="teleported"))


@pytest.mark.parametrize(
    "value",
    [
        1768400000,
        1768400000.0,
        "1768400000",
        "2026-01-14T14:13:20Z",
        "2026-01-14T14:13:20+00:00",
        "2026-01-14T16:13:20+02:00",
        "2026-01-14T14:13:20",
    ],
)
def test_timestamps_are_aware_utc_whatever_their_shape(value):
    p = Purchase.model_validate({"id": "p", "status": "paid", "updated_on": value})
    assert p.updated_on == datetime(2026, 1, 14, 14, 13, 20, tzinfo=UTC)
    assert p.updated_on is not None and p.updated_on.utcoffset() is not None


@pytest.mark.parametrize("value", [True, "yesterday", 10**20])
def test_nonsense_timestamps_are_refused(value):
    with pytest.raises(pydantic.ValidationError):
        Purchase.model_validate({"id": "p", "status": "paid", "updated_on": value})


def test_the_echoed_payment_method_details_stay_out_of_the_repr():
    details = {"card": {"network_token": "4895370012341234", "network_token_cryptogram": "AgAAAA="}}
    p = Purchase.model_validate(
        chip_purchase(purchase={"total": 1, "currency": "ZAR", "payment_method_details": details})
    )
    assert "4895370012341234" not in repr(p) and "AgAAAA=" not in repr(p)


# -- PurchaseRequest ---------------------------------------------------------------------------


def test_the_mit_request_is_the_guides_body():
    request = PurchaseRequest(
        client_id="{{client_id}}",
        brand_id="{{brand_id}}",
        currency="ZAR",
        products=[Product(name="Monthly Subscription - February 2026", price=29900)],
        card=CardFlags(
            is_recurring=True,
            previous_network_transaction_id="546464487987132",
            original_amount_cents=10000,
        ),
        payment_method_whitelist=["visa", "mastercard", "maestro"],
        reference="SUB-FEB-2026",
        success_redirect="https://yoursite.com/success",
        failure_redirect="https://yoursite.com/failure",
    )
    guide = {
        "client_id": "{{client_id}}",
        "payment_method_whitelist": ["visa", "mastercard", "maestro"],
        "purchase": {
            "currency": "ZAR",
            "language": "en",
            "products": [{"name": "Monthly Subscription - February 2026", "price": 29900}],
            "payment_method_details": {
                "card": {
                    "is_recurring": True,
                    "previous_network_transaction_id": "546464487987132",
                    "original_amount_cents": "10000",
                }
            },
        },
        "brand_id": "{{brand_id}}",
        "reference": "SUB-FEB-2026",
        "send_receipt": False,
        "force_recurring": False,
        "success_redirect": "https://yoursite.com/success",
        "failure_redirect": "https://yoursite.com/failure",
    }
    body = request.to_body()
    body["purchase"]["products"][0].pop("quantity")  # we say 1 explicitly; the guide leaves it out
    assert body.pop("skip_capture") is False
    assert body == guide
    json.dumps(body)  # JSON-ready as is


def test_external_3ds_and_network_token_flags_use_the_guides_names():
    flags = CardFlags(
        is_external_3DS=True,
        authentication_transaction_id="GAux5DosxbhI35RL8nc0",
        cavv="AAABBBCCCdddEEEfff111222333=",
        xid="xidTestValue",
        eci_raw="05",
    )
    assert flags.to_body() == {
        "is_external_3DS": True,
        "authentication_transaction_id": "GAux5DosxbhI35RL8nc0",
        "cavv": "AAABBBCCCdddEEEfff111222333=",
        "xid": "xidTestValue",
        "eci_raw": "05",
    }
    token = CardFlags(
        network_token="4895370012341234",
        network_token_cryptogram="AgAAAAAABk4DWZ4C28yUQAAAAAA=",
        token_requestor_id="50110030273",
        is_recurring=True,
    )
    for text in (
        repr(token),
        str(token),
        repr(PurchaseRequest.single("x", 1, "ZAR", client_id="c", card=token)),
    ):
        assert "4895370012341234" not in text
        assert "AgAAAAAABk4DWZ4C28yUQAAAAAA=" not in text
    assert "AAABBBCCC" not in repr(flags)
    assert token.to_body()["network_token"] == "4895370012341234"


def test_the_zero_auth_and_preauth_options_are_written():
    body = PurchaseRequest(
        client=ClientDetails(email="customer@example.com"),
        currency="zar",
        products=[Product(name="Card Validation", price=0)],
        skip_capture=True,
        force_recurring=True,
        total_override=0,
        success_callback="https://merchant.test/cb/",
        cancel_redirect="https://merchant.test/cancel/",
    ).to_body()
    assert body["client"] == {"email": "customer@example.com"}
    assert "client_id" not in body and "brand_id" not in body
    assert body["purchase"]["currency"] == "ZAR"
    assert body["purchase"]["total_override"] == 0
    assert (body["skip_capture"], body["force_recurring"]) == (True, True)
    assert body["success_callback"] == "https://merchant.test/cb/"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"client_id": CLIENT_ID, "currency": "ZAR", "products": []},
        {"currency": "ZAR", "products": [{"name": "x", "price": 1}]},
        {"client_id": CLIENT_ID, "currency": "RANDS", "products": [{"name": "x", "price": 1}]},
        {"client_id": CLIENT_ID, "currency": "ZAR", "products": [{"name": "x", "price": 2.5}]},
        {"client_id": CLIENT_ID, "currency": "ZAR", "products": [{"name": "x", "price": True}]},
        {
            "client_id": CLIENT_ID,
            "currency": "ZAR",
            "products": [{"name": "x", "price": 1}],
            "reference": "r" * 129,
        },
        {
            "client_id": CLIENT_ID,
            "currency": "ZAR",
            "products": [{"name": "x", "price": 1}],
            "skip_captur": True,
        },
    ],
)
def test_bad_requests_fail_here_not_at_the_gateway(kwargs):
    with pytest.raises(pydantic.ValidationError):
        PurchaseRequest(**kwargs)


def test_card_flags_refuse_unknown_flags():
    with pytest.raises(pydantic.ValidationError):
        CardFlags(is_recuring=True)


def test_fractional_quantities_are_written_as_strings():
    assert (
        Product(name="kg", price=100, quantity="1.5").model_dump(mode="json")["quantity"] == "1.5"
    )


# -- refunds, S2S, 3DS, webhooks, pages --------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "refund_id", "status"),
    [
        (REFUND_GUIDE, "ref_xyz789abc123", "refunded"),
        (REFUND_CHIP, REFUND_CHIP["id"], "success"),
        (REFUND_MERGED, "ref_xyz789abc123", "refunded"),
    ],
    ids=["guide", "chip", "guide+chip"],
)
def test_a_refund_reads_in_any_shape(body, refund_id, status):
    r = Refund.model_validate(body)
    assert (r.purchase_id, r.refund_id, r.amount, r.status) == (
        PURCHASE_ID,
        refund_id,
        15000,
        status,
    )
    assert r.refunded_on is not None and r.refunded_on.tzinfo is UTC


def test_chips_refund_payment_sample_reads_as_a_refund():
    r = Refund.model_validate_json((SAMPLES / "12-event-Purchase-refunded.json").read_bytes())
    assert r.purchase_id == "b6cd91ee-3969-49e1-87e1-0d2dbc277294"
    assert r.refund_id == "e8106d24-f47e-4fcd-badf-296958410880"
    assert (r.amount, r.currency) == (100, "MYR")


def test_a_3ds_challenge_accepts_both_spellings_and_hides_the_pareq():
    wire = CardSubmission.model_validate(S2S_3DS)
    guide = CardSubmission.model_validate(S2S_3DS_GUIDE)
    assert wire.three_ds is not None and guide.three_ds is not None
    assert (wire.three_ds.md, guide.three_ds.md) == ("md_abc123", "abc123xyz789")
    assert guide.requires_3ds and not guide.approved
    assert "eJxVUt1ugjAUvvcpSO" not in repr(wire)
    assert ThreeDSChallenge.model_validate({"MD": "m", "PaReq": "p", "URL": "u"}).method == "POST"


def test_an_unknown_submission_status_is_refused():
    with pytest.raises(pydantic.ValidationError):
        CardSubmission.model_validate({"status": "maybe"})


def test_the_guides_3ds_success_response_reads():
    r = ThreeDSResult.model_validate(THREE_DS_SUCCESS)
    assert (r.purchase_id, r.status, r.transaction_id) == (
        PURCHASE_ID,
        Status.PAID,
        "txn_9876543210",
    )
    assert r.card is not None and r.card.network_transaction_id == "MCC123456789012345"


def test_webhooks_and_pages_read():
    page = Page[Webhook].model_validate({"results": [WEBHOOK], "next": None, "previous": None})
    assert page.results[0].events == ["purchase.paid"]
    assert Page[Webhook].model_validate([WEBHOOK]).results[0].id == "wh_1"
    assert Page[Webhook].model_validate({"results": None}).results == []
