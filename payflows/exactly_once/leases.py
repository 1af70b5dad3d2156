"""Short leases renewed by a heartbeat while their owner lives: a dead run's claims free fast.

A billing run or a sweep claims rows (``claimed_by``, ``claimed_until``) so that two runs never
act on one. A long lease makes a crash expensive (the next run cannot touch those rows until it
lapses); a short one alone would let a slow but living run lose its rows. So the lease is short
(30 s by default) and the owner renews it every third of that while it lives; a run killed with
SIGKILL stops renewing, and the next run takes its rows over within the lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.engine import Engine

from payflows.ledger import UnitOfWork, renew_leases

__all__ = ["DEFAULT_LEASE_SECONDS", "Heartbeat"]

#: How long a claim lasts without renewal: the longest a crashed run's rows stay blocked.
DEFAULT_LEASE_SECONDS = 30.0

_log = logging.getLogger("payflows.leases")


class Heartbeat:
    """Renews ``worker_id``'s leases on ``models`` every ``lease_seconds / 3`` until stopped.

    ``async with Heartbeat(...):`` around the work. A renewal that fails (the ledger busy) is
    logged and tried again at the next beat; the lease has two more beats of slack.
    """

    def __init__(
        self,
        engine: Engine,
        models: Sequence[Any],
        worker_id: str,
        lease_seconds: float,
        *,
        now: Callable[[], Any] | None = None,
    ) -> None:
        self.engine = engine
        self.models = list(models)
        self.worker_id = worker_id
        self.lease_seconds = lease_seconds
        self.beats = 0
        self._task: asyncio.Task[None] | None = None

    def renew(self) -> int:
        with UnitOfWork(self.engine) as uow:
            n = sum(
                renew_leases(uow, model, self.worker_id, self.lease_seconds)
                for model in self.models
            )
            uow.commit()
        self.beats += 1
        return n

    async def _loop(self) -> None:
        interval = max(self.lease_seconds / 3, 0.05)
        while True:
            await asyncio.sleep(interval)
            try:
                await asyncio.to_thread(self.renew)
            except Exception as exc:  # the next beat tries again
                _log.warning("lease renewal failed (%s); retrying", type(exc).__name__)

    async def __aenter__(self) -> Heartbeat:
        self._task = asyncio.create_task(self._loop())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
