"""Where ``payflows bill`` and ``payflows sweep`` run: in a Prefect flow, or straight on the core.

With ``PREFECT_API_URL`` set (environment or Prefect profile) the command runs the Prefect flow
against that server, so the run shows in its UI; if that server does not answer, the command
stops at once with one line saying how to start one, instead of a traceback from an ephemeral
server that did not come up in time. Without it, the command runs the Prefect-free core
directly (the same claims, charges, read-backs and summary; no flow run is recorded).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["NoPrefectServer", "prefect_api_url", "run_pipeline", "summary_json"]


class NoPrefectServer(Exception):
    """``PREFECT_API_URL`` names a server that does not answer."""


def prefect_api_url() -> str | None:
    """The configured Prefect API, or None to run on the core; raises NoPrefectServer."""
    url = os.environ.get("PREFECT_API_URL")
    if not url:
        try:
            from prefect.settings import PREFECT_API_URL

            url = PREFECT_API_URL.value()
        except Exception:  # a broken profile: treat as no server configured
            url = None
    if not url:
        return None
    from apps.local_prefect import server_is_up

    if not server_is_up(url):
        raise NoPrefectServer(
            f"no Prefect server answers at {url}: start one with `payflows up` "
            "(or `prefect server start`), or unset PREFECT_API_URL to run without Prefect"
        )
    return url


def run_pipeline(
    server: str | None,
    on_core: Callable[[], Awaitable[Any]],
    in_flow: Callable[[], Awaitable[Any]],
) -> Any:
    """The run's summary: straight on the core without a server, else through its flow.

    A flow that ends Failed because work was left (:class:`RunIncomplete`) still hands back
    its summary: the command prints it and exits 1, as it does for a run on the core.
    """
    if server is None:
        return asyncio.run(on_core())
    from payflows.exactly_once import RunIncomplete

    try:
        return asyncio.run(in_flow())
    except RunIncomplete as exc:
        return exc.summary


def summary_json(summary: Any, problem: str | None) -> str:
    """A run's summary as JSON, with whether it completed and, if not, why."""
    out = summary.model_dump(mode="json")
    out["complete"] = problem is None
    out["problem"] = problem
    return json.dumps(out, indent=2)
