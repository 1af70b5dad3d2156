"""Helpers for the deployment tests: child processes of payflows or prefect, and flow runs."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
from prefect.client.schemas.objects import FlowRun

from apps.local_prefect import stop_process
from tests.support.prefect_server import PrefectServer, _environment

__all__ = [
    "ROOT",
    "artifact_keys",
    "child_env",
    "delete_deployments",
    "quick_run",
    "started",
    "wait_deployments",
    "wait_final",
]

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def child_env(server: PrefectServer, **extra: str) -> dict[str, str]:
    """The environment of a child that talks to the test server: its home and storage too."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(_environment(server.home, server.storage, server.api_url))
    env.update(extra)
    return env


@contextmanager
def started(
    command: list[str], env: dict[str, str], log: Path, cwd: Path = ROOT
) -> Iterator[subprocess.Popen[bytes]]:
    """A child process in its own session; SIGINT, then SIGTERM, then SIGKILL at the end."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
        try:
            yield process
        finally:
            stop_process(process, grace=20.0)


async def wait_deployments(
    names: list[str], process: subprocess.Popen[bytes], log: Path, timeout: float = 90.0
) -> dict[str, Any]:
    """Wait until every ``flow/deployment`` exists on the server; return them by name."""
    found: dict[str, Any] = {}
    deadline = time.monotonic() + timeout
    async with get_client() as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(f"exited with {process.returncode}:\n{log.read_text()}")
            for name in names:
                if name not in found:
                    with suppress(Exception):
                        found[name] = await client.read_deployment_by_name(name)
            if len(found) == len(names):
                return found
            await asyncio.sleep(0.5)
    raise AssertionError(f"missing deployments {set(names) - set(found)}:\n{log.read_text()}")


async def delete_deployments(names: list[str]) -> None:
    """Remove deployments an earlier test made with ``prefect deploy`` (work pool, pull steps):
    ``serve`` updating them in place would keep those, and the runner would follow them."""
    async with get_client() as client:
        for name in names:
            with suppress(Exception):
                found = await client.read_deployment_by_name(name)
                await client.delete_deployment(found.id)


async def quick_run(deployment_id: UUID, parameters: dict[str, Any] | None = None) -> FlowRun:
    """What the UI's Quick run does (parameters None: the deployment's defaults, merged by the
    server), or its Custom run with ``parameters``."""
    async with get_client() as client:
        return await client.create_flow_run_from_deployment(
            deployment_id, parameters=parameters or {}
        )


async def wait_final(run_ids: list[UUID], timeout: float = 180.0) -> dict[UUID, FlowRun]:
    """Wait until every run is in a final state."""
    deadline = time.monotonic() + timeout
    done: dict[UUID, FlowRun] = {}
    async with get_client() as client:
        while time.monotonic() < deadline:
            for run_id in run_ids:
                if run_id in done:
                    continue
                run = await client.read_flow_run(run_id)
                if run.state is not None and run.state.is_final():
                    done[run_id] = run
            if len(done) == len(run_ids):
                return done
            await asyncio.sleep(0.5)
        waiting = {
            str(r): (await client.read_flow_run(r)).state_name for r in run_ids if r not in done
        }
    raise AssertionError(f"runs not finished in {timeout} s: {waiting}")


async def artifact_keys(run_id: UUID) -> set[str]:
    async with get_client() as client:
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]))
        )
    return {a.key for a in artifacts if a.key}
