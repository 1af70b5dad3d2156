"""What the ledger refuses, as one small tree::

    LedgerError                  the ledger refused a write; nothing was changed by that call
    ├── AttemptNotFound          no attempt has that business key / purchase id (also a LookupError)
    └── PurchaseConflict         a purchase id that would belong to two attempts, or a second
                                 purchase id for one business key

Messages name business keys and purchase ids only, never card data. Database errors that mean
the same thing (a unique constraint hit by a concurrent writer) are translated here with
``raise ... from exc``; anything else from the driver propagates unchanged.
"""

from __future__ import annotations

__all__ = ["AttemptNotFound", "LedgerError", "PurchaseConflict"]


class LedgerError(Exception):
    """A write the ledger will not make, because it contradicts what is already recorded."""


class AttemptNotFound(LedgerError, LookupError):
    """No payment attempt matches the business key or purchase id given."""


class PurchaseConflict(LedgerError):
    """A business key already has another purchase, or the purchase belongs to another key.

    Either way, acting on the gateway now could charge twice: stop and read the purchase back.
    """
