from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from payflows.gateway import PreciumClient

from .payloads import API_KEY, BASE_URL, BRAND_ID, S2S_KEY, Recorder


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def gateway(recorder: Recorder) -> AsyncIterator[PreciumClient]:
    transport = httpx.MockTransport(recorder)
    async with PreciumClient(BASE_URL, API_KEY, S2S_KEY, BRAND_ID, transport=transport) as client:
        yield client
