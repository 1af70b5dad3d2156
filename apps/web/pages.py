"""The shopper's pages: checkout form, 3-D Secure hand-off, result. Plain HTML, escaped.

Every value is escaped on the way in. Nothing a shopper typed into a card field is ever passed
here: a checkout form shown again after a mistake keeps the email and the name on the card but
not the card number, expiry or CVC (and not a name or email that holds a card number). The order
(amount, product) comes from the shop's signed order, never from the form.

Each page comes with its Content-Security-Policy (:func:`csp`): nothing loads from anywhere, the
one inline style and the one inline script are allowed by their hashes, and forms post only to
this app (or, on the 3-D Secure hand-off, to the issuer's ACS).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from html import escape
from urllib.parse import urlsplit

from payflows.domain.money import format_amount

__all__ = [
    "CheckoutValues",
    "checkout_page",
    "csp",
    "decline_reason",
    "message_page",
    "result_page",
    "three_ds_redirect_page",
]

_STYLE = """
  * { box-sizing: border-box; }
  body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; background: #f3f5f8;
         color: #1b2540; margin: 0; min-height: 100vh; display: flex; align-items: center;
         justify-content: center; padding: 1.5rem; }
  main { background: #fff; border-radius: 10px; box-shadow: 0 4px 20px rgba(20, 30, 60, .10);
         padding: 2rem 2.25rem; width: 100%; max-width: 30rem; }
  h1 { font-size: 1.35rem; margin: 0 0 .35rem; }
  .lead { color: #5b6580; margin: 0 0 1.5rem; }
  fieldset { border: 0; padding: 0; margin: 0 0 1.25rem; }
  legend { font-weight: 600; margin-bottom: .6rem; padding: 0; }
  label { display: block; font-size: .85rem; color: #5b6580; margin: .7rem 0 .25rem; }
  input, select { width: 100%; font: inherit; padding: .6rem .7rem; border: 1px solid #ccd2de;
                  border-radius: 6px; background: #fff; color: inherit; }
  input:focus, select:focus { outline: 2px solid #3d6fd9; outline-offset: -1px; }
  .row { display: grid; grid-template-columns: 1fr 1fr; gap: 0 .9rem; }
  .modes { display: flex; gap: 1.25rem; margin-top: .2rem; }
  .modes label { display: flex; align-items: center; gap: .4rem; margin: 0; color: inherit;
                 font-size: .95rem; }
  .modes input { width: auto; }
  button, .button { display: inline-block; width: 100%; border: 0; border-radius: 6px;
                    padding: .8rem 1rem; font: inherit; font-weight: 600; cursor: pointer;
                    background: #1f4fb8; color: #fff; text-align: center; text-decoration: none; }
  .error { background: #fdecec; color: #8c1d1d; border: 1px solid #f3c1c1; border-radius: 6px;
           padding: .7rem .9rem; margin: 0 0 1rem; }
  .badge { display: inline-block; font-size: .8rem; font-weight: 700; letter-spacing: .04em;
           text-transform: uppercase; border-radius: 999px; padding: .25rem .7rem;
           margin-bottom: .9rem; }
  .ok .badge { background: #e3f4ea; color: #1f7a4d; }
  .bad .badge { background: #fdecec; color: #a12a2a; }
  .wait .badge { background: #fff4dc; color: #8a5a00; }
  dl { display: grid; grid-template-columns: auto 1fr; gap: .45rem 1rem; margin: 1.25rem 0; }
  dt { color: #5b6580; }
  dd { margin: 0; font-weight: 600; word-break: break-all; }
  .note { color: #5b6580; font-size: .85rem; margin-top: 1.25rem; }
"""

#: What the shopper is told for each decline code (never the raw gateway message).
_REASONS = {
    "insufficient_funds": "Your bank declined the payment: insufficient funds.",
    "do_not_honour": "Your bank declined the payment. Contact your bank or use another card.",
    "expired_card": "The card has expired.",
    "3ds_authentication_failed": "3-D Secure authentication failed.",
    "authorization_failed": "Your bank declined the payment.",
    "general_transaction_error": "The payment could not be processed. Please try again.",
    "s2s_not_supported": "This card cannot be used for this payment.",
    "validation_cvc_invalid": "The security code (CVC) is not valid.",
    "validation_expires_invalid": "The expiry date is not valid.",
    "validation_card_number_invalid": "The card number is not valid.",
}


def decline_reason(code: str | None) -> str:
    if not code:
        return "Your bank declined the payment."
    return _REASONS.get(code, "Your bank declined the payment.")


_THREE_DS_SCRIPT = 'document.getElementById("three-ds").submit();'


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def csp(*, acs_url: str | None = None) -> str:
    """The Content-Security-Policy of a page (the 3-D Secure hand-off names its ACS)."""
    form_action = "'self'"
    script = "'none'"
    if acs_url is not None:
        parts = urlsplit(acs_url)
        form_action = f"{parts.scheme}://{parts.netloc}"
        script = _sha256(_THREE_DS_SCRIPT)
    return (
        f"default-src 'none'; style-src {_sha256(_STYLE)}; script-src {script}; "
        f"form-action {form_action}; frame-ancestors 'none'; base-uri 'none'"
    )


def _document(title: str, body: str, *, extra_head: str = "") -> str:
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="referrer" content="same-origin">\n'
        f"<title>{escape(title)}</title>\n<style>{_STYLE}</style>\n{extra_head}</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    )


@dataclass(frozen=True, slots=True)
class CheckoutValues:
    """What the form shows again after a mistake. Deliberately has no card fields.

    ``order`` is the shop's signed order token, ``csrf`` the form's CSRF token.
    """

    order: str
    csrf: str
    email: str = ""
    cardholder_name: str = ""


def checkout_page(
    values: CheckoutValues,
    *,
    order_id: str,
    product: str,
    amount_cents: int,
    currency: str,
    mode: str,
    error: str | None = None,
) -> str:
    v = {k: escape(str(getattr(values, k)), quote=True) for k in CheckoutValues.__slots__}
    alert = f'<p class="error" role="alert">{escape(error)}</p>\n' if error else ""
    how = "Authorise only (hold)" if mode == "preauth" else "Pay now"
    body = f"""<main>
  <h1>Checkout</h1>
  <p class="lead">Pay by card.</p>
  {alert}<form method="post" action="/checkout" autocomplete="off">
    <input type="hidden" name="order" value="{v["order"]}">
    <input type="hidden" name="csrf_token" value="{v["csrf"]}">
    <fieldset>
      <legend>Order</legend>
      <dl>
        <dt>Order</dt><dd id="order-id">{escape(order_id)}</dd>
        <dt>Product</dt><dd id="product">{escape(product)}</dd>
        <dt>Amount</dt><dd id="amount">{escape(format_amount(amount_cents, currency))}</dd>
        <dt>Payment</dt><dd id="mode">{escape(how)}</dd>
      </dl>
      <label for="email">Email</label>
      <input id="email" name="email" type="email" required value="{v["email"]}">
    </fieldset>
    <fieldset>
      <legend>Card</legend>
      <label for="cardholder_name">Name on card</label>
      <input id="cardholder_name" name="cardholder_name" autocomplete="cc-name" required
             value="{v["cardholder_name"]}">
      <label for="card_number">Card number</label>
      <input id="card_number" name="card_number" inputmode="numeric" autocomplete="cc-number"
             required>
      <div class="row">
        <div><label for="expiry">Expiry (MM/YY)</label>
        <input id="expiry" name="expiry" placeholder="MM/YY" autocomplete="cc-exp" required></div>
        <div><label for="cvc">CVC</label>
        <input id="cvc" name="cvc" inputmode="numeric" autocomplete="cc-csc" required></div>
      </div>
    </fieldset>
    <button type="submit" id="pay">Pay</button>
  </form>
</main>"""
    return _document("Checkout", body)


def three_ds_redirect_page(*, acs_url: str, md: str, pareq: str, term_url: str) -> str:
    """The hand-off to the card issuer's ACS: a form the browser submits by itself."""
    body = f"""<main>
  <h1>Verifying your card</h1>
  <p class="lead">You are being taken to your bank to confirm this payment&hellip;</p>
  <form id="three-ds" method="post" action="{escape(acs_url, quote=True)}">
    <input type="hidden" name="MD" value="{escape(md, quote=True)}">
    <input type="hidden" name="PaReq" value="{escape(pareq, quote=True)}">
    <input type="hidden" name="TermUrl" value="{escape(term_url, quote=True)}">
    <noscript><button type="submit">Continue to your bank</button></noscript>
  </form>
</main>
<script>{_THREE_DS_SCRIPT}</script>"""
    return _document("Verifying your card", body)


def result_page(
    *,
    outcome: str,
    title: str,
    message: str,
    details: list[tuple[str, str]] | None = None,
) -> str:
    """``outcome`` is ``ok``, ``bad`` or ``wait``: it picks the badge and its colour."""
    badge = {"ok": "Success", "bad": "Declined", "wait": "Pending"}.get(outcome, outcome)
    rows = "".join(
        f"<dt>{escape(label)}</dt><dd>{escape(value)}</dd>" for label, value in details or []
    )
    listing = f"<dl>{rows}</dl>" if rows else ""
    kind = escape(outcome, quote=True)
    body = f"""<main class="{kind}" data-outcome="{kind}">
  <span class="badge">{escape(badge)}</span>
  <h1>{escape(title)}</h1>
  <p class="lead">{escape(message)}</p>
  {listing}
  <a class="button" href="/checkout">New payment</a>
</main>"""
    return _document(title, body)


def message_page(title: str, message: str) -> str:
    """An error page for a request that went wrong before any payment step."""
    body = f"""<main class="bad" data-outcome="error">
  <h1>{escape(title)}</h1>
  <p class="lead">{escape(message)}</p>
  <a class="button" href="/checkout">Back to checkout</a>
</main>"""
    return _document(title, body)
