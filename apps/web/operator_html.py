"""The operator pages' HTML: find a payment, act on it, decide holds. Plain HTML, escaped.

Every value from the ledger or the request is escaped, and every free-text value (email, card,
business key, references, the search itself) goes through :func:`shown`, which hides anything
that looks like a card number: the pages show the gateway's masked PAN, never a card number,
even if one had slipped into a field where it does not belong. No script runs (the pages are
served with the reports' Content-Security-Policy: no script, forms post only to this app);
every form carries the session's CSRF token.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime
from html import escape
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from payflows.domain.money import format_amount
from payflows.domain.screening import contains_card_number
from payflows.lookup import PaymentView

__all__ = [
    "holds_page",
    "message_page",
    "new_refund_ref",
    "result_page",
    "search_page",
    "shown",
]

_STYLE = (
    "<style>body{font-family:system-ui,sans-serif;max-width:64rem;margin:1.5rem auto;"
    "padding:0 1rem;color:#1f2933}nav a{margin-right:1rem}h1{font-size:1.4rem}"
    "h2{font-size:1.1rem;margin:0 0 .5rem}section{border:1px solid #d5dae1;border-radius:8px;"
    "padding:1rem;margin:1rem 0}dl{display:grid;grid-template-columns:12rem 1fr;gap:.3rem 1rem}"
    "dt{color:#52606d}dd{margin:0;word-break:break-all}table{border-collapse:collapse;"
    "width:100%}th,td{border-bottom:1px solid #e4e7eb;padding:.35rem .4rem;text-align:left;"
    "vertical-align:top;font-size:.9rem}form.act{display:inline-block;margin:.4rem .8rem .4rem 0}"
    "input,button,select{font-size:.95rem;padding:.3rem .4rem}input.amount{width:7rem}"
    ".bad{color:#b42318}.ok{color:#1f7a4d}.note{color:#52606d;font-size:.9rem}</style>"
)
_NAV = (
    '<nav><a href="/operator">Find a payment</a><a href="/operator/holds">Open holds</a>'
    '<a href="/reports">Settlement reports</a></nav>'
)
_LABELS = {
    "capture": "Capture now",
    "void": "Void (release the hold)",
    "refund": "Refund",
    "cancel": "Cancel before settlement",
}


def shown(value: object) -> str:
    """``value`` as text for a page, escaped; one that holds a card number is hidden whole."""
    if value is None or value == "":
        return "&ndash;"
    text = str(value)
    if contains_card_number(text):
        return "(hidden: looks like a card number)"
    return escape(text, quote=True)


def _when(value: datetime | str | None, zone: str) -> str:
    if value is None:
        return "&ndash;"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return escape(value.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %Z"))


def _document(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title>{_STYLE}</head><body>{_NAV}{body}</body></html>"
    )


def new_refund_ref() -> str:
    """A fresh refund reference for a refund form: the same form sent twice refunds once."""
    return "op-refund-" + secrets.token_hex(6)


def message_page(title: str, message: str, *, link: str = "/operator", label: str = "") -> str:
    """A clear page for a refusal or an error: what happened, and the way back."""
    back = label or "Back to the search"
    return _document(
        title,
        f'<main data-outcome="error"><h1>{escape(title)}</h1>'
        f'<p class="bad" role="alert">{escape(message)}</p>'
        f'<p><a href="{escape(link, quote=True)}">{escape(back)}</a></p></main>',
    )


def _hidden(csrf: str, **fields: str) -> str:
    pairs = {"csrf_token": csrf, **fields}
    return "".join(
        f'<input type="hidden" name="{escape(k, quote=True)}" value="{escape(v, quote=True)}">'
        for k, v in pairs.items()
    )


def _action_form(view: PaymentView, action: str, csrf: str) -> str:
    pid = view.purchase_id or ""
    extra = ""
    if action in {"capture", "refund"}:
        extra += (
            f'<label>Amount ({escape(view.currency)}) <input class="amount" name="amount" '
            'inputmode="decimal" placeholder="all" autocomplete="off"></label> '
        )
    if action == "refund":
        extra += (
            '<label>Your reference <input name="refund_ref" maxlength="64" required '
            f'value="{escape(new_refund_ref(), quote=True)}"></label> '
        )
    return (
        f'<form class="act" method="post" action="/operator/action" data-action="{action}">'
        f"{_hidden(csrf, purchase_id=pid, action=action)}{extra}"
        f'<button type="submit" name="go" value="{action}">{escape(_LABELS[action])}</button>'
        "</form>"
    )


def _payment(view: PaymentView, csrf: str, zone: str) -> str:
    rows: list[tuple[str, str]] = [
        ("Outcome", shown(view.outcome)),
        ("Purchase status", shown(view.purchase_status)),
        ("Decline reason", shown(view.decline_code)),
        ("Amount", shown(view.amount)),
        ("Paid", shown(view.paid)),
        ("Refunded", shown(view.refunded)),
        ("Card", shown(view.card)),
        ("Email", shown(view.email)),
        ("Kind", shown(view.kind)),
        ("Created", _when(view.created_at, zone)),
        ("Purchase id", shown(view.purchase_id)),
    ]
    if view.hold_expires_at is not None:
        rows += [
            ("Hold expires", _when(view.hold_expires_at, zone)),
            ("Hold decision", shown(view.hold_decision or "none yet")),
            ("Captured", shown(view.captured)),
        ]
    listing = "".join(f"<dt>{escape(k)}</dt><dd>{v}</dd>" for k, v in rows)
    refunds = ""
    if view.refunds:
        lines = "".join(
            f"<tr><td>{shown(r.refund_id)}</td><td>{shown(r.amount)}</td>"
            f"<td>{shown(r.status)}</td></tr>"
            for r in view.refunds
        )
        refunds = (
            "<h3>Refunds</h3><table><tr><th>Refund id</th><th>Amount</th><th>Status</th></tr>"
            f"{lines}</table>"
        )
    if view.actions and view.purchase_id:
        actions = "".join(_action_form(view, a, csrf) for a in view.actions)
    else:
        actions = '<p class="note">Nothing to do on this payment now.</p>'
    pid = escape(view.purchase_id or "", quote=True)
    return (
        f'<section class="payment" data-purchase="{pid}"><h2>{shown(view.business_key)}</h2>'
        f'<dl>{listing}</dl>{refunds}<div class="actions">{actions}</div></section>'
    )


def search_page(
    *,
    query: str,
    views: Sequence[PaymentView],
    csrf: str,
    zone: str,
    error: str | None = None,
    searched: bool = False,
) -> str:
    """The search box and, after a search, every payment it found with its actions."""
    value = "" if error or contains_card_number(query) else query
    alert = f'<p class="bad" role="alert">{escape(error)}</p>' if error else ""
    found = "".join(_payment(v, csrf, zone) for v in views)
    if searched and not error and not views:
        found = '<p id="nothing">No payment matches this search.</p>'
    body = (
        "<main><h1>Find a payment</h1>"
        '<form method="get" action="/operator" role="search">'
        '<label for="q">Order id, email, last four card digits or purchase id</label><br>'
        f'<input id="q" name="q" size="40" maxlength="200" value="{escape(value, quote=True)}" '
        'autocomplete="off" autofocus> <button id="search" type="submit">Search</button></form>'
        f'{alert}<div id="results">{found}</div>'
        '<p class="note">Amounts are in the currency\'s units (299.00). Capture and refund take '
        "all when the amount is empty. Card numbers are never shown, only the masked number."
        "</p></main>"
    )
    return _document("Find a payment", body)


_RESULT_FIELDS = ("business_key", "purchase_id", "purchase_status", "decline_code", "refund_id")


def result_page(*, state: str, action: str, result: Mapping[str, Any]) -> str:
    """What an action achieved: the run's state name (``Captured``, ``Declined: ...``)."""
    rows = [("Action", escape(action)), ("Result", shown(state))]
    for name in _RESULT_FIELDS:
        rows.append((name.replace("_", " ").capitalize(), shown(result.get(name))))
    cents, currency = result.get("amount_cents"), result.get("currency")
    if isinstance(cents, int) and isinstance(currency, str):
        rows.append(("Amount", shown(format_amount(cents, currency))))
    listing = "".join(f"<dt>{escape(k)}</dt><dd>{v}</dd>" for k, v in rows)
    pid = str(result.get("purchase_id") or "")
    good = not state.lower().startswith(("declined", "failed", "unknown"))
    again = f"/operator?q={quote(pid)}" if pid and not contains_card_number(pid) else "/operator"
    body = (
        f'<main data-outcome="{"ok" if good else "bad"}"><h1 class="{"ok" if good else "bad"}">'
        f"{shown(state)}</h1><dl>{listing}</dl>"
        f'<p><a id="back" href="{escape(again, quote=True)}">See the payment</a></p></main>'
    )
    return _document(f"{action}: {state}", body)


