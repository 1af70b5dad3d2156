"""Writing the sandbox state to its file: atomically, debounced, off the event loop.

The whole state is written as JSON, atomically (a temporary file renamed over the old one, so a
crash leaves either the old or the new file, never half of one) and debounced: a change marks
the state dirty and a background task writes at most every half second, plus once at shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tempfile
from pathlib import Path

from payflows.sandbox.state import SandboxState

__all__ = ["StatePersister", "write_state"]

logger = logging.getLogger(__name__)


def write_state(path: Path, payload: bytes | list[bytes]) -> None:
    """Replace ``path`` atomically: write a sibling temporary file, fsync, rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb", buffering=1 << 20) as handle:
            if isinstance(payload, bytes):
                handle.write(payload)
            else:
                handle.writelines(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class StatePersister:
    """Writes a dirty state to its file from a background task, and once more at stop."""

    def __init__(self, state: SandboxState, path: Path | None, *, interval: float = 0.5) -> None:
        self._state = state
        self._path = path
        self._interval = interval
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    def _snapshot(self) -> list[bytes] | None:
        # Serialised on the event loop, between two requests, so the snapshot is consistent.
        if self._path is None or not self._state.dirty:
            return None
        return self._state.snapshot()

    def flush(self) -> None:
        """Write now if anything changed (synchronous: used at shutdown)."""
        payload = self._snapshot()
        if payload is not None and self._path is not None:
            write_state(self._path, payload)

    async def _run(self, stopping: asyncio.Event) -> None:
        # Never cancelled mid-write: a write still running in its thread after a cancel could
        # land after the final flush and put an older snapshot back.
        while not stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), self._interval)
            payload = self._snapshot()
            if payload is None or self._path is None:
                continue
            try:
                await asyncio.to_thread(write_state, self._path, payload)
            except OSError:
                self._state.dirty = True
                logger.exception("could not write the sandbox state to %s", self._path)

    def start(self) -> None:
        if self._path is not None and self._task is None:
            self._stopping = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._run(self._stopping))

    async def stop(self) -> None:
        if self._task is not None:
            self._stopping.set()
            await self._task
            self._task = None
        self.flush()
