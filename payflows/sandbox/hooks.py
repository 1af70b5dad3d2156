"""Webhook registrations (``/webhooks/``): each with its own RSA key, made off the event loop."""

from __future__ import annotations

import uuid
from typing import Any

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from payflows.sandbox import signing
from payflows.sandbox.core import Core
from payflows.sandbox.errors import FieldErrors, NotFound, flag, text
from payflows.sandbox.state import Webhook

__all__ = ["Webhooks"]


def _fields(body: dict[str, Any], errors: FieldErrors, *, partial: bool) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if "title" in body or not partial:
        values["title"] = text(body, "title", errors)
    if "all_events" in body or not partial:
        values["all_events"] = flag(body, "all_events", errors)
    if "events" in body or not partial:
        events = body.get("events") or []
        if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
            errors.add("events", "invalid", "Must be a list of event names.")
            events = []
        values["events"] = list(events)
    if "callback" in body or not partial:
        callback = body.get("callback")
        if not isinstance(callback, str) or not callback.startswith(("http://", "https://")):
            errors.add("callback", "invalid", "An http(s) URL is required.")
        values["callback"] = callback
    return values


class Webhooks:
    def __init__(self, core: Core) -> None:
        self.core = core

    def check(self, body: dict[str, Any]) -> None:
        """Validate a new webhook before the costly key generation."""
        errors = FieldErrors()
        _fields(body, errors, partial=False)
        errors.raise_if_any()

    def create(self, body: dict[str, Any], key: RSAPrivateKey) -> Webhook:
        """Register a webhook; ``key`` is its fresh RSA key (made off the event loop)."""
        errors = FieldErrors()
        values = _fields(body, errors, partial=False)
        errors.raise_if_any()
        now = self.core.now()
        webhook = Webhook(
            id=str(uuid.uuid4()),
            public_key=signing.public_pem(key),
            private_key_pem=signing.private_pem(key),
            created_on=now,
            updated_on=now,
            **values,
        )
        self.core.state.webhooks[webhook.id] = webhook
        self.core.bus.remember_key(webhook.id, key)
        self.core.bus.forget()
        self.core.state.changed("webhooks", webhook.id)
        return webhook

    def get(self, webhook_id: str) -> Webhook:
        webhook = self.core.state.webhooks.get(webhook_id)
        if webhook is None:
            raise NotFound()
        return webhook

    def update(self, webhook_id: str, body: dict[str, Any], *, partial: bool) -> Webhook:
        webhook = self.get(webhook_id)
        errors = FieldErrors()
        values = _fields(body, errors, partial=partial)
        errors.raise_if_any()
        for key, value in values.items():
            setattr(webhook, key, value)
        webhook.updated_on = max(self.core.now(), webhook.updated_on)
        self.core.bus.forget()
        self.core.state.changed("webhooks", webhook_id)
        return webhook

    def delete(self, webhook_id: str) -> None:
        if self.core.state.webhooks.pop(webhook_id, None) is None:
            raise NotFound()
        self.core.bus.forget(webhook_id)
        self.core.state.changed("webhooks", webhook_id)
