"""The HTML pages a payer's browser sees: the payment page and the ACS challenge.

Neither takes a key (a browser has none). Every value shown is HTML-escaped; a page never shows
more of a card than its masked PAN.
"""

from __future__ import annotations

from importlib import resources
from string import Template
from typing import Final

from starlette.requests import Request
from starlette.responses import Response

from payflows.domain.money import format_amount
from payflows.sandbox.engine import Engine
from payflows.sandbox.errors import GatewayError, NotFound
from payflows.sandbox.httputil import form, origin, page

__all__ = ["Pages"]

_TEMPLATES = resources.files("payflows.sandbox") / "templates"
_ACS_PAGE: Final = Template((_TEMPLATES / "acs.html").read_text(encoding="utf-8"))
_ACS_RETURN: Final = Template((_TEMPLATES / "acs_return.html").read_text(encoding="utf-8"))
_CHECKOUT: Final = Template((_TEMPLATES / "checkout.html").read_text(encoding="utf-8"))
_ERROR_PAGE: Final = Template((_TEMPLATES / "error.html").read_text(encoding="utf-8"))


class Pages:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def checkout(self, request: Request) -> Response:
        """``GET {checkout_url}``: the payer opens the payment page (``purchase.viewed``)."""
        try:
            p = self.engine.view_purchase(request.path_params["purchase_id"])
        except NotFound:
            return page(_ERROR_PAGE, 404, message="No such purchase.")
        return page(
            _CHECKOUT,
            merchant="Payflows sandbox merchant",
            reference=p.reference or p.reference_generated,
            amount=format_amount(p.total, p.currency),
            purchase_status=p.status,
            direct_post_url=f"{origin(request)}/p/{p.id}/",
        )

    async def acs(self, request: Request) -> Response:
        """The issuer's challenge: shows the purchase, then posts the signed PaRes to TermUrl."""
        md = request.path_params["md"]
        try:
            view = self.engine.acs_view(md)
        except NotFound:
            return page(_ERROR_PAGE, 404, message="No such 3-D Secure session.")
        fields = await form(request) if request.method == "POST" else dict(request.query_params)
        if fields.get("MD", md) != md:
            return page(_ERROR_PAGE, 400, message="MD does not match this page.")
        term_url = fields.get("TermUrl", "")
        pareq = fields.get("PaReq", view["pareq"])
        decision = fields.get("decision")
        if decision is None:
            return page(
                _ACS_PAGE,
                merchant=view["merchant"],
                amount=view["amount"],
                brand=view["brand"].capitalize(),
                masked_pan=view["masked_pan"],
                action=f"{origin(request)}/acs/{md}/",
                md=md,
                pareq=pareq,
                term_url=term_url,
            )
        if decision not in ("approve", "fail"):
            return page(_ERROR_PAGE, 400, message="decision must be approve or fail.")
        if not term_url.startswith(("http://", "https://")):
            return page(_ERROR_PAGE, 400, message="TermUrl must be an http(s) URL.")
        try:
            pares = self.engine.acs_decide(md, pareq, approve=decision == "approve")
        except GatewayError:
            return page(_ERROR_PAGE, 400, message="PaReq does not belong to this session.")
        return page(_ACS_RETURN, term_url=term_url, pares=pares, md=md)
