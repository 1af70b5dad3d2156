"""How one sandbox instance behaves: its keys, its brand, where it keeps state, its switches.

The defaults are the loopback sandbox's published keys (``payflows.settings``), so a client
built from default settings talks to a default sandbox with no configuration at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from payflows.settings import SANDBOX_API_KEY, SANDBOX_BRAND_ID, SANDBOX_S2S_API_KEY, Settings

__all__ = ["SandboxConfig"]


@dataclass
class SandboxConfig:
    """Everything a sandbox needs at start. The three switches can also change at run time."""

    api_key: str = SANDBOX_API_KEY
    s2s_api_key: str = SANDBOX_S2S_API_KEY
    brand_id: str = SANDBOX_BRAND_ID
    #: The brand's currency: a purchase created without one is in it (CONTRACT point 8).
    default_currency: str = "ZAR"
    #: JSON file the state survives restarts in; ``None`` keeps everything in memory.
    state_file: Path | None = None
    #: Seeds the fault injector's RNG so a fault scenario replays identically.
    seed: int | None = None
    #: Fault rules active from the start (the shape of ``PUT /_sandbox/faults/``).
    faults: list[dict[str, Any]] = field(default_factory=list)
    #: The brand may take customer-initiated payments without 3-D Secure.
    allow_non_3ds: bool = True
    #: The brand may take payments authenticated by the merchant's own MPI.
    allow_external_3ds: bool = True
    #: How long the always-times-out card holds its answer back.
    timeout_seconds: float = 60.0
    #: First webhook retry delay; doubles per attempt (tests shrink it).
    webhook_backoff_base: float = 1.0

    def __post_init__(self) -> None:
        if self.state_file is not None and not isinstance(self.state_file, Path):
            self.state_file = Path(self.state_file)
        if self.timeout_seconds < 0:
            raise ValueError("timeout_seconds must be >= 0")
        if self.webhook_backoff_base <= 0:
            raise ValueError("webhook_backoff_base must be > 0")

    @classmethod
    def from_settings(cls, settings: Settings) -> SandboxConfig:
        """The sandbox that a client configured by ``settings`` expects to find.

        The keys and brand are the client's own, so ``payflows sandbox`` and the client agree
        whatever the environment says.
        """
        state_file = settings.sandbox_state_file
        seed = settings.sandbox_seed
        return cls(
            api_key=_secret(settings.precium_api_key),
            s2s_api_key=_secret(settings.precium_s2s_api_key),
            brand_id=str(settings.precium_brand_id),
            state_file=Path(state_file) if state_file else None,
            seed=int(seed) if seed is not None else None,
        )


def _secret(value: Any) -> str:
    getter = getattr(value, "get_secret_value", None)
    return str(getter() if callable(getter) else value)
