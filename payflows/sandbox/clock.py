"""Sandbox time: the wall clock plus an offset that only grows.

Holds expire after days and payments settle after days; tests and demos cannot wait that long,
so ``POST /_sandbox/clock/advance/`` moves the sandbox's idea of "now" forward instead. Real
time keeps flowing underneath, so timestamps stay plausible and strictly ordered.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["MAX_OFFSET_SECONDS", "SandboxClock"]

#: How far the sandbox clock may run ahead of real time: a hundred years. Past that, dates stop
#: being representable soon after (year 9999), and no test needs more.
MAX_OFFSET_SECONDS = 100 * 365 * 86_400


class SandboxClock:
    """``now() = time_source() + offset``; ``advance`` grows the offset, never shrinks it."""

    __slots__ = ("_offset", "_source")

    def __init__(self, offset: float = 0.0, *, time_source: Callable[[], float] = time.time):
        if not 0 <= offset <= MAX_OFFSET_SECONDS:
            raise ValueError(f"the clock offset must be from 0 to {MAX_OFFSET_SECONDS} seconds")
        self._offset = float(offset)
        self._source = time_source

    @property
    def offset(self) -> float:
        return self._offset

    def now(self) -> float:
        return self._source() + self._offset

    def advance(self, seconds: float) -> None:
        """Move sandbox time forward; going back would let a settled payment un-settle."""
        if not 0 <= seconds <= MAX_OFFSET_SECONDS - self._offset:
            raise ValueError("the sandbox clock only moves forward, at most a hundred years ahead")
        self._offset += float(seconds)
