"""A faithful, stateful emulator of the Precium (CHIP Collect) gateway.

``create_app`` gives the ASGI app (use it in-process with ``httpx.ASGITransport``),
``serve``/``running_sandbox`` put it on a loopback socket, ``TEST_CARDS`` is the table of
docs/test-cards.md (``card_by_name`` finds a card by the name flows, CSVs and the CLI take, and
raises ``UnknownTestCard`` listing the valid names), and ``complete_challenge`` plays the
shopper's browser on the sandbox ACS.
The wire contract it implements is docs/gateway-wire.md.
"""

from payflows.sandbox.app import create_app
from payflows.sandbox.cards import TEST_CARDS, TestCard, UnknownTestCard, card_by_name
from payflows.sandbox.clock import SandboxClock
from payflows.sandbox.config import SandboxConfig
from payflows.sandbox.server import running_sandbox, serve
from payflows.sandbox.testing import complete_challenge

__all__ = [
    "TEST_CARDS",
    "SandboxClock",
    "SandboxConfig",
    "TestCard",
    "UnknownTestCard",
    "card_by_name",
    "complete_challenge",
    "create_app",
    "running_sandbox",
    "serve",
]
