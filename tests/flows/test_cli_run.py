"""``payflows run ...`` against the sandbox: the scenario flows from the command line."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from apps.cli import app
from tests.flows.support import Ledger


@pytest.fixture
def run(flow_env: Callable[[str], None], ledger: Ledger) -> Callable[..., Result]:
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None) -> Result:
        return runner.invoke(app, ["run", *args], input=input)

    return invoke


def as_json(result: Result) -> dict[str, Any]:
    assert result.exit_code == 0, result.output
    return json.loads(result.output[result.output.index("{") :])  # type: ignore[no-any-return]


def test_cit_with_a_sandbox_card_and_auto_3ds(run: Callable[..., Result], key: str) -> None:
    result = run(
        "cit", "--order", key, "--amount", "299.00", "--email", "a@b.test",
        "--sandbox-card", "visa_3ds_challenge", "--auto-3ds", "approve",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert "400000******0002" in result.output and "R 299.00" in result.output
    assert "4000000000000002" not in result.output


def test_preauth_partial_capture_and_refund_as_json(run: Callable[..., Result], key: str) -> None:
    held = as_json(
        run("preauth", "--booking", key, "--amount", "500", "--email", "a@b.test",
            "--sandbox-card", "mastercard_approved", "--json")
    )  # fmt: skip
    assert held["state"] == "succeeded" and held["amount_cents"] == 50_000
    assert held["hold_expires_at"]

    captured = as_json(
        run("capture", "--purchase", held["purchase_id"], "--amount", "350.00", "--json")
    )
    refunded = as_json(
        run("refund", "--purchase", held["purchase_id"], "--amount", "150", "--ref", "R1", "--json")
    )

    assert captured["purchase_status"] == "paid" and captured["amount_cents"] == 35_000
    assert refunded["state"] == "succeeded" and refunded["amount_cents"] == 15_000


def test_card_prompt_takes_the_card_hidden(run: Callable[..., Result], key: str) -> None:
    result = run(
        "non-3ds", "--order", key, "--amount", "12.50", "--email", "a@b.test", "--card-prompt",
        input="5100 0000 0000 0008\n11/31\n321\nThandi Nkosi\n",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert "510000******0008" in result.output
    assert "5100 0000 0000 0008" not in result.output and "321" not in result.output


def test_a_bad_card_at_the_prompt_is_refused_without_echoing_it(
    run: Callable[..., Result], key: str
) -> None:
    result = run(
        "cit", "--order", key, "--amount", "1", "--email", "a@b.test", "--card-prompt",
        input="4111 1111 11\n11/31\n321\nThandi\n",
    )  # fmt: skip

    assert result.exit_code == 2 and "card number must be 12 to 19 digits" in result.output
    assert "4111 1111 11" not in result.output


def test_a_large_amount_in_a_currency_without_decimals_is_charged_whole(
    run: Callable[..., Result], key: str
) -> None:
    """25 billion dong: 11 digits, the most a form takes (12 would be a card number's length)."""
    paid = as_json(
        run("non-3ds", "--order", key, "--amount", "25000000000", "--currency", "VND",
            "--email", "a@b.test", "--sandbox-card", "visa_approved", "--json")
    )  # fmt: skip
    assert paid["state"] == "succeeded" and paid["amount_cents"] == 25_000_000_000
    assert paid["currency"] == "VND"


def test_a_decline_exits_1(run: Callable[..., Result], key: str) -> None:
    result = run(
        "cit", "--order", key, "--amount", "10", "--email", "a@b.test",
        "--sandbox-card", "visa_insufficient_funds",
    )  # fmt: skip

    assert result.exit_code == 1 and "declined insufficient_funds" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--amount", "1.234"], "more decimals than ZAR allows"),
        (["--amount", "abc"], "not an amount"),
        (["--amount", "1000000000000000"], "too large: at most 9 digits before the point in ZAR"),
        (["--amount", "1 500"], "no sign, no commas, no spaces"),
        (["--amount", "999999999.999"], "more decimals than ZAR allows"),  # 12 digits, not large
        (["--amount", "000000000001.00"], "write it without leading zeros"),
        (
            ["--amount", "1000000000", "--currency", "IDR"],
            "at most 9 digits before the point in IDR",
        ),
        (["--amount", "1,500", "--currency", "BHD"], "no sign, no commas"),
        (["--amount", "378,282,246,310,005"], "no sign, no commas"),
        (["--amount", "0"], "more than zero"),
        (["--amount", "1", "--sandbox-card", "nope"], "sandbox_card: must be one of"),
        (
            ["--amount", "1", "--auto-3ds", "maybe"],
            "auto_3ds: must be one of approve, fail",
        ),
    ],
)
def test_bad_input_is_refused_before_anything_runs(
    run: Callable[..., Result], key: str, args: list[str], message: str, ledger: Ledger
) -> None:
    if "--sandbox-card" not in args:
        args = [*args, "--sandbox-card", "visa_approved"]
    before = ledger.fingerprint()

    result = run("cit", "--order", key, "--email", "a@b.test", *args)

    assert result.exit_code == 2 and message in result.output
    assert ledger.fingerprint() == before


def test_capture_above_the_hold_exits_2(run: Callable[..., Result], key: str) -> None:
    held = as_json(
        run("preauth", "--booking", key, "--amount", "100", "--email", "a@b.test",
            "--sandbox-card", "visa_approved", "--json")
    )  # fmt: skip

    result = run("capture", "--purchase", held["purchase_id"], "--amount", "100.01")

    assert result.exit_code == 2 and "refused, nothing was charged" in result.output


async def test_a_cli_run_carries_its_scenario_tags(run: Callable[..., Result], key: str) -> None:
    """Automations match runs by tag: a scenario run from the CLI carries the deployment's."""
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName

    from flows._tags import tags_for

    args = ("non-3ds", "--order", key, "--amount", "12.00", "--email", "a@b.test")
    result = await asyncio.to_thread(run, *args, "--sandbox-card", "visa_approved")
    assert result.exit_code == 0, result.output

    async with get_client() as client:
        [flow_run] = await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[f"non-3ds-{key}"]))
        )
    assert set(tags_for("non-3ds-payment")) <= set(flow_run.tags), flow_run.tags
    assert flow_run.parameters["amount"] == "12.00"  # flat: the form as typed


def test_a_refused_form_is_one_line_with_no_value_and_no_run(tmp_path: Any) -> None:
    """Prefect logs a failed parameter validation as error lines quoting the parameters; the
    CLI checks the form first, so the operator reads one line naming the field, never the
    value, and no run is started."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    payflows = Path(sys.executable).with_name("payflows")
    env = {**os.environ, "PAYFLOWS_DATABASE_URL": f"sqlite:///{tmp_path / 'l.db'}"}
    done = subprocess.run(
        [str(payflows), "run", "cit", "--amount", "1.00", "--email", "4111_1111_1111_1111@x.co",
         "--sandbox-card", "visa_approved"],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )  # fmt: skip
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert done.returncode == 2, lines
    assert lines == [
        "payflows: refused, nothing was charged: email: email looks like it holds "
        "a card number; card numbers are accepted only in the card number field"
    ]
