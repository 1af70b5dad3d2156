"""What every CSV cell and header goes through first: the error types, card data, redaction.

Split from :mod:`payflows.imports.formats` (which re-exports all of it): the checks here know
nothing of the four formats, so :func:`payflows.imports.core.records` applies them to every
column of every CSV reader, the hold-decision import included.
"""

from __future__ import annotations

import re

from payflows.domain.screening import contains_card_number
from payflows.domain.screening import redact as _redact

__all__ = [
    "MAX_CELL_CHARS",
    "CellError",
    "FileError",
    "ImportStopped",
    "normalise",
    "redact",
    "refuse_card_columns",
    "screen_cells",
]

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
#: The longest cell read at all (longer ones are row errors); every column is far shorter.
MAX_CELL_CHARS = 4096


class FileError(ValueError):
    """The file as a whole cannot be imported (header, encoding, card data): nothing is read."""

    def __init__(self, message: str) -> None:
        super().__init__(redact(message))


class ImportStopped(FileError):
    """The import could not go on (an unexpected failure half way): the rows before it landed."""


class CellError(ValueError):
    """One cell is wrong; the row is rejected and the import goes on."""

    def __init__(self, column: str, reason: str) -> None:
        super().__init__(reason)
        self.column = column
        self.reason = redact(reason)


def redact(text: str) -> str:
    """Hide any run of 12 or more digits: it could be a card number typed in the wrong column."""
    return _redact(text)


def screen_cells(cells: dict[str, str]) -> None:
    """A CellError for the first cell that is too long, holds a control character or a card
    number (in any column: a card number is card data wherever it is typed)."""
    for column, value in cells.items():
        if len(value) > MAX_CELL_CHARS:
            raise CellError(column, f"{column} is longer than {MAX_CELL_CHARS} characters")
        if _CONTROL.search(value):
            raise CellError(column, f"{column} holds a control character (such as NUL)")
        if contains_card_number(value):
            if column == "masked_pan":
                raise CellError(
                    "masked_pan",
                    "masked_pan holds a full card number; give the masked form "
                    "(444433******1111) and delete this file's copy of the number",
                )
            raise CellError(column, f"{column} contains what looks like a card number; remove it")


#: Header names (letters and digits only, lower case) that mean card data is in the file.
_CARD_COLUMNS = {
    "pan": "a card number",
    "cardnumber": "a card number",
    "cardno": "a card number",
    "cardnum": "a card number",
    "ccnumber": "a card number",
    "ccnum": "a card number",
    "creditcard": "a card number",
    "creditcardnumber": "a card number",
    "primaryaccountnumber": "a card number",
    "accountnumber": "a card number",
    "fullpan": "a card number",
    "number": "a card number",
    "cvc": "a CVC",
    "cvv": "a CVC",
    "cvc2": "a CVC",
    "cvv2": "a CVC",
    "cid": "a CVC",
    "csc": "a CVC",
    "securitycode": "a CVC",
    "cardsecuritycode": "a CVC",
    "cardverificationvalue": "a CVC",
    "expires": "a card expiry date",
    "expiry": "a card expiry date",
    "expirydate": "a card expiry date",
    "expiration": "a card expiry date",
    "expirationdate": "a card expiry date",
}


def normalise(name: str) -> str:
    return name.strip().lower().lstrip("\ufeff")


def refuse_card_columns(header: list[str]) -> None:
    """A FileError when any column is named like card data (checked before anything else)."""
    for name in (normalise(h) for h in header):
        squashed = re.sub(r"[^a-z0-9]", "", name)
        what = _CARD_COLUMNS.get(squashed)
        if what is None and ("cvv" in squashed or "cvc" in squashed):
            what = "a CVC"
        if what is None and squashed.endswith(("cardnumber", "pan")) and squashed != "maskedpan":
            what = "a card number"
        if what is not None:
            raise FileError(
                f"column {name!r} looks like {what}: payflows never imports card data. "
                "Remove the column (stored cards come as recurring_token and masked_pan)."
            )
