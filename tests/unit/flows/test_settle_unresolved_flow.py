"""``settle-unresolved`` fails, naming each purchase, while something stays unresolved."""

from __future__ import annotations

import logging

import pytest

import flows.settle_unresolved as module
from payflows.exactly_once import RunIncomplete
from payflows.payments import UnresolvedSummary


def _with(monkeypatch, summary: UnresolvedSummary) -> None:
    async def one_pass(older_than_seconds: float, limit: int) -> UnresolvedSummary:
        assert (older_than_seconds, limit) == (30, 500)
        return summary

    monkeypatch.setattr(module, "settle_unresolved_attempts", one_pass)
    monkeypatch.setattr(module, "get_run_logger", lambda: logging.getLogger("test.settle"))


async def test_a_purchase_still_unknown_fails_the_run_with_a_line_per_purchase(monkeypatch, caplog):
    summary = UnresolvedSummary(
        examined=3,
        settled={"succeeded": 1},
        unknown=[("cit:o-1", "pur-1")],
        left=[("refund:r-1", "pur-2")],
    )
    _with(monkeypatch, summary)
    caplog.set_level(logging.INFO, "test.settle")
    with pytest.raises(RunIncomplete, match="1 still unknown") as raised:
        await module.settle_unresolved.fn()
    assert raised.value.summary is summary
    assert "purchase pur-1 (cit:o-1)" in caplog.text
    assert "purchase pur-2 (refund:r-1)" in caplog.text


async def test_all_settled_completes(monkeypatch):
    _with(monkeypatch, UnresolvedSummary(examined=2, settled={"succeeded": 2}))
    summary = await module.settle_unresolved.fn()
    assert summary.complete
