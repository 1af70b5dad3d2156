"""The card-data scan: after every card flow has run, no PAN or CVC rests anywhere.

Every card flow runs against the sandbox with several test cards: by name (``sandbox_card``),
through the vault with a card given in-process, and through the CLI's hidden ``--card-prompt``.
Then every place payflows or Prefect writes is read as raw bytes: the ledger databases, the
Prefect server's database (and its WAL), home folder and log output, the result storage, the
session's temporary files, captured logs and console output, and the flow-run parameters as the
Prefect API returns them. The test cards' numbers (with and without spaces) and the CVCs in the
shapes they would take in JSON or a form body must appear nowhere.

Positive controls prove the scan reads the right bytes: the business keys and masked PANs the
flows wrote are found where they should be.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from prefect.client.orchestration import get_client
from typer.testing import CliRunner

from apps.cli import app as cli
from flows import (
    cancel_purchase,
    capture_hold,
    complete_3ds,
    customer_initiated_payment,
    external_3ds_payment,
    mit_charge,
    network_token_payment,
    non_3ds_payment,
    preauthorize,
    recurring_preauth,
    refund,
    void_hold,
    zero_auth_validation,
)
from flows._cards import SANDBOX_NETWORK_TOKEN
from payflows.domain.cards import CardData
from payflows.sandbox import TEST_CARDS, complete_challenge
from payflows.vault import default_vault
from tests.flows.support import Ledger, Sandbox, amount_text, card, run, shopper
from tests.support.prefect_server import PrefectServer

#: The CVCs the flows are given (sandbox cards use 123, stored-credential flows 000).
CVCS = ["123", "000", "4321", "947"]
#: A PAN typed at the CLI prompt and one put in the vault in-process, with their CVCs.
PROMPTED = ("4000 0000 0000 0010", "12/30", "947")
IN_PROCESS = ("5100 0000 0000 0008", "11/31", "4321")


def _spaced(number: str) -> str:
    if len(number) == 15:  # amex: 4-6-5
        return f"{number[:4]} {number[4:10]} {number[10:]}"
    return " ".join(number[i : i + 4] for i in range(0, len(number), 4))


def needles() -> list[bytes]:
    """Every test card number (and the sandbox network token), plain, spaced and dashed."""
    numbers = [c.number for c in TEST_CARDS] + [SANDBOX_NETWORK_TOKEN[0]]
    found = {n for number in numbers for n in (number, _spaced(number))}
    found |= {_spaced(number).replace(" ", "-") for number in numbers}
    found |= {SANDBOX_NETWORK_TOKEN[1]}  # the cryptogram is one-time card data too
    return sorted(n.encode() for n in found)


#: A CVC next to its field name, however it is quoted or escaped: ``"cvc": "123"``, ``cvc=123``,
#: ``\\"cvc\\": \\"123\\"`` (JSON in JSON), ``cvc%22%3A%22123`` (URL-encoded). A bare "123" is
#: too common to scan for.
CVC_PATTERNS = [
    re.compile(rb"(?i)cv[cv]2?(?:[^0-9a-z]|%[0-9a-f]{2}){0,12}" + cvc.encode() + rb"(?!\d)")
    for cvc in CVCS
]


def hits(blob: bytes, where: str) -> list[str]:
    out = [f"{where}: {n.decode()!r}" for n in needles() if n in blob]
    # A UTF-16 copy would still be the digits.
    out += [
        f"{where}: utf-16 {n.decode()!r}"
        for n in needles()
        if n.decode().encode("utf-16-le") in blob
    ]
    for pattern in CVC_PATTERNS:
        out += [f"{where}: {m.group(0)!r}" for m in pattern.finditer(blob)]
    return out


def scan_files(paths: list[Path]) -> list[str]:
    found: list[str] = []
    for path in paths:
        try:
            found += hits(path.read_bytes(), str(path))
        except OSError:
            continue
    return found


async def run_every_card_flow(tag: str, sandbox: Sandbox) -> list[str]:
    """Every card flow, several test cards each; returns the business ids it used."""
    who = shopper(tag)
    ids: list[str] = []

    async def cit(order: str, name: str, **extra: object):
        ids.append(order)
        return await run(
            customer_initiated_payment,
            dict(order_id=order, amount=amount_text(30_000), **who, **card(name), **extra),
        )

    for i, name in enumerate(
        [
            "visa_approved",
            "chip_visa",
            "mastercard_approved",
            "maestro_approved",
            "amex_approved",
            "visa_insufficient_funds",
            "visa_stolen_card",
            "visa_3ds_refused",
        ]
    ):
        await cit(f"{tag}-cit-{i}", name)
    await cit(f"{tag}-3ds-ok", "chip_mastercard_3ds", auto_3ds="approve")
    await cit(f"{tag}-3ds-fail", "visa_3ds_challenge", auto_3ds="fail")

    # 3DS the web's way: the flow returns, the TermUrl flow finishes.
    waiting = await cit(f"{tag}-3ds-termurl", "guide_visa_3ds")
    assert waiting.three_ds is not None
    pareq = default_vault.pop_secret(f"pareq:{waiting.three_ds.md}")
    assert pareq
    async with httpx.AsyncClient() as browser:
        pares = await complete_challenge(
            browser, waiting.three_ds.acs_url, waiting.three_ds.md, pareq, "http://m.test/3ds"
        )
    assert (await run(complete_3ds, dict(md=waiting.three_ds.md, pares=pares))).succeeded

    # A card given in-process (what the web checkout does): through the vault only.
    ref = default_vault.put(CardData(*IN_PROCESS, "Thandi Nkosi"))
    ids.append(f"{tag}-vault")
    paid = await run(
        customer_initiated_payment,
        dict(
            order_id=f"{tag}-vault",
            amount=amount_text(30_000),
            **who,
            card_ref=ref,
        ),
    )
    assert paid.succeeded and paid.purchase_id
    await run(refund, dict(purchase_id=paid.purchase_id, refund_ref="R1", amount=amount_text(100)))
    await run(
        cancel_purchase,
        dict(purchase_id=(await cit(f"{tag}-cancel", "visa_approved")).purchase_id),
    )

    for i, name in enumerate(["visa_approved", "mastercard_approved", "visa_3ds_challenge"]):
        ids.append(f"{tag}-hold-{i}")
        held = await run(
            preauthorize,
            dict(
                booking_id=f"{tag}-hold-{i}",
                amount=amount_text(40_000),
                **who,
                **card(name),
                auto_3ds="approve",
            ),
        )
        assert held.succeeded and held.purchase_id
        if i == 0:
            await run(capture_hold, dict(purchase_id=held.purchase_id, amount=amount_text(30_000)))
        else:
            await run(void_hold, dict(purchase_id=held.purchase_id))

    ids.append(f"{tag}-zero")
    stored = await run(zero_auth_validation,
        dict(reference=f"{tag}-zero", **who, **card("guide_visa_3ds"),
                        auto_3ds="approve")
    )  # fmt: skip
    assert stored.recurring_token
    ids.append(f"{tag}-rp")
    assert (
        await run(
            recurring_preauth,
            dict(
                booking_id=f"{tag}-rp",
                amount=amount_text(50_000),
                customer_id=who["email"],
                recurring_token=stored.recurring_token,
                **card("guide_visa_3ds"),
            ),
        )
    ).succeeded
    ids.append(f"sub-{tag}")
    assert (
        await run(
            mit_charge,
            dict(
                subscription_id=f"sub-{tag}",
                period="2026-06",
                amount=amount_text(9_900),
                customer_id=who["email"],
                recurring_token=stored.recurring_token,
            ),
        )
    ).succeeded

    ids.append(f"{tag}-ext")
    assert (
        await run(
            external_3ds_payment,
            dict(
                order_id=f"{tag}-ext",
                amount=amount_text(25_000),
                **who,
                **card("visa_3ds_challenge"),
                cavv="AAABBBCCCdddEEEfff111222333=",
                eci_raw="05",
            ),
        )
    ).succeeded
    ids.append(f"{tag}-nt")
    assert (
        await run(
            network_token_payment,
            dict(
                order_id=f"{tag}-nt",
                amount=amount_text(25_000),
                **who,
                sandbox_token=True,
                token_requestor_id="50110030273",
            ),
        )
    ).succeeded
    ids.append(f"{tag}-non3ds")
    assert (
        await run(
            non_3ds_payment,
            dict(
                order_id=f"{tag}-non3ds",
                amount=amount_text(5_000),
                **who,
                **card("chip_visa"),
            ),
        )
    ).succeeded
    return ids


def run_cli_with_card_prompt(tag: str) -> str:
    """``payflows run cit --card-prompt``: the card typed at hidden prompts."""
    number, expires, cvc = PROMPTED
    result = CliRunner().invoke(
        cli,
        ["run", "cit", "--order", f"{tag}-cli", "--amount", "299.00", "--email", "a@b.test",
         "--card-prompt", "--json"],
        input=f"{number}\n{expires}\n{cvc}\nThandi Nkosi\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.output[result.output.index("{") :])["state"] == "succeeded"
    return result.output


async def test_no_card_data_rests_anywhere(
    prefect_api: PrefectServer,
    sandbox: Sandbox,
    ledger: Ledger,
    key: str,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    caplog.set_level(logging.DEBUG)
    tag = f"scan{key.lower()}"
    refs_before = len(default_vault)
    ids = await run_every_card_flow(tag, sandbox)
    cli_output = await asyncio.to_thread(run_cli_with_card_prompt, tag)
    prefect_api.flush()
    assert len(default_vault) == refs_before, "every card reference was used up"

    # Flow-run parameters as the Prefect API returns them.
    async with get_client() as client:
        runs = await _all(client.read_flow_runs)
        logs = await _all(client.read_logs)
    ours = [r for r in runs if any(i.lower() in r.name.lower() for i in [*ids, f"{tag}-cli"])]
    assert len(ours) >= 20, "the scan sees the flow runs of this test"
    parameters = json.dumps([r.parameters for r in runs]).encode()
    assert b"card_ref" in parameters and b"sandbox_card" in parameters

    found = hits(parameters, "flow-run parameters (API)")
    found += hits("\n".join(log.message for log in logs).encode(), "logs (API)")
    found += hits(caplog.text.encode(), "caplog")
    captured = capsys.readouterr()
    found += hits((captured.out + captured.err + cli_output).encode(), "console")
    files = prefect_api.files()
    files += [p for p in tmp_path_factory.getbasetemp().rglob("*") if p.is_file()]
    prefect_default = Path.home() / ".prefect"
    if prefect_default.exists():
        files += [p for p in prefect_default.rglob("*") if p.is_file()]
    found += scan_files(sorted(set(files)))

    # Positive controls: the scan reads the databases the flows wrote.
    assert ledger.path in files and prefect_api.database in files
    ledger_bytes = ledger.path.read_bytes() + _wal(ledger.path)
    assert b"400000******0002" in ledger_bytes or b"555555******4444" in ledger_bytes
    prefect_bytes = prefect_api.database.read_bytes() + _wal(prefect_api.database)
    assert f"{tag}-cit-0".encode() in prefect_bytes
    # ... and the logs of the last run (the CLI's) reached the server before the scan.
    assert f"Beginning flow run 'cit-{tag}-cli'".encode() in prefect_bytes

    assert found == []


async def _all(read: Any, page: int = 200) -> list[Any]:
    """Every row of a Prefect API listing, page by page."""
    rows: list[Any] = []
    while batch := await read(limit=page, offset=len(rows)):
        rows += batch
        if len(batch) < page:
            break
    return rows


def _wal(db: Path) -> bytes:
    wal = db.with_name(db.name + "-wal")
    return wal.read_bytes() if wal.exists() else b""


def test_the_scan_would_see_a_leak() -> None:
    """The needles match the ways a PAN or CVC would be written."""
    leaked = (
        b'{"card_number": "4111111111111111", "cvc": "123"} 3782 822463 10005 cvc=000'
        b' {\\"cvc\\": \\"4321\\"} 4000-0000-0000-0010 cvc%22%3A%22947'
    )
    assert len(hits(leaked, "x")) == 7
    assert hits(re.sub(rb"\d", b"*", leaked), "x") == []
