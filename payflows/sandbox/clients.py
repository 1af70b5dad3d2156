"""The merchant's clients (``/clients/``) and the cards stored for each.

A client is a plain dict of CHIP's contact fields. Listing pages are 50 long, oldest first.
"""

from __future__ import annotations

import uuid
from typing import Any, Final

from payflows.sandbox import wire
from payflows.sandbox.core import Core
from payflows.sandbox.errors import FieldErrors, NotFound, text

__all__ = ["CLIENT_FIELDS", "Clients", "client_fields"]

CLIENT_FIELDS: Final = (
    "email",
    "phone",
    "full_name",
    "street_address",
    "city",
    "state",
    "zip_code",
    "country",
)
_PAGE_SIZE: Final = 50


def client_fields(body: dict[str, Any], errors: FieldErrors, *, partial: bool) -> dict[str, str]:
    """The client fields of ``body`` (all of them unless ``partial``), ``email`` required."""
    values: dict[str, str] = {}
    for key in CLIENT_FIELDS:
        if key in body or not partial:
            values[key] = text(body, key, errors)
    if "email" in values and ("@" not in values["email"]):
        if values["email"]:
            errors.add("email", "invalid", "Enter a valid email address.")
        else:
            errors.add("email", "required", "This field is required.")
    return values


class Clients:
    def __init__(self, core: Core) -> None:
        self.core = core

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        errors = FieldErrors()
        values = client_fields(body, errors, partial=False)
        errors.raise_if_any()
        now = self.core.now()
        client = {"id": str(uuid.uuid4()), **values, "created_on": now, "updated_on": now}
        self.core.state.clients[client["id"]] = client
        self.core.state.changed("clients", client["id"])
        return dict(client)

    def get(self, client_id: str) -> dict[str, Any]:
        client = self.core.state.clients.get(client_id)
        if client is None:
            raise NotFound()
        return dict(client)

    def list(self, email: str | None, page: int) -> tuple[list[dict[str, Any]], bool]:
        """One page (1-based) of clients, oldest first, and whether another page follows."""
        clients = self.core.state.clients.values()
        matches = [c for c in clients if email is None or c["email"] == email]
        start = (page - 1) * _PAGE_SIZE
        more = len(matches) > start + _PAGE_SIZE
        return [dict(c) for c in matches[start : start + _PAGE_SIZE]], more

    def update(self, client_id: str, body: dict[str, Any], *, partial: bool) -> dict[str, Any]:
        client = self.core.state.clients.get(client_id)
        if client is None:
            raise NotFound()
        errors = FieldErrors()
        values = client_fields(body, errors, partial=partial)
        errors.raise_if_any()
        client.update(values)
        client["updated_on"] = max(self.core.now(), client["updated_on"])
        self.core.state.changed("clients", client_id)
        return dict(client)

    def delete(self, client_id: str) -> None:
        if self.core.state.clients.pop(client_id, None) is None:
            raise NotFound()
        self.core.state.changed("clients", client_id)

    def tokens(self, client_id: str) -> list[dict[str, Any]]:
        """The client's live stored cards, newest first."""
        if client_id not in self.core.state.clients:
            raise NotFound()
        tokens = [
            t for t in self.core.state.tokens.values() if t.client_id == client_id and not t.deleted
        ]
        return [wire.token_wire(t) for t in reversed(tokens)]
