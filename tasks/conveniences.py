"""The sandbox's conveniences, reached without importing the sandbox: wired from the top.

Two things make scenario runs possible against the local sandbox without a real card or a
real shopper: its test cards (a flow takes a test card's NAME; the number is looked up in
memory) and playing the shopper on its 3-D Secure page (``auto_3ds``). Both live in
``payflows.sandbox``, which production code must not import. The entry points (``apps/``)
provide them instead, through the ``payflows.sandbox`` entry-point group of the package
(``pyproject.toml``), which :func:`sandbox_conveniences` loads on first use, or by calling
:func:`provide_sandbox_conveniences`. A deployment without them (the group removed from the
packaging) offers no test cards, and ``auto_3ds`` is refused.

Every use is still guarded at run time: the conveniences are refused when the settings point
at a real gateway (``flows._cards.sandbox_only``).
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points

__all__ = [
    "ENTRY_POINT_GROUP",
    "SandboxConveniences",
    "provide_sandbox_conveniences",
    "sandbox_conveniences",
]

ENTRY_POINT_GROUP = "payflows.sandbox"

#: ``(browser, acs_url, md, pareq, term_url, approve) -> PaRes``
PlayShopper = Callable[..., Awaitable[str]]


@dataclass(frozen=True)
class SandboxConveniences:
    """Test cards by name (name -> number) and the 3-D Secure shopper of the sandbox."""

    card_numbers: Mapping[str, str]
    play_3ds_shopper: PlayShopper


_lock = threading.Lock()
_provided: list[SandboxConveniences | None] = []


def provide_sandbox_conveniences(conveniences: SandboxConveniences | None) -> None:
    """Set (or, with None, withdraw) the conveniences of this process."""
    with _lock:
        _provided[:] = [conveniences]


def sandbox_conveniences() -> SandboxConveniences | None:
    """The conveniences of this process: given, else the entry point's, else None."""
    with _lock:
        if _provided:
            return _provided[0]
        found: SandboxConveniences | None = None
        for entry in entry_points(group=ENTRY_POINT_GROUP):
            loaded = entry.load()
            found = loaded() if callable(loaded) else loaded
            break
        _provided[:] = [found]
        return found
