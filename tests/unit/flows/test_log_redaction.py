"""A card number in the wrong form field never reaches a log line, not even Prefect's own."""

from __future__ import annotations

import logging

import pytest

import flows
from tasks.redaction import CardNumberRedaction

PAN = "4111 1111 1111 1111"
WHEN = "2026-12-02T16:10:55+00:00"  # an ISO time, as payflows writes them: kept


def test_prefects_parameter_validation_log_hides_the_card_number(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    form = {
        "order_id": "A1",
        "amount": "1.00",
        "email": "a@b.co",
        "full_name": PAN,
        "sandbox_card": "visa_approved",
    }

    with pytest.raises(Exception) as refused:
        flows.customer_initiated_payment.validate_parameters(form)

    assert "Parameter validation failed" in caplog.text  # Prefect did log it...
    assert PAN not in caplog.text and "4111111111111111" not in caplog.text  # ...without it
    assert PAN not in str(refused.value)


def test_the_filter_rewrites_formatted_messages_and_keeps_dates_and_ids() -> None:
    record = logging.LogRecord("prefect.flows", logging.ERROR, __file__, 1, "got %s", (PAN,), None)
    kept = logging.LogRecord(
        "prefect.flows", logging.INFO, __file__, 1, "order %s at %s", ("A-17", WHEN), None
    )

    assert CardNumberRedaction().filter(record) and CardNumberRedaction().filter(kept)

    assert PAN not in record.getMessage() and record.getMessage().startswith("got ")
    assert kept.getMessage() == f"order A-17 at {WHEN}"
