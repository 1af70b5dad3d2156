"""The issue's proof: ``payflows serve`` serves every catalog deployment, and each one, started
through the Prefect API as the UI's Quick run (or Custom run) does, completes with its artifacts.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from prefect.exceptions import PrefectHTTPStatusError

from deployments import CATALOG, available
from tests.deployments.support import (
    ROOT,
    artifact_keys,
    child_env,
    delete_deployments,
    quick_run,
    started,
    wait_deployments,
    wait_final,
)
from tests.flows.support import Ledger
from tests.support.prefect_server import PrefectServer

SHOPPER = "ui-shopper@example.test"
PAN = "4111 1111 1111 1111"


def test_every_catalog_entry_is_in_this_checkout() -> None:
    assert [spec.full_name for spec in CATALOG if spec.missing is not None] == []


async def _a_card_number_in_a_text_field_is_refused_by_the_server(
    server: PrefectServer, deployment_id: Any
) -> None:
    """The deployment enforces its parameter schema: Prefect's server refuses a card number
    typed into a free-text field or the card reference (409) before it stores any flow run."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    async with get_client() as client:
        before = await client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id]))
        )
        for field, typed in [
            ("product", PAN),
            ("full_name", "4111.1111.1111.1111"),
            ("order_id", "4111111111111111"),
            ("card_ref", PAN.replace(" ", "")),
        ]:
            with pytest.raises(PrefectHTTPStatusError) as refused:
                await client.create_flow_run_from_deployment(
                    deployment_id, parameters={"amount": "1.00", "email": SHOPPER, field: typed}
                )
            assert refused.value.response.status_code == 409, field
        after = await client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id]))
        )
    assert len(after) == len(before)
    # Stored nowhere: not in the server's database, not in what it logged.
    digits = PAN.replace(" ", "").encode()
    for path in [server.database, Path(f"{server.database}-wal"), server.log_file]:
        data = path.read_bytes() if path.exists() else b""
        assert digits not in data and PAN.encode() not in data, path


def _runs(done: dict[Any, Any]) -> dict[str, Any]:
    return {str(k): v for k, v in done.items()}


