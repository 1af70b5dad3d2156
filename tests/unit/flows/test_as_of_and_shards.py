"""``as_of`` without a zone is UTC in every flow; shard worker ids are never reused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from flows._models import MITChargeRequest
from flows.billing import BillingRunRequest
from flows.mit import billing_period
from flows.report import ReportRequest
from flows.sharded_billing import ShardedBillingRequest, shard_worker_ids
from flows.sweep import SweepRequest

NAIVE = "2026-01-31T23:30:00"
UTC_VALUE = datetime(2026, 1, 31, 23, 30, tzinfo=UTC)


def sharded(**kw):
    return ShardedBillingRequest(deployment="subscription-billing/nightly", **kw)


@pytest.mark.parametrize("model", [BillingRunRequest, SweepRequest, ReportRequest, sharded])
def test_a_naive_as_of_is_utc(model):
    assert model(as_of=NAIVE).as_of == UTC_VALUE
    assert model(as_of=NAIVE).as_of.utcoffset().total_seconds() == 0
    assert model(as_of="2026-02-01T01:30:00+02:00").as_of == UTC_VALUE
    assert model().as_of is None


def test_the_mit_period_of_a_naive_as_of_does_not_depend_on_the_server_zone(monkeypatch):
    import time

    monkeypatch.setenv("TZ", "Pacific/Auckland")  # UTC+13 in January
    time.tzset()
    try:
        params = MITChargeRequest(
            subscription_id="sub-1",
            as_of=NAIVE,
            amount_cents=9900,
            customer_id="c-1",
            recurring_token="tok-1",
        )
        assert params.as_of == UTC_VALUE
        assert billing_period(params) == "2026-01"
    finally:
        monkeypatch.undo()
        time.tzset()


def test_shard_worker_ids_are_unique_per_child_run():
    first, retried = shard_worker_ids("parent-1", 3), shard_worker_ids("parent-1", 3)
    assert len(set(first)) == 3
    assert not set(first) & set(retried)
    assert all(w.startswith(f"shard-{i + 1}-of-3:parent-1:") for i, w in enumerate(first))
