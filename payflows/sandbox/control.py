"""The sandbox's own control routes (``/_sandbox/``): inspection, the clock, faults, webhooks,
brand switches and migrated tokens. Never faulted, always behind the standard key.

Every control refuses an out-of-range value with 400 and changes nothing: an advance of ``1e30``
seconds, a fault rule with a ``count`` past 64 bits, a timeout of a year.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from starlette.requests import Request
from starlette.responses import Response

from payflows.sandbox.errors import GatewayError
from payflows.sandbox.httputil import json_body, json_response, origin

if TYPE_CHECKING:
    from payflows.sandbox.app import Sandbox

__all__ = ["SWITCHES", "Control"]

SWITCHES: Final = ("allow_non_3ds", "allow_external_3ds", "timeout_seconds")
#: The longest the always-times-out card may hold its answer back.
MAX_TIMEOUT_SECONDS: Final = 3600


class Control:
    """The ``/_sandbox/`` handlers, bound to one running sandbox."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.engine = sandbox.engine
        self.config = sandbox.config

    async def inspect_purchases(self, request: Request) -> Response:
        params = request.query_params
        results = self.engine.inspect_purchases(
            params.get("reference"), params.get("status"), origin(request)
        )
        return json_response({"results": results})

    def _clock(self) -> dict[str, Any]:
        now = self.sandbox.clock.now()
        return {
            "now": int(now),
            "iso": datetime.fromtimestamp(now, UTC).isoformat().replace("+00:00", "Z"),
            "offset_seconds": self.sandbox.clock.offset,
        }

    async def clock(self, request: Request) -> Response:
        return json_response(self._clock())

    async def advance(self, request: Request) -> Response:
        self.engine.advance((await json_body(request)).get("seconds"))
        self.sandbox.dispatcher.retry_now()
        return json_response(self._clock())

    async def faults(self, request: Request) -> Response:
        injector = self.sandbox.injector
        if request.method == "PUT":
            rules = (await json_body(request)).get("rules")
            if not isinstance(rules, list):
                raise GatewayError.field("rules", "required", "A list of rules is required.")
            try:
                injector.set_rules(rules)
            except ValueError as exc:
                raise GatewayError.field("rules", "invalid", str(exc)) from None
        elif request.method == "DELETE":
            injector.clear()
        return json_response({"rules": injector.rules()})

    async def import_token(self, request: Request) -> Response:
        token_id = request.path_params["token_id"]
        return json_response(self.engine.import_token(token_id, await json_body(request)))

    async def deliveries(self, request: Request) -> Response:
        return json_response({"results": self.sandbox.dispatcher.deliveries()})

    async def flush(self, request: Request) -> Response:
        await self.sandbox.dispatcher.flush()
        return json_response({"results": self.sandbox.dispatcher.deliveries()})

    async def switches(self, request: Request) -> Response:
        config = self.config
        if request.method == "PUT":
            body = await json_body(request)
            errors: dict[str, list[dict[str, str]]] = {}
            for key, value in body.items():
                if key not in SWITCHES:
                    errors[key] = [{"message": "Unknown setting.", "code": "invalid"}]
                elif key == "timeout_seconds":
                    number = isinstance(value, int | float) and not isinstance(value, bool)
                    if (
                        not number
                        or not math.isfinite(value)
                        or not 0 <= value <= MAX_TIMEOUT_SECONDS
                    ):
                        message = f"A number of seconds from 0 to {MAX_TIMEOUT_SECONDS}."
                        errors[key] = [{"message": message, "code": "invalid"}]
                elif not isinstance(value, bool):
                    errors[key] = [{"message": "Must be true or false.", "code": "invalid"}]
            if errors:
                raise GatewayError.fields(errors)
            for key, value in body.items():
                setattr(config, key, float(value) if key == "timeout_seconds" else value)
        return json_response({key: getattr(config, key) for key in SWITCHES})
