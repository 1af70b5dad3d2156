"""Live mode: the integration suite against the gateway the environment names, real keys.

``PAYFLOWS_LIVE=1 make test-live`` with ``PRECIUM_BASE_URL``, ``PRECIUM_API_KEY``,
``PRECIUM_S2S_API_KEY`` and ``PRECIUM_BRAND_ID`` set to a test-mode account. No sandbox is
started; only the tests in :data:`LIVE_TESTS` run, the rest are skipped with the reason: they
need what only the sandbox has (its clock, faults, restarts, its own table of outcome cards, its
ACS page, or a webhook receiver on loopback that a real platform cannot reach). The live tests pay
with CHIP's published test cards only (``4444 3333 2222 1111``, CVC ``123``).
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["LIVE", "LIVE_TESTS", "SANDBOX_ONLY_REASON", "live_keys"]

#: Whether this run is against the configured (real) gateway.
LIVE = os.environ.get("PAYFLOWS_LIVE", "") == "1"

#: ``module::test`` names that hold against any gateway (module alone: every test in it).
LIVE_TESTS = frozenset(
    {
        "test_live.py",
        "test_errors.py::test_unknown_objects_are_not_found",
        "test_errors.py::test_closed_port_is_gateway_unavailable_and_retry_safe",
    }
)

SANDBOX_ONLY_REASON = (
    "live mode: needs the sandbox (its clock, faults, outcome cards, ACS page or a loopback "
    "webhook receiver)"
)


def live_keys() -> dict[str, Any]:
    """The gateway and keys of the live run, from the ``PRECIUM_*`` settings."""
    from payflows.settings import load_settings

    settings = load_settings()
    return {
        "base_url": settings.precium_base_url,
        "api_key": settings.precium_api_key,
        "s2s_api_key": settings.precium_s2s_api_key,
        "brand_id": settings.precium_brand_id,
    }
