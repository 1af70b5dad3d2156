"""Reading a merchant's CSV file: the header, the records, and what goes wrong, with line numbers.

Two imports read CSV files the merchant sends: the billing imports (:mod:`payflows.imports`) and
the operators' hold decisions (:mod:`payflows.sweep.decisions`). They share this module, and
nothing else of each other: the same refusal of card-data columns, the same physical line numbers
(the header is line 1, a quoted cell may span lines), the same ``line, column, reason`` error file
and the same :class:`ImportResult`. What a row means stays with each import.

A :class:`FileError` stops the whole file (empty, unreadable, broken CSV, a column named like card
data); a :class:`RowError` rejects one row and the import goes on. No message repeats a long run
of digits (:func:`redact`): it could be a card number typed in the wrong column.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from payflows.domain.screening import contains_card_number
from payflows.domain.screening import redact as _redact

__all__ = [
    "ERROR_COLUMNS",
    "MAX_CELL_CHARS",
    "FileError",
    "ImportResult",
    "ImportStopped",
    "RowError",
    "cell_problem",
    "error_file_for",
    "has_twelve_digit_cell",
    "normalise",
    "numbered_rows",
    "read_header",
    "records",
    "redact",
    "refuse_card_columns",
    "row_problem",
    "row_record",
]

#: The columns of every ``<file>.errors.csv``.
ERROR_COLUMNS = ("line", "column", "reason")

# The csv module refuses a field over 128 KiB by breaking the whole file; read up to 64 MiB so
# that one oversized cell is that row's error (the imports' own cell limit), not the file's.
_FIELD_LIMIT = 64 * 1024 * 1024
csv.field_size_limit(max(csv.field_size_limit(), _FIELD_LIMIT))


#: The longest cell read at all (longer ones are row errors); every column is far shorter.
MAX_CELL_CHARS = 4096
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def cell_problem(column: str, value: str) -> str | None:
    """Why a cell of any CSV file is refused, or None: too long, a control character (NUL...),
    or a card number (any separators, any script; a card number is card data wherever it is
    typed). The reason names the column, never the value."""
    if len(value) > MAX_CELL_CHARS:
        return f"{column} is longer than {MAX_CELL_CHARS} characters"
    if _CONTROL.search(value):
        return f"{column} holds a control character (such as NUL)"
    if contains_card_number(value):
        if column == "masked_pan":
            return (
                "masked_pan holds a full card number; give the masked form "
                "(444433******1111) and delete this file's copy of the number"
            )
        return f"{column} contains what looks like a card number; remove it"
    return None


#: Opens every cell of a row for :func:`row_problem`: a control character, so never in a cell that
#: :func:`cell_problem` lets through.
_CELL_START = "\x1f"
_CONTROL_BUT_CELL_START = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1e\x7f]")
#: A cell (from its opening mark to the next) with twelve ASCII digits: a literal prefix, so the
#: search jumps from cell to cell, and possessive, so a cell that fails is left at once.
_CELL_WITH_TWELVE_DIGITS = re.compile(r"\x1f(?:[^0-9\x1f]*+[0-9]){12}")


def has_twelve_digit_cell(joined: str) -> bool:
    """Whether a row joined as :func:`row_problem` joins it (each cell opened by ``\\x1f``) has
    a cell with twelve ASCII digits or more: the least a card number needs, so a row without
    one holds no card number (for a row of printable ASCII cells)."""
    return _CELL_WITH_TWELVE_DIGITS.search(joined) is not None


def row_problem(names: Sequence[str], cells: Sequence[str]) -> tuple[str, str] | None:
    """The first ``(column, reason)`` :func:`cell_problem` gives for a row's cells, or None.

    A row is checked whole first, in a few passes in C over its cells joined (each opened by
    :data:`_CELL_START`): when the row is ASCII, no longer than one cell may be, free of control
    characters and has no cell with twelve digits, no cell can be too long, hold a control
    character or a card number (which needs twelve digits), whatever the Luhn test or the
    separators would say. That is what nearly every row of a billing file looks like. Any other
    row is checked cell by cell with :func:`cell_problem` itself, which also names the column:
    the fast pass only ever answers None, and only when the full check provably would too.
    """
    joined = _CELL_START + _CELL_START.join(cells)
    if (
        joined.isascii()
        and len(joined) <= MAX_CELL_CHARS
        and joined.count(_CELL_START) == len(cells)
        and _CONTROL_BUT_CELL_START.search(joined) is None
        and _CELL_WITH_TWELVE_DIGITS.search(joined) is None
    ):
        return None
    for column, value in zip(names, cells, strict=True):
        problem = cell_problem(column, value)
        if problem is not None:
            return column, problem
    return None


def error_file_for(path: Path, error_dir: Path | None = None) -> Path:
    """``<error_dir or the file's folder>/<name>.errors.csv``."""
    return (error_dir or path.parent) / f"{path.name}.errors.csv"


