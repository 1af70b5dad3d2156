"""A refused charge is reported as "nothing moved" only when the read-back agrees."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from payflows.domain.states import Status
from payflows.exactly_once import charge_purchase
from payflows.gateway import RequestRejected
from payflows.ledger import AttemptState

NOW = datetime(2026, 1, 31, tzinfo=UTC)


def purchase(status: Status):
    decline = SimpleNamespace(code="insufficient_funds", network_code="51", advice_code=None)
    return SimpleNamespace(
        status=status,
        card_brand="visa",
        masked_pan="411111******1111",
        last_error=decline if status is Status.ERROR else None,
        payment=None,
    )


async def refused_then_read(status: Status):
    async def charge():
        raise RequestRejected("purchase is not in a chargeable state", status_code=400)

    async def read():
        return purchase(status)

    return await charge_purchase("sub:1:2026-01", charge=charge, read=read, now=lambda: NOW)


@pytest.mark.parametrize(
    ("status", "state"),
    [(Status.PENDING_CHARGE, AttemptState.UNKNOWN), (Status.ERROR, AttemptState.DECLINED)],
)
async def test_a_refusal_with_money_possibly_moving_reports_the_real_state(status, state):
    charged = await refused_then_read(status)
    assert charged.outcome.state is state
    assert charged.refused is None  # not "nothing moved"


async def test_a_refusal_on_an_unpaid_purchase_is_passed_on():
    charged = await refused_then_read(Status.CREATED)
    assert charged.outcome.state is AttemptState.FAILED
    assert isinstance(charged.refused, RequestRejected)
