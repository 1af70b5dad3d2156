"""Sandbox time: the wall clock plus an offset that only grows.

Holds expire after days and payments settle after days; tests and demos cannot wait that long,
so ``POST /_sandbox/clock/advance/`` moves the sandbox's idea of "now" forward instead. Real
time keeps flowing underneath, so timestamps stay plausible and strictly ordered.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["SandboxClock"]


class SandboxClock:
    """``now() = time_source() + offset``; ``advance`` grows the offset, never shrinks it."""

    __slots__ = ("_offset", "_source")

    def __init__(self, offset: float = 0.0, *, time_source: Callable[[], float] = time.time):
        if offset < 0:
            raise ValueError("the clock offset cannot be negative")
        self._offset = float(offset)
        self._source = time_source

    @property
    def offset(self) -> float:
        return self._offset

    def now(self) -> float:
        return self._source() + self._offset

    def advance(self, seconds: float) -> None:
        """Move sandbox time forward; going back would let a settled payment un-settle."""
        if seconds < 0:
            raise ValueError("the sandbox clock only moves forward")
        self._offset += float(seconds)
