"""Playing the shopper's browser in tests and the demo: the 3-D Secure challenge.

A real browser posts the merchant's 3DS form to the ACS, the shopper clicks, and the ACS page
posts ``PaRes`` back to the merchant. :func:`complete_challenge` does the first two steps over
HTTP against the sandbox ACS, reading the HTML forms as a browser would, and returns the
``PaRes`` the shopper's browser would carry to ``TermUrl``.
"""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urljoin

import httpx

__all__ = ["complete_challenge"]


class _Form:
    def __init__(self, action: str) -> None:
        self.action = action
        self.fields: dict[str, str] = {}
        self.buttons: dict[str, tuple[str, str]] = {}  # value -> (name, value)


class _Forms(HTMLParser):
    """Collects the forms of a page: action, hidden inputs, submit buttons."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[_Form] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(_Form(values.get("action", "")))
        elif self.forms and tag == "input" and "name" in values:
            self.forms[-1].fields[values["name"]] = values.get("value", "")
        elif self.forms and tag == "button" and "name" in values:
            self.forms[-1].buttons[values.get("value", "")] = (
                values["name"],
                values.get("value", ""),
            )


def _only_form(page: httpx.Response) -> _Form:
    if page.status_code != 200:
        raise AssertionError(f"the ACS answered {page.status_code}: {page.text[:200]}")
    parser = _Forms()
    parser.feed(page.text)
    if len(parser.forms) != 1:
        raise AssertionError(f"expected one form on the ACS page, found {len(parser.forms)}")
    return parser.forms[0]


async def complete_challenge(
    http: httpx.AsyncClient,
    challenge_url: str,
    md: str,
    pareq: str,
    term_url: str,
    approve: bool = True,
) -> str:
    """Open the ACS page, click Approve (or Fail), and return the ``PaRes`` it sends back."""
    page = await http.post(challenge_url, data={"MD": md, "PaReq": pareq, "TermUrl": term_url})
    form = _only_form(page)
    wanted = "approve" if approve else "fail"
    if wanted not in form.buttons:
        raise AssertionError(f"the ACS page has no {wanted!r} button")
    name, value = form.buttons[wanted]
    answer = await http.post(urljoin(str(page.url), form.action), data={**form.fields, name: value})
    back = _only_form(answer)
    if back.action != term_url:
        raise AssertionError(f"the ACS posts back to {back.action!r}, not to TermUrl")
    return back.fields["PaRes"]
