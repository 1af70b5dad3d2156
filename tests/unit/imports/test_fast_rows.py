"""The fast path of the row readers (:mod:`payflows.imports._fast`, issue 16: the import's speed)
gives a row only the record the full path gives it: the card-number screening of every cell,
then the parser. Any other row (an error, a card number, an odd shape) it leaves to the full way,
which names the line, column and reason."""

from __future__ import annotations

import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payflows.csvfiles import RowError, row_record
from payflows.imports._fast import fast_reader
from payflows.imports.formats import FORMATS, CellError

CARDS = ["4111111111111111", "4111-1111-1111-1111", "4111.1111.1111.1111", "378282246310005"]
ALPHABET = st.sampled_from(list('0123456789 -./_:+@()*abcmonthyXZAR,"\n\t\x00\x1f²٣\uff14é•\u200b'))
#: Plausible cells of every column, near misses included, so that both paths are exercised.
PLAUSIBLE = [
    "cust-0000001", "sub-1", "tok_0000000001", "NTI000000001", "a" * 129, "-x", "x y",
    "person1@example.co.za", "A.B@Example.COM", "a@b", "a@@b.c", "Person Number 1", " padded",
    "two  spaces", "x" * 201, "+27 82 555 0001", "082 555 0001", "(082) 555-0001", "12345",
    "ZA", "za", "Z", "", "ZAR", "zar", "XXX", "JPY", "BHD", "199.00", "199.5", "199.505",
    "199.500", "0", "0.00", "007.50", "-5.00", "1 000.00", "9999999999999.99", "100", "1e3",
    "visa", "VISA", "amex", "411111******1111", "4111XXxx1111", "****1111", "411111*1111",
    "4111111111111111", "1", "12", "13", "0", "01", "27", "2027", "1999", "2100", "month",
    "Month", "day", "week", "year", "fortnight", "60", "61", "366", "2026-12-01", "2026-02-30",
    "1999-12-31", "2099-12-31", "2100-01-01", "2026-12-01T10:00:00+02:00", "2026-1-1",
    "Plan 1", "Installation 3", "pay 4111 1111 1111 1111", "123456789012", "000000000000",
]  # fmt: skip
CELL = st.one_of(
    st.sampled_from(PLAUSIBLE),
    st.sampled_from(CARDS),
    st.text(ALPHABET, max_size=24),
    st.builds(lambda a, b: a + b, st.sampled_from(PLAUSIBLE), st.sampled_from(PLAUSIBLE)),
)

#: One plain row of each kind, in the format's column order.
PLAIN = {
    "customers": ["cust-0000001", "Person1@Example.co.za", "Person Number 1", "+27 82 555 0001",
                  "ZA"],
    "payment_methods": ["cust-0000001", "tok_0000000001", "100.01", "ZAR", "visa",
                        "411111******1111", "02", "28", "NTI000000001"],
    "subscriptions": ["sub-0000001", "cust-0000001", "tok_0000000001", "Plan 1", "99.01", "ZAR",
                      "month", "2026-12-02", "1"],
    "one_off_charges": ["inv-0000001", "cust-0000001", "tok_0000000001", "10.01", "ZAR",
                        "Installation 1", "2026-12-02"],
}  # fmt: skip


def _full_way(kind: str, names: list[str], cells: list[str]) -> Any:
    """What the full path makes of a row: its record, or None for any RowError/CellError."""
    fmt = FORMATS[kind]  # type: ignore[index]
    record = row_record(2, cells, names)
    if isinstance(record, RowError):
        return None
    try:
        return fmt.read_screened(record)  # type: ignore[operator]
    except CellError:
        return None


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(sorted(FORMATS)),
    data=st.data(),
)
def test_the_fast_path_gives_a_row_only_the_record_the_full_path_gives(
    kind: str, data: st.DataObject
) -> None:
    fmt = FORMATS[kind]  # type: ignore[index]
    names = data.draw(st.permutations(list(fmt.columns)))
    if fmt.optional and data.draw(st.booleans()):
        names = [n for n in names if n not in fmt.optional]  # optional columns may be absent
    plain = dict(zip(fmt.columns, PLAIN[kind], strict=True))
    # Mostly plain cells with a few replaced, so that nearly valid rows are common.
    cells = [
        data.draw(CELL) if data.draw(st.integers(0, 3)) == 0 else plain[name] for name in names
    ]
    fast = fast_reader(fmt, names)(cells)
    if fast is not None:
        assert fast == _full_way(kind, names, cells)


def test_plain_rows_take_the_fast_path_in_any_column_order() -> None:
    for kind, cells in PLAIN.items():
        fmt = FORMATS[kind]  # type: ignore[index]
        names = list(fmt.columns)
        record = fast_reader(fmt, names)(cells)
        assert record is not None and record == _full_way(kind, names, cells)
        flipped = fast_reader(fmt, names[::-1])(cells[::-1])
        assert flipped == record


def test_a_card_number_in_any_cell_is_left_to_the_screening() -> None:
    for kind, cells in PLAIN.items():
        fmt = FORMATS[kind]  # type: ignore[index]
        read = fast_reader(fmt, list(fmt.columns))
        for i in range(len(cells)):
            for card in CARDS:
                hostile = [*cells[:i], card, *cells[i + 1 :]]
                assert read(hostile) is None
                assert _full_way(kind, list(fmt.columns), hostile) is None


def test_a_row_of_the_wrong_width_or_with_a_control_character_is_left_to_the_full_way() -> None:
    fmt = FORMATS["subscriptions"]
    read = fast_reader(fmt, list(fmt.columns))
    cells = PLAIN["subscriptions"]
    assert read(cells[:-1]) is None and read([*cells, "x"]) is None
    assert read([cells[0] + "\x00", *cells[1:]]) is None
    assert read([cells[0], cells[1] + "\x1f" + cells[2], *cells[3:]]) is None


TWELVE_DIGITS = [
    "123456789012",
    "x123456789012",
    "sub-1234567890123",
    "1234567890123",
    "12345678901.23",
    "1234567890.123",
    "+27 82 555 0001 23",
    "a1b2c3d4e5f6g7h8i9j0k1l2",
    "123456@789012.com",
    "Plan 1234 5678 9012",
]


def test_a_cell_with_twelve_digits_is_left_to_the_screening_in_any_column() -> None:
    """Not only card numbers: any twelve digits in a cell (a card number typed with odd
    separators, or a bad check digit) go the full way, where the screening decides; a column
    whose pattern skips that test (``_FEW_DIGITS``) cannot hold twelve digits at all."""
    from payflows.imports import _fast

    for kind, cells in PLAIN.items():
        fmt = FORMATS[kind]  # type: ignore[index]
        names = list(fmt.columns)
        read = fast_reader(fmt, names)
        for i, name in enumerate(names):
            for cell in TWELVE_DIGITS:
                assert read([*cells[:i], cell, *cells[i + 1 :]]) is None, (kind, name, cell)
                if name in _fast._FEW_DIGITS:
                    shape = _fast._SHAPES[name]
                    assert re.fullmatch(shape, cell) is None
                    assert re.fullmatch(shape, "9" * 12) is None
