"""Helpers for the flow tests: sandbox control over HTTP, ledger inspection, card inputs."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from flows import PaymentResult, result_of_run
from payflows.domain.money import format_amount

__all__ = ["Ledger", "Sandbox", "amount_text", "card", "run", "shopper"]


async def run(flow: Any, form: Mapping[str, Any] | None = None, /, **values: Any) -> PaymentResult:
    """A scenario flow run in-process with its flat form: its result, paid, declined or waiting."""
    return await result_of_run(flow(**{**(form or {}), **values}, return_state=True))


def amount_text(cents: int, currency: str = "ZAR") -> str:
    """``29_900`` as the form's text, ``"299.00"``: what an operator types."""
    return format_amount(cents, currency).split(" ", 1)[1].replace(" ", "")


def card(name: str) -> dict[str, str]:
    """The form's card fields for a sandbox test card."""
    return {"sandbox_card": name}


def shopper(tag: str) -> dict[str, str]:
    """The form's shopper fields."""
    return {"email": f"{tag.lower()}@example.test", "full_name": "Thandi Nkosi"}


@dataclass
class Sandbox:
    http: httpx.AsyncClient
    base_url: str

    async def faults(self, *rules: dict[str, Any]) -> None:
        response = await self.http.put("/_sandbox/faults/", json={"rules": list(rules)})
        assert response.status_code == 200, response.text

    async def clear_faults(self) -> None:
        await self.http.delete("/_sandbox/faults/")

    async def purchases(self, reference: str) -> list[dict[str, Any]]:
        response = await self.http.get("/_sandbox/purchases/", params={"reference": reference})
        assert response.status_code == 200, response.text
        return response.json()["results"]  # type: ignore[no-any-return]

    async def purchase(self, purchase_id: str) -> dict[str, Any]:
        response = await self.http.get(f"/api/v1/purchases/{purchase_id}/")
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    async def advance(self, seconds: int) -> None:
        response = await self.http.post("/_sandbox/clock/advance/", json={"seconds": seconds})
        assert response.status_code == 200, response.text

    async def configure(self, **switches: object) -> None:
        response = await self.http.put("/_sandbox/config/", json=switches)
        assert response.status_code == 200, response.text


class Ledger:
    """The test's SQLite ledger, read with plain SQL (independent of the code under test)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.url = f"sqlite:///{path}"

    def rows(self, sql: str, *args: Any) -> list[sqlite3.Row]:
        with sqlite3.connect(self.path) as db:
            db.row_factory = sqlite3.Row
            return list(db.execute(sql, args))

    def attempt(self, business_key: str) -> sqlite3.Row | None:
        found = self.rows("SELECT * FROM payment_attempts WHERE business_key = ?", business_key)
        return found[0] if found else None

    def fingerprint(self) -> str:
        """A digest of every table's rows: equal before and after means nothing changed."""
        digest = hashlib.sha256()
        with sqlite3.connect(self.path) as db:
            tables = [
                r[0]
                for r in db.execute(
                    "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name"
                )
            ]
            for table in tables:
                digest.update(table.encode())
                for row in db.execute(f'SELECT * FROM "{table}" ORDER BY rowid'):
                    digest.update(repr(row).encode())
        return digest.hexdigest()

    def close(self) -> None:
        """Nothing kept open: connections are per call."""
