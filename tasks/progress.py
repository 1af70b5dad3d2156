"""A progress bar in the Prefect UI for a long pipeline task, updated at most once a second.

The pipelines report after every batch; sending each report would cost an API call per batch,
so updates are throttled, and the bar stays below 100 % until the summary says the run ended
(``seconds`` is set only then).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from prefect.artifacts import create_progress_artifact, update_progress_artifact

__all__ = ["progress_reporter"]


class _Finished(Protocol):
    seconds: float


S = TypeVar("S", bound=_Finished)


async def progress_reporter(
    key: str, description: str, total: int, done: Callable[[S], int]
) -> Callable[[S], Awaitable[None]]:
    """A progress artifact ``key``, and the ``on_progress`` callback that moves it."""
    artifact_id: Any = await create_progress_artifact(
        progress=0.0, key=key, description=description
    )
    last = 0.0

    async def report(summary: S) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last < 1.0 and summary.seconds == 0:
            return
        last = now
        finished = summary.seconds != 0
        percent = 100.0 if finished else min(99.0, 100.0 * done(summary) / max(total, 1))
        await update_progress_artifact(artifact_id=artifact_id, progress=percent)

    return report