class FileError(ValueError):
    """The file as a whole cannot be imported (header, encoding, card data): nothing is read."""

    def __init__(self, message: str) -> None:
        super().__init__(redact(message))


class ImportStopped(FileError):
    """The import could not go on (an unexpected failure half way): the rows before it landed."""


class RowError(BaseModel):
    """A rejected row. ``line`` is the physical line in the file (the header is line 1)."""

    model_config = ConfigDict(frozen=True)

    line: int
    column: str
    reason: str


class ImportResult(BaseModel):
    """The outcome of one file. ``rows_read = inserted + updated + unchanged + rejected``."""

    file: str
    kind: str
    rows_read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    chunks: int = 0
    #: The first rejected rows (all of them are in ``error_file``).
    errors: list[RowError] = Field(default_factory=list)
    errors_truncated: bool = False
    error_file: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.rejected == 0


def redact(text: str) -> str:
    """Hide any run of 12 or more digits: it could be a card number typed in the wrong column."""
    return _redact(text)


def normalise(name: str) -> str:
    """A header name as matched: stripped, lower case, without a byte-order mark."""
    return name.strip().lower().lstrip("\ufeff")


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


def read_header(reader: Any) -> list[str]:
    """The header line of a CSV reader; a file with card-data columns is refused whole."""
    try:
        header: list[str] = next(reader)
    except StopIteration:
        raise FileError("the file is empty (no header line)") from None
    except csv.Error as exc:
        raise FileError(f"line 1: not a readable CSV header ({exc})") from None
    refuse_card_columns(header)
    return header


def records(reader: Any, names: list[str]) -> Iterator[tuple[int, dict[str, str] | RowError]]:
    """The rows after the header as ``(line, {column: cell})``, or a RowError: a row of the
    wrong width, or a cell :func:`cell_problem` refuses (so every CSV reader screens every
    column for card numbers, control characters and oversized cells).

    ``line`` is where the record starts in the file (a quoted cell may span lines), the header
    being line 1. Blank lines are skipped and not counted. A broken CSV stops the file: nothing
    after it can be trusted to be where it seems.
    """
    for start, cells in numbered_rows(reader):
        yield start, row_record(start, cells, names)


def numbered_rows(reader: Any) -> Iterator[tuple[int, list[str]]]:
    """The rows after the header as ``(line, cells)``, blank lines skipped (see :func:`records`);
    a FileError at a broken CSV."""
    last = reader.line_num
    while True:
        start = last + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise FileError(f"line {start}: broken CSV ({redact(str(exc))})") from None
        last = reader.line_num
        if not cells or (len(cells) == 1 and not cells[0].strip()):
            continue
        yield start, cells


def row_record(start: int, cells: list[str], names: list[str]) -> dict[str, str] | RowError:
    """One non-blank row as ``{column: cell}``, or the RowError of a row of the wrong width or
    with a cell :func:`cell_problem` refuses."""
    if len(cells) != len(names):
        reason = f"expected {len(names)} fields, found {len(cells)}"
        return RowError(line=start, column="", reason=reason)
    problem = row_problem(names, cells)
    if problem is not None:
        return RowError(line=start, column=problem[0], reason=redact(problem[1]))
    return dict(zip(names, cells, strict=True))
