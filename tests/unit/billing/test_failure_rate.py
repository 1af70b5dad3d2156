"""PAYFLOWS_MAX_FAILURE_RATE's share: one definition for billing and the sweep."""

from __future__ import annotations

from datetime import UTC, datetime

from payflows.billing import BillingSummary
from payflows.exactly_once.verdict import failure_rate
from payflows.sweep import SweepSummary

AS_OF = datetime(2026, 1, 31, tzinfo=UTC)


def test_unknown_counts_as_a_failure_in_both():
    bill = BillingSummary(as_of=AS_OF, worker_id="w", succeeded=2, declined=1, unknown=1)
    assert bill.failure_rate == failure_rate(2, 4) == 0.5
    sweep = SweepSummary(as_of=AS_OF, worker_id="w", selected=4, failed=1, unknown=1)
    assert sweep.failure_rate == 0.5
    assert failure_rate(0, 0) == 0.0
    assert "50% declined or refused, above the 40% threshold" in (bill.problem(0.4) or "")
