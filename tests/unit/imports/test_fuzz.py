"""Bounded fuzzing of the CSV readers (hypothesis): whatever the bytes, a row error or a file
error, never a crash, and no message ever repeats a card number planted in a cell."""

from __future__ import annotations

import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payflows.domain.screening import contains_card_number
from payflows.imports.core import iter_rows
from payflows.imports.formats import FORMATS, FileError
from payflows.imports.results import RowError

CARDS = ["4111111111111111", "4111 1111 1111 1111", "4111.1111.1111.1111", "378282246310005"]
# Cells built from what breaks parsers: digits of other scripts, separators, controls, quotes.
ALPHABET = st.sampled_from(list("0123456789 -./_:+@abcXYZ,\"'\n\r\t\x00²٣\uff14é*•\u200b\ufeff"))
CELL = st.one_of(
    st.text(ALPHABET, max_size=30),
    st.sampled_from([*CARDS, "9999-12-31T23:00:00-10:00", "1e9", "NaN", "ZAR", "month", "12"]),
    st.text(max_size=20),  # anything Unicode
)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _csv(header: list[str], rows: list[list[str]]) -> str:
    def quote(cell: str) -> str:
        return '"' + cell.replace('"', '""') + '"'

    return "\n".join(",".join(quote(c) for c in row) for row in [header, *rows]) + "\n"


def _read(text: str) -> list[tuple[int, object]]:
    try:
        _kind, rows = iter_rows(io.StringIO(text, newline=""))
        return list(rows)
    except FileError as exc:
        assert not contains_card_number(str(exc))
        return []


@FUZZ
@given(
    kind=st.sampled_from(sorted(FORMATS)),
    rows=st.lists(st.lists(CELL, min_size=1, max_size=10), max_size=8),
)
def test_any_cells_give_records_or_row_errors(kind: str, rows: list[list[str]]) -> None:
    fmt = FORMATS[kind]  # type: ignore[index]
    header = list(fmt.columns)
    width = len(header)
    shaped = [(row * width)[:width] for row in rows]
    for _line, item in _read(_csv(header, shaped)):
        if isinstance(item, RowError):
            assert not contains_card_number(item.reason), item.reason
            assert len(item.reason) < 300
        else:
            # A record that landed holds no card number in any field.
            for value in vars(item).values() if hasattr(item, "__dict__") else _slots(item):
                assert not contains_card_number(str(value)), item


def _slots(item: object) -> list[object]:
    return [getattr(item, name) for name in type(item).__slots__]  # type: ignore[attr-defined]


@FUZZ
@given(text=st.text(max_size=400))
def test_any_text_is_read_or_refused_as_a_file(text: str) -> None:
    _read(text)
    _read("external_id,email,full_name,phone,country\n" + text)