def _hold_row(hold: Mapping[str, Any], csrf: str, zone: str) -> str:
    currency = str(hold["currency"])
    authorised = format_amount(int(hold["authorised_cents"]), currency)
    decided = str(hold["decision"])
    if decided == "capture" and hold.get("decision_cents"):
        decided += " " + format_amount(int(hold["decision_cents"]), currency)
    policy = str(hold.get("effective_policy") or "")
    pid = str(hold["purchase_id"])
    options = "".join(
        f'<option value="{v}">{label}</option>'
        for v, label in (("capture", "Capture"), ("void", "Void"), ("none", "No decision"))
    )
    form = (
        f'<form method="post" action="/operator/holds/decision" data-purchase="'
        f'{escape(pid, quote=True)}">{_hidden(csrf, purchase_id=pid)}'
        f'<select name="decision" aria-label="decision">{options}</select> '
        f'<input class="amount" name="amount" inputmode="decimal" placeholder="all" '
        f'aria-label="amount to capture ({escape(currency)})" autocomplete="off"> '
        '<button type="submit">Record</button></form>'
    )
    flag = ' <span class="bad">needs attention</span>' if hold.get("needs_attention") else ""
    return (
        f"<tr><td>{shown(pid)}{flag}</td><td>{shown(hold.get('brand'))}</td>"
        f"<td>{shown(authorised)}</td><td>{_when(hold['expires_at'], zone)}</td>"
        f"<td>{_when(hold['act_by'], zone)}</td><td>{shown(decided)}</td>"
        f"<td>{shown(policy)}</td><td>{form}</td></tr>"
    )


def holds_page(
    *,
    holds: Sequence[Mapping[str, Any]],
    csrf: str,
    zone: str,
    notice: str | None = None,
    error: str | None = None,
) -> str:
    """Open holds, soonest deadline first, each with a form to record a decision."""
    alert = f'<p class="bad" role="alert">{escape(error)}</p>' if error else ""
    note = f'<p class="ok" role="status">{escape(notice)}</p>' if notice else ""
    if holds:
        rows = "".join(_hold_row(h, csrf, zone) for h in holds)
        table = (
            '<table id="holds"><tr><th>Purchase id</th><th>Brand</th><th>Authorised</th>'
            "<th>Expires</th><th>Act by</th><th>Decision</th><th>Policy if undecided</th>"
            f"<th>Decide</th></tr>{rows}</table>"
        )
    else:
        table = '<p id="nothing">No hold is open.</p>'
    body = (
        f"<main><h1>Open holds</h1>{note}{alert}"
        '<p class="note">A decision is carried out by the next sweep, before the act-by time; '
        "an undecided hold gets its policy. To capture or void at once, find the payment."
        f"</p>{table}</main>"
    )
    return _document("Open holds", body)
