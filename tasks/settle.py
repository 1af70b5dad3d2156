"""The Prefect task of ``settle-unresolved``: one pass of ``settle_unresolved``.

Retrying it is safe: a read-back only records what the gateway shows.
"""

from __future__ import annotations

from datetime import timedelta

from prefect import task
from prefect.cache_policies import NO_CACHE

from payflows.payments import UnresolvedSummary, settle_unresolved
from tasks.runtime import payment_context

__all__ = ["settle_unresolved_attempts"]


@task(name="settle-unresolved-attempts", persist_result=False, cache_policy=NO_CACHE, retries=1)
async def settle_unresolved_attempts(older_than_seconds: float, limit: int) -> UnresolvedSummary:
    """Read back the single payments left ``submitted``/``unknown`` for ``older_than_seconds``."""
    async with payment_context() as ctx:
        return await settle_unresolved(
            ctx, older_than=timedelta(seconds=older_than_seconds), limit=limit
        )