async def test_every_served_deployment_completes_from_a_quick_or_custom_run(
    prefect_api: PrefectServer, sandbox_url: str, migrated_ledger: Path, tmp_path: Path
) -> None:
    ledger_path = tmp_path / "ledger.db"
    shutil.copy(migrated_ledger, ledger_path)
    ledger = Ledger(ledger_path)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(ROOT / "data/samples/customers.csv", inbox / "customers.csv")
    csv_file = tmp_path / "payment_methods.csv"
    shutil.copy(ROOT / "data/samples/payment_methods.csv", csv_file)
    env = child_env(
        prefect_api,
        PRECIUM_BASE_URL=sandbox_url,
        PRECIUM_TIMEOUT_SECONDS="10",
        PAYFLOWS_DATABASE_URL=ledger.url,
        PAYFLOWS_INBOX_DIR=str(inbox),
        PAYFLOWS_PUBLIC_URL="http://merchant.test",
    )
    log = tmp_path / "serve.log"
    command = [sys.executable, "-m", "apps.cli", "serve", "--limit", "8"]
    specs = available()
    await delete_deployments([s.full_name for s in specs])
    with started(command, env, log, cwd=tmp_path) as serving:
        found = await wait_deployments([s.full_name for s in specs], serving, log)
        ids = {name: d.id for name, d in found.items()}
        assert found["subscription-billing/nightly"].global_concurrency_limit.limit == 1
        # Flat forms: what the Prefect UI shows, one field each.
        assert found["preauthorize/hold-an-amount"].parameters == {
            "amount": "500.00",
            "email": SHOPPER,
            "full_name": "Thandi Nkosi",
            "sandbox_card": "visa_3ds_challenge",
            "auto_3ds": "approve",
        }
        await _a_card_number_in_a_text_field_is_refused_by_the_server(
            prefect_api, ids["customer-initiated-payment/take-a-card-payment"]
        )

        # 1. Quick run: every deployment whose defaults make a whole run; two pre-auths, so
        #    each Quick run must be a new booking (its id comes from the flow run).
        first: dict[str, Any] = {}
        for spec in specs:
            if spec.quick_run:
                first[spec.full_name] = await quick_run(ids[spec.full_name])
        first["preauthorize/again"] = await quick_run(ids["preauthorize/hold-an-amount"])
        first["csv-billing-import/import-one-file"] = await quick_run(
            ids["csv-billing-import/import-one-file"], {"path": str(csv_file)}
        )
        done = await wait_final([r.id for r in first.values()], timeout=600)
        states = {name: done[r.id].state_type.value for name, r in first.items()}
        assert set(states.values()) == {"COMPLETED"}, (states, log.read_text()[-4000:])
        # Each scenario's final state is named after its business outcome.
        names = {name: done[r.id].state_name for name, r in first.items()}
        assert names["customer-initiated-payment/take-a-card-payment"] == "Paid", names
        assert names["preauthorize/hold-an-amount"] == "Held", names
        assert names["zero-auth-validation/validate-a-card"] == "Card validated", names

        def purchase(prefix: str, name: str) -> str:
            row = ledger.attempt(f"{prefix}:run-{first[name].id}")
            assert row is not None and row["state"] == "succeeded", (name, dict(row or {}))
            return str(row["purchase_id"])

        holds = [
            purchase("preauth", n) for n in ("preauthorize/hold-an-amount", "preauthorize/again")
        ]
        assert holds[0] != holds[1]
        paid = purchase("cit", "customer-initiated-payment/take-a-card-payment")
        to_cancel = purchase("non-3ds", "non-3ds-payment/pay-without-3ds")
        purchase("ext3ds", "external-3ds-payment/pay-with-own-3ds")
        purchase("network-token", "network-token-payment/pay-with-a-network-token")
        purchase("zero-auth", "zero-auth-validation/validate-a-card")
        stored, *_ = ledger.rows(  # zero-auth and the payments that saved the card
            "SELECT m.recurring_token FROM payment_methods m JOIN customers c "
            "ON m.customer_id = c.id WHERE c.external_id = ? ORDER BY m.id",
            SHOPPER,
        )
        token = stored["recurring_token"]

        for name, keys in {
            "subscription-billing/nightly": {"billing-summary", "billing-progress"},
            "subscription-billing/shard": {"billing-summary"},
            "sharded-billing/scale-out": {"billing-summary", "billing-shards"},
            "csv-inbox-import/inbox": {"csv-inbox-summary"},
            "csv-billing-import/import-one-file": {"csv-import-summary"},
        }.items():
            assert keys <= await artifact_keys(first[name].id), name
        assert next(p.name for p in (inbox / "done").iterdir()).endswith("-customers.csv")
        assert (
            ledger.rows("SELECT count(*) AS n FROM customers WHERE external_id LIKE 'cust-%'")[0][
                "n"
            ]
            > 0
        )

        # 2. Custom run: the flows that act on what the first runs made.
        second = {
            "capture-hold/capture-a-hold": {"purchase_id": holds[0], "amount": "300.00"},
            "void-hold/release-a-hold": {"purchase_id": holds[1]},
            "refund/refund-a-payment": {
                "purchase_id": paid,
                "refund_ref": "UI-R1",
                "amount": "10.00",
            },
            "cancel-purchase/cancel-before-settlement": {"purchase_id": to_cancel},
            "recurring-preauth/hold-on-a-stored-card": {
                "booking_id": "UI-RB-1",
                "amount": "200.00",
                "customer_id": SHOPPER,
                "recurring_token": token,
                "sandbox_card": "visa_approved",
            },
            "mit-charge/charge-a-stored-card": {
                "subscription_id": "UI-SUB-1",
                "amount": "99.00",
                "customer_id": SHOPPER,
                "recurring_token": token,
            },
        }
        runs = {name: await quick_run(ids[name], p) for name, p in second.items()}
        done = await wait_final([r.id for r in runs.values()], timeout=600)
        states = {name: done[r.id].state_type.value for name, r in runs.items()}
        assert set(states.values()) == {"COMPLETED"}, (states, log.read_text()[-4000:])
        assert done[runs["refund/refund-a-payment"].id].state_name == "Refunded"
        assert ledger.attempt(f"capture:{holds[0]}")["state"] == "succeeded"
        [refund] = ledger.rows("SELECT refund_id FROM refunds WHERE purchase_id = ?", paid)

        # 3. The last link: cancel the refund just made.
        run = await quick_run(
            ids["cancel-refund/cancel-a-refund"],
            {"purchase_id": paid, "refund_id": refund["refund_id"]},
        )
        done = await wait_final([run.id], timeout=300)
        assert done[run.id].state_name == "Refund cancelled", log.read_text()[-4000:]

        # 4. The card's end: delete the stored card the MIT charge just used.
        run = await quick_run(
            ids["delete-card/delete-a-stored-card"],
            {"customer_id": SHOPPER, "recurring_token": token},
        )
        done = await wait_final([run.id], timeout=300)
        assert done[run.id].state_name == "Completed", log.read_text()[-4000:]
        [card] = ledger.rows(
            "SELECT deleted_at FROM payment_methods WHERE recurring_token = ?", token
        )
        assert card["deleted_at"] is not None
        # 5. An operator finds the paid order's purchase (no database needed).
        run = await quick_run(ids["payment-lookup/find-a-payment"], {"query": paid})
        done = await wait_final([run.id], timeout=300)
        assert done[run.id].state_name == "1 found", log.read_text()[-4000:]
        covered = (
            set(first)
            | set(runs)
            | {
                "cancel-refund/cancel-a-refund",
                "delete-card/delete-a-stored-card",
                "payment-lookup/find-a-payment",
            }
        )
        assert {s.full_name for s in specs} <= covered
    assert serving.returncode is not None
