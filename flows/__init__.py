"""Every S2S scenario as a Prefect flow: a flat form in, a small typed result out.

Each flow is idempotent on the merchant's business key (order id, booking id, refund reference,
subscription and period): running it twice pays once. Cards arrive as one-time vault references
(``card_ref``) or, against the local sandbox only, as test-card names (``sandbox_card``).
A scenario flow's parameters are flat, one field each (:mod:`flows._fields`), and
:mod:`flows._forms` turns them into the request model the tasks take; the registry
:mod:`flows.scenarios` lists them with their help and CLI command.

| flow name | function | request model (made from the form) |
|---|---|---|
| zero-auth-validation | :func:`zero_auth_validation` | :class:`ZeroAuthRequest` |
| preauthorize | :func:`preauthorize` | :class:`PreauthRequest` |
| capture-hold | :func:`capture_hold` | :class:`CaptureRequest` |
| void-hold | :func:`void_hold` | :class:`VoidRequest` |
| recurring-preauth | :func:`recurring_preauth` | :class:`RecurringPreauthRequest` |
| customer-initiated-payment | :func:`customer_initiated_payment` | :class:`CustomerInitiatedPaymentRequest` |
| external-3ds-payment | :func:`external_3ds_payment` | :class:`External3DSPaymentRequest` |
| network-token-payment | :func:`network_token_payment` | :class:`NetworkTokenPaymentRequest` |
| non-3ds-payment | :func:`non_3ds_payment` | :class:`Non3DSPaymentRequest` |
| mit-charge | :func:`mit_charge` | :class:`MITChargeRequest` |
| cancel-purchase | :func:`cancel_purchase` | :class:`PurchaseCancelRequest` |
| refund | :func:`refund` | :class:`RefundRequest` |
| cancel-refund | :func:`cancel_refund` | :class:`RefundCancelRequest` |
| complete-3ds | :func:`complete_3ds` | :class:`ThreeDSCompletionRequest` |
| delete-card | :func:`delete_card` | :class:`DeleteCardRequest` |

The pipelines take flat parameters (one form field each; what they share is in
:mod:`flows._pipeline`), and every run carries the tags of :func:`flows._tags.tags_for`:

| flow name | function |
|---|---|
| subscription-billing | :func:`subscription_billing` |
| sharded-billing | :func:`flows.sharded_billing.sharded_billing` |
| preauth-sweep | :func:`preauth_sweep` |
| settlement-report | :func:`settlement_report` |
| csv-billing-import | :func:`csv_billing_import` |
| csv-inbox-import | :func:`csv_inbox_import` |
| settle-unresolved | :func:`flows.settle_unresolved.settle_unresolved` |
| payment-lookup | :func:`payment_lookup` |
"""  # noqa: E501

from flows._cards import SandboxCard
from flows._forms import cents, units
from flows._models import (
    Auto3DS,
    Browser,
    CaptureRequest,
    CardInput,
    CustomerInitiatedPaymentRequest,
    External3DSPaymentRequest,
    MITChargeRequest,
    NetworkTokenPaymentRequest,
    Non3DSPaymentRequest,
    PaymentResult,
    PreauthRequest,
    PurchaseCancelRequest,
    RecurringPreauthRequest,
    RefundCancelRequest,
    RefundRequest,
    Shopper,
    ThreeDSCompletionRequest,
    ThreeDSRedirect,
    VoidRequest,
    ZeroAuthRequest,
)
from flows._outcome import artifact_key, outcome_state, result_of_run, state_name
from flows.after_payment import cancel_purchase, cancel_refund, refund
from flows.billing import subscription_billing
from flows.csv_import import csv_billing_import
from flows.csv_inbox import csv_inbox_import
from flows.customer_initiated import customer_initiated_payment
from flows.delete_card import DeleteCardRequest, delete_card
from flows.external_3ds import external_3ds_payment
from flows.holds import capture_hold, void_hold
from flows.lookup import payment_lookup
from flows.mit import mit_charge
from flows.network_token import network_token_payment
from flows.non_3ds import non_3ds_payment
from flows.preauthorization import preauthorize
from flows.recurring_preauth import recurring_preauth
from flows.report import settlement_report

# Aliased: the modules of the same name stay reachable as flows.settle_unresolved etc.
from flows.settle_unresolved import settle_unresolved as _settle_unresolved
from flows.sharded_billing import sharded_billing as _sharded_billing
from flows.sweep import preauth_sweep
from flows.three_ds import complete_3ds
from flows.zero_auth import zero_auth_validation
from payflows.payments import OperationRejected

#: Every flow, by its Prefect name (what ``payflows serve``-style entry points register).
ALL_FLOWS = {
    f.name: f
    for f in (
        zero_auth_validation,
        preauthorize,
        capture_hold,
        void_hold,
        recurring_preauth,
        customer_initiated_payment,
        external_3ds_payment,
        network_token_payment,
        non_3ds_payment,
        mit_charge,
        cancel_purchase,
        refund,
        cancel_refund,
        complete_3ds,
        delete_card,
        csv_billing_import,
        subscription_billing,
        preauth_sweep,
        settlement_report,
        payment_lookup,
        _sharded_billing,
        csv_inbox_import,
        _settle_unresolved,
    )
}

__all__ = [
    "ALL_FLOWS",
    "Auto3DS",
    "Browser",
    "CaptureRequest",
    "CardInput",
    "CustomerInitiatedPaymentRequest",
    "DeleteCardRequest",
    "External3DSPaymentRequest",
    "MITChargeRequest",
    "NetworkTokenPaymentRequest",
    "Non3DSPaymentRequest",
    "OperationRejected",
    "PaymentResult",
    "PreauthRequest",
    "PurchaseCancelRequest",
    "RecurringPreauthRequest",
    "RefundCancelRequest",
    "RefundRequest",
    "SandboxCard",
    "Shopper",
    "ThreeDSCompletionRequest",
    "ThreeDSRedirect",
    "VoidRequest",
    "ZeroAuthRequest",
    "artifact_key",
    "cancel_purchase",
    "cancel_refund",
    "capture_hold",
    "cents",
    "complete_3ds",
    "csv_billing_import",
    "csv_inbox_import",
    "customer_initiated_payment",
    "delete_card",
    "external_3ds_payment",
    "mit_charge",
    "network_token_payment",
    "non_3ds_payment",
    "outcome_state",
    "payment_lookup",
    "preauth_sweep",
    "preauthorize",
    "recurring_preauth",
    "refund",
    "result_of_run",
    "settlement_report",
    "state_name",
    "subscription_billing",
    "units",
    "void_hold",
    "zero_auth_validation",
]
