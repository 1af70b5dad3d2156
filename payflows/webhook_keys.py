"""The public keys that may sign a webhook delivery: registered webhooks and the company key.

Anyone can POST to a webhook URL, so :mod:`payflows.webhooks` first checks a delivery against
every key that may have signed it. Prefect-free; re-exported by :mod:`payflows.webhooks`.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from payflows.gateway import Webhook, verify_signature

__all__ = ["COMPANY_KEY", "RegisteredWebhook", "WebhookKeyStore"]

#: The name :meth:`WebhookKeyStore.verify` gives the gateway's company key.
COMPANY_KEY = "company"

# After a failed ``GET /public_key/`` the receiver does not ask again for this long, so a flood
# of forged deliveries cannot turn into a flood of calls to the gateway.
_COMPANY_KEY_RETRY_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class RegisteredWebhook:
    """A webhook created at the gateway through payflows: what its deliveries are checked with."""

    id: str
    callback: str
    public_key: str
    events: tuple[str, ...] = ()
    all_events: bool = False
    registered_at: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "callback": self.callback,
            "events": list(self.events),
            "all_events": self.all_events,
            "registered_at": self.registered_at,
            "public_key": self.public_key,
        }


class WebhookKeyStore:
    """The public keys that may sign a delivery.

    Registered webhooks live in a JSON file (``PAYFLOWS_WEBHOOK_KEYS_FILE``,
    ``{"webhooks": [{id, callback, events, all_events, registered_at, public_key}]}``) that the
    ``register-webhook`` command writes and the receiver re-reads whenever it changes, so a
    webhook registered while the web app runs is trusted at once. Public keys are not secrets;
    the file needs no protection beyond its integrity. The company key is fetched from the gateway
    the first time a delivery is signed by none of the registered keys, then kept.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        fetch_company_key: Callable[[], Awaitable[str]] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = Path(path)
        self._fetch_company_key = fetch_company_key
        self._clock = clock
        self._company_key: str | None = None
        self._company_failed_at: float | None = None
        self._company_lock = asyncio.Lock()
        self._cached: tuple[tuple[int, int], list[RegisteredWebhook]] | None = None

    # -- registered webhooks -------------------------------------------------------------------

    def registered(self) -> list[RegisteredWebhook]:
        """The registered webhooks, re-read only when the file changed."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return []
        stamp = (stat.st_mtime_ns, stat.st_size)
        if self._cached is not None and self._cached[0] == stamp:
            return self._cached[1]
        hooks = self._read()
        self._cached = (stamp, hooks)
        return hooks

    def _read(self) -> list[RegisteredWebhook]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
        hooks = []
        for item in data.get("webhooks", []) if isinstance(data, dict) else []:
            if not isinstance(item, dict) or not item.get("public_key") or not item.get("id"):
                continue
            hooks.append(
                RegisteredWebhook(
                    id=str(item["id"]),
                    callback=str(item.get("callback", "")),
                    public_key=str(item["public_key"]),
                    events=tuple(item.get("events") or ()),
                    all_events=bool(item.get("all_events", False)),
                    registered_at=str(item.get("registered_at", "")),
                )
            )
        return hooks

    def add(self, webhook: Webhook) -> RegisteredWebhook:
        """Remember a webhook just created at the gateway (replacing one with the same id)."""
        if not webhook.public_key:
            raise ValueError(f"webhook {webhook.id} came back without a public_key")
        entry = RegisteredWebhook(
            id=webhook.id,
            callback=webhook.callback or "",
            public_key=webhook.public_key,
            events=tuple(webhook.events),
            all_events=webhook.all_events,
            registered_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        hooks = [h for h in self._read() if h.id != webhook.id] + [entry]
        self._write(hooks)
        return entry

    def _write(self, hooks: list[RegisteredWebhook]) -> None:
        # Write-then-rename: a receiver reading the file mid-write sees the old or the new one.
        self.path.parent.mkdir(parents=True, exist_ok=True)
        body = json.dumps({"webhooks": [h.as_json() for h in hooks]}, indent=2) + "\n"
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(body)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._cached = None

    # -- the company key -----------------------------------------------------------------------

    async def company_key(self) -> str | None:
        """The gateway's company key, fetched once; None while the gateway cannot be asked."""
        if self._company_key is not None or self._fetch_company_key is None:
            return self._company_key
        async with self._company_lock:
            if self._company_key is not None:
                return self._company_key
            failed = self._company_failed_at
            if failed is not None and self._clock() - failed < _COMPANY_KEY_RETRY_SECONDS:
                return None
            try:
                self._company_key = await self._fetch_company_key()
            except Exception:
                self._company_failed_at = self._clock()
                return None
            return self._company_key

    # -- verification --------------------------------------------------------------------------

    async def verify(self, body: bytes, signature: str | None) -> str | None:
        """Which key signed ``body`` (a webhook id or :data:`COMPANY_KEY`), or None."""
        if not signature:
            return None
        for hook in self.registered():
            if verify_signature(body, signature, hook.public_key):
                return hook.id
        company = await self.company_key()
        if company is not None and verify_signature(body, signature, company):
            return COMPANY_KEY
        return None
