"""Streaming a billing CSV into the ledger, chunk by chunk, with every bad row reported.

The file is read with the ``csv`` module straight off the open file, never loaded whole: rows
are parsed and validated one at a time and handed to the ledger in chunks (5,000 rows by
default), each chunk one unit of work. Memory therefore depends on the chunk size, not on the
file, and a crash half way leaves whole chunks behind; importing again finishes the job because
every write is an upsert on the merchant's external ids.

A bad row never stops the import: it becomes a :class:`RowError` (physical line, column,
reason), written at once to the error CSV and kept in the result up to ``max_errors``. That
includes a cell too long, with a control character or a card number in it (any column), and a
record whose key (``external_id``, or ``recurring_token`` for stored cards) already appeared
earlier in the same file: the first one wins, the repeat is reported instead of silently
overwriting it. What stops it is a :class:`FileError`: a header that is not one of the formats,
a column that looks like card data, a file that is not UTF-8 text or breaks as CSV; and
:class:`ImportStopped` for anything unforeseen half way (the chunks before it stay landed).
"""

from __future__ import annotations

import csv
import sqlite3
import tempfile
import time
from array import array
from collections.abc import Iterator
from contextlib import ExitStack, suppress
from itertools import islice
from operator import attrgetter, lt
from pathlib import Path
from typing import IO, Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from payflows.csvfiles import (
    ERROR_COLUMNS,
    FileError,
    ImportResult,
    ImportStopped,
    RowError,
    error_file_for,
    read_header,
    records,
    redact,
    row_record,
)
from payflows.imports._fast import fast_reader
from payflows.imports._store import WRITERS
from payflows.imports.formats import FORMATS, CellError, ImportKind, check_header, detect_kind
from payflows.ledger import UnitOfWork

__all__ = [
    "CHUNK_ROWS",
    "ERROR_COLUMNS",
    "error_file_for",
    "import_csv",
    "iter_rows",
    "read_header",
    "records",
]

CHUNK_ROWS = 5000


def iter_rows(
    handle: IO[str], kind: ImportKind | None = None
) -> tuple[ImportKind, Iterator[tuple[int, Any | RowError]]]:
    """The file's kind, and its rows as ``(line, record or RowError)``, lazily (see records)."""
    kind, batches = iter_batches(handle, kind)
    return kind, (row for batch in batches for row in batch)


def iter_batches(
    handle: IO[str], kind: ImportKind | None = None
) -> tuple[ImportKind, Iterator[list[tuple[int, Any | RowError]]]]:
    """:func:`iter_rows` a batch of rows at a time (the import's own loop: no generator step
    per row)."""
    reader = csv.reader(handle, strict=True)
    header = read_header(reader)
    if kind is None:
        kind = detect_kind(header)
    elif kind not in FORMATS:
        raise FileError(f"unknown kind {kind!r}; one of: {', '.join(FORMATS)}")
    fmt = FORMATS[kind]
    names = check_header(header, fmt)
    parse = fmt.read_screened  # row_record() has screened every cell of the row
    fast = fast_reader(fmt, names)

    def batches() -> Iterator[list[tuple[int, Any | RowError]]]:
        with _SeenKeys(fmt.key) as seen:
            batch: list[tuple[int, Any | RowError]] = []
            keys: list[str] = []  # the keys of the batch's records, in line order
            lines: list[int] = []  # and their lines
            key_of = seen.key_of
            # The rows as numbered_rows() numbers them, without a generator step per row.
            last = reader.line_num
            try:
                try:
                    for cells in reader:
                        line, last = last + 1, reader.line_num
                        # The common row shape in one match; any other row the full way.
                        item = fast(cells)
                        if item is not None:
                            keys.append(key_of(item))
                            lines.append(line)
                        else:
                            if not cells or (len(cells) == 1 and not cells[0].strip()):
                                continue  # a blank line: skipped, not counted
                            item = _parsed(parse, line, row_record(line, cells, names))
                            if not isinstance(item, RowError):
                                keys.append(key_of(item))
                                lines.append(line)
                        batch.append((line, item))
                        if len(batch) >= _KEY_BATCH:
                            yield seen.settle(batch, keys, lines)
                            batch, keys, lines = [], [], []
                except csv.Error as exc:
                    raise FileError(f"line {last + 1}: broken CSV ({redact(str(exc))})") from None
            except Exception:
                # The file broke half way: the rows before the break are handed on first, as
                # they were before batching, then the error goes on up.
                yield seen.settle(batch, keys, lines)
                raise
            yield seen.settle(batch, keys, lines)

    return kind, batches()


