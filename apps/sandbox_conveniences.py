"""The sandbox's conveniences, wired at the top (see :mod:`tasks.conveniences`).

Registered as the ``payflows.sandbox`` entry point in ``pyproject.toml``, so every process that
runs flows (the CLI, the web app, ``payflows serve`` and the flow runs it starts) finds them
without the flows or tasks importing ``payflows.sandbox``.
"""

from __future__ import annotations

from payflows.sandbox import TEST_CARDS, complete_challenge
from tasks.conveniences import SandboxConveniences

__all__ = ["conveniences"]


def conveniences() -> SandboxConveniences:
    return SandboxConveniences(
        card_numbers={card.key: card.number for card in TEST_CARDS},
        play_3ds_shopper=complete_challenge,
    )
