"""A sweep process for the chaos test: ``python -m tests.sweep.chaos_worker BASE DB WORKER AS_OF``.

Runs one :func:`payflows.sweep.sweep_holds` to the end (or until the test kills it), then prints
the summary as JSON.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime

from payflows.gateway import PreciumClient
from payflows.ledger import make_engine
from payflows.payments import PaymentContext
from payflows.settings import SANDBOX_API_KEY, SANDBOX_BRAND_ID, SANDBOX_S2S_API_KEY
from payflows.sweep import sweep_holds


async def main(base_url: str, db_url: str, worker_id: str, as_of: str) -> None:
    engine = make_engine(db_url)
    async with PreciumClient(
        base_url, SANDBOX_API_KEY, SANDBOX_S2S_API_KEY, SANDBOX_BRAND_ID, timeout=3
    ) as gateway:
        ctx = PaymentContext(gateway=gateway, engine=engine)
        summary = await sweep_holds(
            ctx,
            as_of=datetime.fromisoformat(as_of),
            worker_id=worker_id,
            concurrency=8,
            batch_size=50,
        )
    print(summary.model_dump_json(exclude={"unresolved"}), flush=True)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
