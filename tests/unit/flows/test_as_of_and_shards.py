"""``as_of`` without a zone is UTC in every flow; shard worker ids are never reused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from flows._models import MITChargeRequest
from flows._pipeline import resolve_as_of
from flows.billing import subscription_billing
from flows.mit import billing_period
from flows.report import settlement_report
from flows.sharded_billing import billing_shard, shard_worker_ids, sharded_billing
from flows.sweep import preauth_sweep

NAIVE = "2026-01-31T23:30:00"
UTC_VALUE = datetime(2026, 1, 31, 23, 30, tzinfo=UTC)


FLOWS = [subscription_billing, billing_shard, preauth_sweep, settlement_report]


def as_of_of(flow, **given):
    """``as_of`` as the flow receives it once Prefect has validated its parameters."""
    if flow is sharded_billing:
        given["deployment"] = "subscription-billing/shard"
    return flow.validate_parameters(given)["as_of"]


@pytest.mark.parametrize("flow", [*FLOWS, sharded_billing], ids=lambda f: f.name)
def test_a_naive_as_of_is_utc(flow):
    assert as_of_of(flow, as_of=NAIVE) == UTC_VALUE
    assert as_of_of(flow, as_of=NAIVE).utcoffset().total_seconds() == 0
    assert as_of_of(flow, as_of="2026-02-01T01:30:00+02:00") == UTC_VALUE
    assert as_of_of(flow) is None


def test_a_run_reads_an_empty_as_of_as_now_in_utc():
    before = datetime.now(UTC)
    now = resolve_as_of(None)
    assert now.tzinfo is UTC and before <= now <= datetime.now(UTC)
    assert resolve_as_of(datetime(2026, 1, 31, 23, 30)) == UTC_VALUE


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
