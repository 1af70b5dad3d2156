"""The in-process sandbox fixtures of the sandbox unit tests, reused."""

from tests.unit.sandbox.conftest import config, gw, make_gateway

__all__ = ["config", "gw", "make_gateway"]