#: Rows whose keys are checked against the file's earlier keys in one statement.
_KEY_BATCH = 1000


def _parsed(parse: Any, line: int, record: dict[str, str] | RowError) -> Any | RowError:
    """The record of one screened row, or its RowError."""
    if isinstance(record, RowError):
        return record
    try:
        return parse(record)
    except CellError as exc:
        return RowError(line=line, column=exc.column, reason=exc.reason)
    except Exception as exc:  # a cell nobody foresaw: that row, not the file
        reason = f"the row could not be read ({type(exc).__name__})"
        return RowError(line=line, column="", reason=reason)


class _SeenKeys:
    """The keys of one file, with the line of their first row, so that a repeat is found however
    far apart the two rows are, and the import keeps no memory of its own for them.

    While the file's keys come in strictly increasing order (the usual export: sorted by id) no
    key can repeat an earlier one, since every earlier key is smaller than the last: only the
    last key is kept in memory, and the keys with their lines are appended to a temporary file
    (sequential writes, no index). As soon as a batch's keys do not strictly increase (within
    the batch or against the last key), the appended keys are loaded into a temporary on-disk
    SQLite table and every key from then on goes through it, for the rest of the file: ``INSERT
    OR IGNORE`` a batch at a time, the table keeping each key's first line. A million keys cost
    no memory either way (SQLite's page cache is bounded).
    """

    def __init__(self, column: str) -> None:
        self.column = column
        self.key_of = attrgetter(column)
        self.last: str | None = None  # the greatest key so far, while the keys increase
        self.ordered = True  # False once the keys went through the table
        # Both files closed (and so deleted) by the stack, in __exit__.
        self.stack = ExitStack()
        keys_file = tempfile.TemporaryFile("w+", encoding="utf-8", newline="\n")  # noqa: SIM115
        self.spilled_keys: IO[str] = self.stack.enter_context(keys_file)
        lines_file = tempfile.TemporaryFile("w+b")  # noqa: SIM115
        self.spilled_lines: IO[bytes] = self.stack.enter_context(lines_file)
        self.db: sqlite3.Connection | None = None

    def __enter__(self) -> _SeenKeys:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stack.close()  # the spilled keys, and the table once there is one

    def settle(
        self, batch: list[tuple[int, Any | RowError]], keys: list[str], lines: list[int]
    ) -> list[tuple[int, Any | RowError]]:
        """``batch`` in order, each record whose key an earlier row had (in this batch or
        before it) replaced by a RowError naming that row's line. ``keys`` and ``lines`` are
        the keys and lines of the batch's records (not its RowErrors), in line order, as the
        reader collected them."""
        if not keys:
            return batch
        if self.ordered:
            joined = "\n".join(keys)
            if (
                (self.last is None or keys[0] > self.last)
                and all(map(lt, keys, islice(keys, 1, None)))
                # a key is an identifier (no line break); if one ever held one, the table
                and joined.count("\n") == len(keys) - 1
            ):
                self.last = keys[-1]
                self.spilled_keys.write(joined)
                self.spilled_keys.write("\n")
                array("q", lines).tofile(self.spilled_lines)
                return batch  # strictly increasing: no repeat possible
            self._to_table()
        return self._settle_in_table(batch, keys, lines)

    def _to_table(self) -> None:
        """The keys appended so far into the SQLite table, a block at a time; the table from now
        on."""
        self.ordered = False
        self.db = sqlite3.connect("")  # "": a private temporary file, deleted on close
        self.stack.callback(self.db.close)
        self.db.execute("CREATE TABLE seen (key TEXT PRIMARY KEY, line INTEGER) WITHOUT ROWID")
        self.spilled_keys.seek(0)
        self.spilled_lines.seek(0)
        while True:
            block = array("q")
            with suppress(EOFError):  # the last, shorter block (or none): read all the same
                block.fromfile(self.spilled_lines, _KEY_BATCH * 10)
            if not block:
                break
            keys = [key[:-1] for key in islice(self.spilled_keys, len(block))]
            self.db.executemany("INSERT INTO seen VALUES (?, ?)", zip(keys, block, strict=True))
        self.spilled_keys.close()
        self.spilled_lines.close()

    def _settle_in_table(
        self, batch: list[tuple[int, Any | RowError]], keys: list[str], lines: list[int]
    ) -> list[tuple[int, Any | RowError]]:
        """The keys go in with ``INSERT OR IGNORE`` in line order, so the table keeps each
        key's first line; only when fewer rows went in than were offered (a repeat somewhere in
        the batch) is each key looked up, to tell which rows repeat."""
        db = self.db
        assert db is not None
        before = db.total_changes
        db.executemany("INSERT OR IGNORE INTO seen VALUES (?, ?)", zip(keys, lines, strict=True))
        if db.total_changes - before == len(keys):
            return batch  # no repeat: the usual case
        settled = []
        for line, item in batch:
            if not isinstance(item, RowError):
                key = getattr(item, self.column)
                row = db.execute("SELECT line FROM seen WHERE key = ?", (key,)).fetchone()
                if int(row[0]) != line:
                    reason = (
                        f"{self.column} repeats the row on line {row[0]}: each key once per file"
                    )
                    item = RowError(line=line, column=self.column, reason=reason)
            settled.append((line, item))
        return settled


