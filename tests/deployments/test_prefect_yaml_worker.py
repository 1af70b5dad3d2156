"""The issue's proof, second half: the checked-in prefect.yaml applied with ``prefect deploy
--all`` to a process work pool, and a deployment run through a ``prefect worker`` process."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from deployments import DEFAULT_WORK_POOL, available
from tests.deployments.support import (
    BIN,
    ROOT,
    child_env,
    quick_run,
    started,
    wait_deployments,
    wait_final,
)
from tests.flows.support import Ledger
from tests.support.prefect_server import PrefectServer

POOL = DEFAULT_WORK_POOL  # prefect deploy --all ignores --pool: the yaml names it


def deploy_all(env: dict[str, str], pool: str, *names: str) -> None:
    """``prefect work-pool create`` then ``prefect deploy`` of prefect.yaml, from the repo root."""
    subprocess.run(
        [str(BIN / "prefect"), "work-pool", "create", pool, "--type", "process", "--overwrite"],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=120,
    )
    which = [a for n in names for a in ("-n", n)] if names else ["--all"]
    done = subprocess.run(
        [str(BIN / "prefect"), "--no-prompt", "deploy", *which],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


async def test_prefect_deploy_all_then_a_worker_runs_a_deployment(
    prefect_api: PrefectServer, sandbox_url: str, migrated_ledger: Path, tmp_path: Path
) -> None:
    ledger_path = tmp_path / "ledger.db"
    shutil.copy(migrated_ledger, ledger_path)
    ledger = Ledger(ledger_path)
    env = child_env(
        prefect_api,
        PRECIUM_BASE_URL=sandbox_url,
        PAYFLOWS_DATABASE_URL=ledger.url,
        PRECIUM_TIMEOUT_SECONDS="10",
        PREFECT_WORKER_QUERY_SECONDS="1",
    )
    deploy_all(env, POOL)
    log = tmp_path / "worker.log"
    worker = [str(BIN / "prefect"), "worker", "start", "--pool", POOL, "--name", "yaml-worker"]
    with started(worker, env, log, cwd=tmp_path) as process:
        names = [s.full_name for s in available()]
        found = await wait_deployments(names, process, log)
        assert {d.work_pool_name for d in found.values()} == {POOL}
        nightly = found["subscription-billing/nightly"]
        assert nightly.schedules[0].schedule.cron == "0 2 * * *"
        assert nightly.schedules[0].schedule.timezone == "Africa/Johannesburg"
        assert nightly.pull_steps == [
            {"prefect.deployments.steps.set_working_directory": {"directory": str(ROOT)}}
        ]
        run = await quick_run(found["zero-auth-validation/validate-a-card"].id)
        done = await wait_final([run.id], timeout=120)
        assert done[run.id].state_name == "Card validated", log.read_text()[-4000:]
    row = ledger.attempt(f"zero-auth:run-{run.id}")
    assert row is not None and row["state"] == "succeeded"
    assert f"Worker 'yaml-worker' submitting flow run '{run.id}'" in log.read_text()
