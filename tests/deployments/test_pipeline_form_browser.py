"""A pipeline's Custom run form in the Prefect UI, in a real browser: plain text fields that may
stay empty, and a number-or-None switch for the optional numbers.

``X | None`` parameters are a "type / None" switch beside the field, and a field whose schema
default is null opens with null in it, which the form's own check refuses. The sweep's optional
text and time (``as_of``, ``worker_id``) are one text field each, open empty and send ``""``,
which the flow reads as their defaults (flows/_empty.py). Its optional numbers (``limit``,
``max_failure_rate``) keep their switch, None chosen, so the API takes ``{"limit": 25}``; a
number typed in the form goes as a JSON number.

Debian's Chromium driven headless by Playwright (the ``chromium`` fixture), against a Prefect
server of the test's own with its UI on (the session's server runs without one).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from prefect.settings import PREFECT_API_URL, temporary_settings

from apps.local_prefect import _client_pointed_at, start_prefect_server
from deployments.catalog import by_name

pytestmark = pytest.mark.prefect  # starts a Prefect server of its own


async def _runs_of(api_url: str, deployment_id: str) -> list[dict[str, Any]]:
    body = {"deployments": {"id": {"any_": [deployment_id]}}}
    async with httpx.AsyncClient() as client:
        answer = await client.post(f"{api_url}/flow_runs/filter", json=body, timeout=10)
    answer.raise_for_status()
    runs: list[dict[str, Any]] = answer.json()
    return runs


async def test_the_sweeps_custom_run_form_has_text_fields_that_may_stay_empty_and_typed_numbers(
    chromium: Any, tmp_path: Path
) -> None:
    home = tmp_path / "prefect"
    spec = by_name("preauth-sweep/hourly")

    def register(api_url: str) -> str:
        """As ``payflows serve`` does, outside the test's event loop (Prefect's clients are
        flushed synchronously when the block ends). ``temporary_settings`` too: earlier tests
        of the session leave a settings context pointing at the session's own server, which
        wins over the global settings ``_client_pointed_at`` refreshes, and the deployment went
        there (the form here then never appeared)."""
        with (
            _client_pointed_at(api_url, home),
            temporary_settings(updates={PREFECT_API_URL: api_url}),
        ):
            return str(spec.to_runner_deployment(schedules=False).apply())

    with start_prefect_server(home, port=0, ui=True) as (api_url, _process):
        deployment_id = await asyncio.to_thread(register, api_url)
        page = await chromium.new_page(viewport={"width": 1300, "height": 1600})
        # Generous waits: the Prefect UI is a large single-page app, and on a loaded machine
        # (a niced CI beside benchmarks took more than 60 s) its first render is slow. A wait
        # only costs time when the form never comes.
        page.set_default_timeout(180_000)
        await page.goto(
            f"{api_url.removesuffix('/api')}/deployments/deployment/{deployment_id}/run"
        )
        await page.get_by_text("as_of (Optional)").wait_for(timeout=300_000)

        # Nothing flagged as the form opens; a switch only for limit and max_failure_rate.
        assert await page.get_by_text("is not of type").count() == 0
        assert await page.get_by_text("date-time", exact=True).count() == 0
        assert await page.get_by_text("str", exact=True).count() == 0
        assert await page.get_by_text("None", exact=True).count() == 2
        assert await page.get_by_text("int", exact=True).count() == 1
        assert await page.get_by_text("float", exact=True).count() == 1
        # as_of, worker_id: one empty text field each.
        fields = page.locator("textarea")
        assert await fields.count() == 2
        assert [await fields.nth(i).input_value() for i in range(2)] == ["", ""]

        await fields.nth(0).fill("2026-03-01T02:00:00Z")  # as_of
        await page.get_by_text("int", exact=True).click()  # limit: a number, not None
        await page.locator("input[type=number]").first.fill("25")
        await page.get_by_role("button", name="Submit").click()
        runs: list[dict[str, Any]] = []
        for _ in range(240):  # up to two minutes for the server to store the run
            runs = await _runs_of(api_url, deployment_id)
            if runs:
                break
            await asyncio.sleep(0.5)
        assert len(runs) == 1, "the form was not accepted"
        sent = runs[0]["parameters"]
        assert sent == {
            "as_of": "2026-03-01T02:00:00Z",
            "limit": 25,
            "reconcile_all": False,
            "max_failure_rate": None,
            "concurrency": 16,
            "batch_size": 500,
            "worker_id": "",
        }
        taken = spec.load_flow().validate_parameters(sent)
        assert taken["limit"] == 25
        assert taken["as_of"] == datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
        assert taken["max_failure_rate"] is None and taken["worker_id"] is None
