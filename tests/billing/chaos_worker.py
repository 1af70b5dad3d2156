"""A billing process for the chaos test: ``python -m tests.billing.chaos_worker BASE DB WORKER``.

Runs one :func:`payflows.billing.bill_due` to the end (or until the test kills it), then prints
the summary as JSON.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime

from payflows.billing import bill_due
from payflows.gateway import PreciumClient
from payflows.ledger import make_engine
from payflows.payments import PaymentContext
from payflows.settings import SANDBOX_API_KEY, SANDBOX_BRAND_ID, SANDBOX_S2S_API_KEY

AS_OF = datetime(2026, 1, 31, 7, 0, tzinfo=UTC)


async def main(base_url: str, db_url: str, worker_id: str) -> None:
    engine = make_engine(db_url)
    async with PreciumClient(
        base_url,
        SANDBOX_API_KEY,
        SANDBOX_S2S_API_KEY,
        SANDBOX_BRAND_ID,
        timeout=3,
        max_connections=32,
    ) as gateway:
        ctx = PaymentContext(gateway=gateway, engine=engine, now=lambda: AS_OF)
        summary = await bill_due(
            ctx, as_of=AS_OF, worker_id=worker_id, concurrency=32, batch_size=200
        )
    print(summary.model_dump_json(), flush=True)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
