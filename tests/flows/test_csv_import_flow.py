"""The ``csv-billing-import`` flow on the session's Prefect server: typed result and artifacts."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

from flows.csv_import import csv_billing_import
from payflows.imports import FileError, ImportResult
from tasks.runtime import dispose_engines
from tests.flows.support import Ledger
from tests.support.prefect_server import PrefectServer

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"


async def test_the_flow_imports_reports_and_publishes_tables(
    prefect_api: PrefectServer,
    ledger: Ledger,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PAYFLOWS_DATABASE_URL", ledger.url)
    try:
        await csv_billing_import(str(SAMPLES / "customers.csv"))
        source = tmp_path / "subs.csv"
        shutil.copy(SAMPLES / "subscriptions_bad_rows.csv", source)
        await csv_billing_import(str(SAMPLES / "payment_methods.csv"), kind="payment_methods")
        state = await csv_billing_import(
            str(source), error_dir=str(tmp_path / "errors"), return_state=True
        )
        result = await state.result()
        assert isinstance(result, ImportResult)
        assert (result.kind, result.inserted, result.rejected) == ("subscriptions", 1, 9)
        assert [e.line for e in result.errors][:2] == [3, 4]
        assert Path(result.error_file or "") == tmp_path / "errors" / "subs.csv.errors.csv"
        async with get_client() as client:
            artifacts = await client.read_artifacts(
                artifact_filter=ArtifactFilter(
                    flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id])
                )
            )
        assert {a.key for a in artifacts} == {"csv-import-summary", "csv-import-errors"}
        assert all(a.type == "table" for a in artifacts)

        with pytest.raises(FileError, match="never imports card data"):
            await csv_billing_import(str(SAMPLES / "payment_methods_with_pan_column.csv"))
    finally:
        dispose_engines()
