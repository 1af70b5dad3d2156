"""What ``payflows up`` wires between its children so the stack behaves like production.

- the ledger URL every child uses is absolute, so the deployments' flow runs (subprocesses of
  ``payflows serve``, maybe in another directory) write the ledger the operator looks at;
- the sandbox keeps its state in a file of the data directory, so purchases survive restarts;
- the sample migrated card tokens (``data/samples/sandbox_tokens.csv``) are taught to the
  sandbox, so the sample subscriptions can be billed (what the real gateway's token migration
  does);
- the merchant's webhook is registered at the gateway once (not again on every restart), so
  deliveries reach the web app and its ``payflows.*`` events reach Prefect;
- the operator pages (``/reports``, ``/holds``, ``/operator/payments``) get a token even when
  ``PAYFLOWS_OPERATOR_TOKEN`` is unset: one generated into ``data/operator-token`` (mode 600)
  and kept across restarts, so the report links of the Prefect artifacts open. The token is a
  credential: its file is named on the console, its value never printed.

Each step is idempotent: running ``payflows up`` again changes nothing that is already right.
"""

from __future__ import annotations

import csv
import os
import secrets
from pathlib import Path

import httpx

from payflows.settings import Settings

__all__ = [
    "absolute_database_url",
    "ensure_webhook",
    "operator_token_file",
    "sample_token_cards",
    "teach_tokens",
]


def absolute_database_url(url: str, cwd: Path) -> str:
    """A relative SQLite URL made absolute (relative to ``cwd``); other URLs unchanged."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url.startswith(prefix + "/") or ":memory:" in url:
        return url
    return prefix + str((cwd / url.removeprefix(prefix)).resolve())


def operator_token_file(data_dir: Path) -> tuple[Path, str]:
    """The stack's operator token: read from ``data_dir/operator-token``, else made there.

    Created owner-only (0600) in one step, so no other user of the machine can read it.
    """
    path = data_dir / "operator-token"
    if path.exists():
        token = path.read_text(encoding="ascii").strip()
        if token:
            return path, token
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(token + "\n")
    return path, token


def sample_token_cards(samples: Path | None = None) -> dict[str, str]:
    """Which sandbox test card each sample migrated token stands for (default: the samples)."""
    if samples is None:
        from apps.samples import samples_dir

        samples = samples_dir()
    with (samples / "sandbox_tokens.csv").open(newline="", encoding="utf-8") as handle:
        return {row["recurring_token"]: row["sandbox_card"] for row in csv.DictReader(handle)}


def teach_tokens(sandbox_origin: str, api_key: str, cards: dict[str, str]) -> int:
    """Teach the sandbox each migrated token (teaching one again keeps the first); the count."""
    headers = {"Authorization": f"Bearer {api_key}"}
    with httpx.Client(base_url=sandbox_origin, headers=headers, timeout=30.0) as http:
        for token, card in cards.items():
            response = http.put(f"/_sandbox/recurring_tokens/{token}/", json={"card": card})
            response.raise_for_status()
    return len(cards)


async def ensure_webhook(settings: Settings, callback: str, title: str = "payflows") -> bool:
    """Register a webhook for ``callback`` unless the gateway and the key store both know one.

    Returns whether one was created. A webhook the gateway has but whose public key was lost
    (or the other way round) is registered anew, so deliveries are always verifiable.
    """
    from payflows.gateway import PreciumClient
    from payflows.webhooks import WebhookKeyStore
    from tasks.secrets import aresolve_secret_blocks

    store = WebhookKeyStore(settings.webhook_keys_file)
    known = {hook.id for hook in store.registered() if hook.callback == callback}
    resolved = await aresolve_secret_blocks(settings)
    async with PreciumClient.from_settings(resolved) as gateway:
        page = await gateway.list_webhooks()
        if any(hook.id in known and hook.callback == callback for hook in page.results):
            return False
        webhook = await gateway.create_webhook(title, callback, all_events=True)
    store.add(webhook)
    return True
