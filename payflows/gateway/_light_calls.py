"""The light state calls of the Precium client, for bulk charge and sweep loops.

Each is one of the client's calls reading back only a :class:`PurchaseState` (no full
:class:`Purchase` model to build), and the create call sends a body encoded once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from payflows.gateway._http import HttpGateway, positive_cents, route
from payflows.gateway._models import PurchaseRequest
from payflows.gateway._state import PurchaseState

__all__ = ["LightCalls"]


class LightCalls(HttpGateway):
    """The client's calls that read back a :class:`PurchaseState` only."""

    def purchase_body(self, request: PurchaseRequest) -> dict[str, Any]:
        """The wire body of ``request`` (validated, with this client's brand), for
        :meth:`create_purchase_state`: build it once, send it many times (a loop changes only
        ``reference``). Treat it as read-only."""
        if request.brand_id is None:
            request = request.with_brand(self.brand_id)
        return request.to_body()

    async def create_purchase_state(self, body: Mapping[str, Any]) -> PurchaseState:
        """:meth:`create_purchase` for a body from :meth:`purchase_body`; reads back only a
        :class:`PurchaseState`. Same errors as :meth:`create_purchase`."""
        return await self._call(
            "POST", "purchases/", PurchaseState.from_body, content=orjson.dumps(body)
        )

    async def charge_state(self, purchase_id: str, recurring_token: str) -> PurchaseState:
        """:meth:`charge`, reading back only a :class:`PurchaseState` (declines raised alike)."""
        state = await self._call(
            "POST",
            route("purchases", purchase_id, "charge"),
            PurchaseState.from_body,
            content=orjson.dumps({"recurring_token": recurring_token}),
            purchase_id=purchase_id,
            expect_decline=True,
        )
        return self._not_declined(purchase_id, state)

    async def get_purchase_state(self, purchase_id: str) -> PurchaseState:
        """:meth:`get_purchase`, reading only a :class:`PurchaseState`."""
        return await self._call(
            "GET",
            route("purchases", purchase_id),
            PurchaseState.from_body,
            purchase_id=purchase_id,
        )

    async def capture_state(self, purchase_id: str, amount: int | None = None) -> PurchaseState:
        """:meth:`capture`, reading back only a :class:`PurchaseState` (the hold sweep)."""
        body = None if positive_cents(amount) is None else {"amount": amount}
        return await self._call(
            "POST",
            route("purchases", purchase_id, "capture"),
            PurchaseState.from_body,
            content=None if body is None else orjson.dumps(body),
            purchase_id=purchase_id,
        )

    async def release_state(self, purchase_id: str) -> PurchaseState:
        """:meth:`release`, reading back only a :class:`PurchaseState` (the hold sweep)."""
        return await self._call(
            "POST",
            route("purchases", purchase_id, "release"),
            PurchaseState.from_body,
            purchase_id=purchase_id,
        )
