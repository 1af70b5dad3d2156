"""The CSV inbox: files dropped in a folder are imported, then moved to ``done/`` or ``failed/``.

Prefect-free; the ``csv-inbox-import`` flow runs :func:`pending_files` and :func:`file_into`
on an interval. The rules a person dropping files can rely on:

- Only ``*.csv`` files directly in the inbox are taken; hidden files, ``*.errors.csv`` and
  files changed in the last ``min_age_seconds`` (still being copied in) wait for the next run.
- Files dropped together are imported in dependency order (customers, payment methods,
  subscriptions, one-off charges), whatever their names, so a subscription finds its customer.
  The kind is recognised from the header, as ``payflows import`` does.
- A file whose rows all landed moves to ``done/``; a file with rejected rows moves to
  ``failed/`` with ``NAME.errors.csv`` beside it (line, column, reason) while its good rows stay
  landed; a file refused whole (unknown header, a card column) moves to ``failed/`` with its
  reason in the same error file, except a file with card-data columns (a card number, a CVC):
  that one is deleted, not kept, and its error file says so, because card data never rests in
  payflows; so is a file with a row rejected for holding a card number (in ``masked_pan`` or
  any cell): its good rows landed, its errors are in ``failed/``, the file itself is gone;
  and so is a file refused whole for another reason (a headerless export, a broken quote,
  bytes that are not UTF-8) that holds a card number anywhere, header included.
  Fix and drop it again: importing is idempotent, so the rows that landed the first time are
  ``unchanged`` the second. An import that stops half way for a reason nobody foresaw
  (:class:`~payflows.imports.formats.ImportStopped`) is filed the same way, in ``failed/``
  with its reason, rather than tried again every run for ever.
- A moved file keeps its name behind a UTC timestamp (``20260301T020000Z-NAME``): dropping a
  file of the same name tomorrow does not overwrite today's. A crash between the import and
  the move imports the file again on the next run, which changes nothing.
"""

from __future__ import annotations

import csv
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from sqlalchemy.engine import Engine

from payflows.domain.screening import contains_card_number
from payflows.imports.core import error_file_for, import_csv
from payflows.imports.formats import FileError, ImportKind, detect_kind, refuse_card_columns
from payflows.imports.results import ImportResult, RowError

__all__ = [
    "IMPORT_ORDER",
    "InboxEntry",
    "file_into",
    "import_file",
    "outcome_of",
    "pending_files",
]

#: Files of one drop are imported in this order (later kinds refer to earlier ones).
IMPORT_ORDER: tuple[ImportKind, ...] = (
    "customers",
    "payment_methods",
    "subscriptions",
    "one_off_charges",
)

Outcome = Literal["done", "failed"]


@dataclass(frozen=True)
class InboxEntry:
    """A file waiting in the inbox, and its kind when the header tells (None: it will fail)."""

    path: Path
    kind: ImportKind | None
    #: The header names card data: the file is refused and deleted, never kept in failed/.
    card_data: bool = False


def _header(path: Path) -> list[str]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            return next(csv.reader(handle), [])
    except (UnicodeDecodeError, csv.Error, OSError):
        return []


def _entry(path: Path) -> InboxEntry:
    header = _header(path)
    try:
        refuse_card_columns(header)
    except FileError:
        return InboxEntry(path, None, card_data=True)
    try:
        return InboxEntry(path, detect_kind(header))
    except FileError:
        return InboxEntry(path, None)


def pending_files(inbox: Path, *, min_age_seconds: float = 5.0) -> list[InboxEntry]:
    """The files to import now, in :data:`IMPORT_ORDER` then by name."""
    if not inbox.is_dir():
        return []
    now = time.time()
    found = []
    for path in inbox.iterdir():
        name = path.name
        if name.startswith(".") or not name.lower().endswith(".csv"):
            continue
        if name.lower().endswith(".errors.csv") or not path.is_file():
            continue
        if now - path.stat().st_mtime < min_age_seconds:
            continue
        found.append(_entry(path))

    def order(entry: InboxEntry) -> tuple[int, str]:
        rank = IMPORT_ORDER.index(entry.kind) if entry.kind else len(IMPORT_ORDER)
        return rank, entry.path.name

    return sorted(found, key=order)


def import_file(entry: InboxEntry, engine: Engine, *, max_errors: int = 50) -> ImportResult:
    """Import one inbox file; a file refused whole comes back as a result with ``error_file``.

    The errors go to ``NAME.errors.csv`` in the inbox, and :func:`file_into` moves them with
    the file.
    """
    error_path = error_file_for(entry.path)
    try:
        if entry.card_data:
            refuse_card_columns(_header(entry.path))
        result = import_csv(
            entry.path, engine, kind=entry.kind, error_path=error_path, max_errors=max_errors
        )
    except FileError as exc:
        reason = str(exc)
        if entry.card_data or _holds_card_number(entry.path):
            entry.path.unlink(missing_ok=True)
            reason += " The file was deleted: card data is never kept."
        with error_path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(("line", "column", "reason"))
            writer.writerow((1, "", reason))
        return ImportResult(
            file=str(entry.path),
            kind=entry.kind or "unknown",
            errors=[RowError(line=1, column="", reason=reason)],
            error_file=str(error_path),
        )
    if result.error_file and _names_card_data(Path(result.error_file)):
        # A cell held a card number: the rows that were fine landed, the file does not stay.
        entry.path.unlink(missing_ok=True)
    return result


#: How much of a refused file is read at a time when looking for a card number in it.
_CHUNK = 1 << 20


def _holds_card_number(path: Path) -> bool:
    """Whether a file refused whole holds a card number anywhere, header included.

    A refused file was never screened row by row (a headerless export, whose first row became
    the header; a broken quote or bad bytes further down), so it is read as raw text here,
    undecodable bytes replaced, in chunks that overlap by more than a card number's width.
    """
    tail = ""
    try:
        with path.open(encoding="utf-8", errors="replace", newline="") as handle:
            while chunk := handle.read(_CHUNK):
                if contains_card_number(tail + chunk):
                    return True
                tail = chunk[-64:]
    except OSError:
        return False
    return False


def _names_card_data(error_file: Path) -> bool:
    """Whether any row was rejected for holding a card number (every import says so)."""
    with error_file.open(newline="", encoding="utf-8") as handle:
        return any("card number" in row.get("reason", "") for row in csv.DictReader(handle))


def outcome_of(result: ImportResult) -> Outcome:
    """``done`` when every row landed, ``failed`` otherwise (rejected rows or a refused file)."""
    return "done" if result.ok and result.error_file is None else "failed"


def file_into(inbox: Path, path: Path, outcome: Outcome, *, now: datetime | None = None) -> Path:
    """Move ``path`` (and its error file, if any) to ``inbox/<outcome>/``; return the new path."""
    stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    folder = inbox / outcome
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{stamp}-{path.name}"
    n = 1
    while target.exists():
        n += 1
        target = folder / f"{stamp}-{n}-{path.name}"
    errors = error_file_for(path)
    if path.exists():  # a card-data file is already gone
        shutil.move(str(path), target)
    if errors.exists():
        shutil.move(str(errors), error_file_for(target))
    return target