class _Errors:
    """Rejected rows: streamed to the error CSV (opened at the first one), the first N kept."""

    def __init__(self, result: ImportResult, path: Path | None, keep: int, stack: ExitStack):
        self.result, self.path, self.keep, self.stack = result, path, keep, stack
        self.writer: Any = None

    def add(self, error: RowError) -> None:
        self.result.rejected += 1
        if len(self.result.errors) < self.keep:
            self.result.errors.append(error)
        else:
            self.result.errors_truncated = True
        if self.path is not None:
            if self.writer is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                handle = self.stack.enter_context(self.path.open("w", newline="", encoding="utf-8"))
                self.writer = csv.writer(handle)
                self.writer.writerow(ERROR_COLUMNS)
                self.result.error_file = str(self.path)
            self.writer.writerow((error.line, error.column, error.reason))


def import_csv(
    path: Path,
    engine: Engine,
    *,
    kind: ImportKind | None = None,
    error_path: Path | None = None,
    chunk_rows: int = CHUNK_ROWS,
    max_errors: int = 100,
) -> ImportResult:
    """Import one CSV file into the ledger; see the module docstring.

    Raises :class:`FileError` when the file cannot be imported at all (then nothing was written,
    unless the file breaks after its first chunks: those chunks stay, and a re-import after the
    fix is harmless). An error file left by an earlier run of the same path is replaced.
    """
    started = time.perf_counter()
    path = Path(path)
    if error_path is not None and error_path.exists():
        error_path.unlink()
    with ExitStack() as stack:
        try:
            handle = stack.enter_context(path.open(newline="", encoding="utf-8-sig"))
        except FileNotFoundError:
            raise FileError(f"no such file: {path}") from None
        except IsADirectoryError:
            raise FileError(f"{path} is a folder, not a CSV file") from None
        try:
            detected, batches = iter_batches(handle, kind)
            result = ImportResult(file=str(path), kind=detected)
            errors = _Errors(result, error_path, max_errors, stack)
            write = WRITERS[detected]
            chunk: list[tuple[int, Any]] = []
            rejected: list[RowError] = []
            read = 0
            for batch in batches:
                for line, item in batch:
                    read += 1
                    if isinstance(item, RowError):
                        rejected.append(item)
                        continue
                    chunk.append((line, item))
                    if len(chunk) >= chunk_rows:
                        result.rows_read = read
                        _flush(engine, write, chunk, rejected, result, errors)
                        chunk, rejected = [], []
            result.rows_read = read
            _flush(engine, write, chunk, rejected, result, errors)
        except UnicodeDecodeError:
            raise FileError("the file is not UTF-8 text") from None
        except (FileError, OperationalError):
            # A refused file, or the ledger unreachable (the next run tries again).
            raise
        except Exception as exc:
            raise ImportStopped(
                f"the import stopped after {locals().get('read', 0)} rows "
                f"({type(exc).__name__}); the rows before it landed"
            ) from exc
    result.seconds = round(time.perf_counter() - started, 3)
    return result


def _flush(
    engine: Engine,
    write: Any,
    chunk: list[tuple[int, Any]],
    rejected: list[RowError],
    result: ImportResult,
    errors: _Errors,
) -> None:
    """Write one chunk in one unit of work, then report its rejected rows in line order."""
    if chunk:
        with UnitOfWork(engine) as uow:
            counts, refused = write(uow, chunk)
            uow.commit()
        result.chunks += 1
        result.inserted += counts.inserted
        result.updated += counts.updated
        result.unchanged += counts.unchanged
        rejected = [*rejected, *refused]
    for error in sorted(rejected, key=lambda e: e.line):
        errors.add(error)
