"""The whole-row check of :func:`payflows.csvfiles.row_problem` (issue 16: the import's speed)
answers exactly what checking each cell with :func:`cell_problem` answers: the fast pass may only
ever let a row through that the cell-by-cell check lets through too."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payflows.csvfiles import MAX_CELL_CHARS, cell_problem, records, row_problem
from payflows.domain.screening import contains_card_number

CARDS = ["4111111111111111", "4111-1111-1111-1111", "4111 - 1111 - 1111 - 1111", "378282246310005"]
ALPHABET = st.sampled_from(list("0123456789 -./_:+@abcXYZ,\n\t\x00\x1f\x1e²٣\uff14é*\u200b"))
CELL = st.one_of(
    st.text(ALPHABET, max_size=40),
    st.sampled_from([*CARDS, "12345678901", "123456789012", "+27 82 555 0001", "\x1f", ""]),
    st.builds(
        lambda a, card, b: a + card + b,
        st.text(ALPHABET, max_size=5),
        st.sampled_from(CARDS),
        st.text(ALPHABET, max_size=5),
    ),
    st.text(max_size=20),
)


def _cell_by_cell(names: list[str], cells: list[str]) -> tuple[str, str] | None:
    for column, value in zip(names, cells, strict=True):
        problem = cell_problem(column, value)
        if problem is not None:
            return column, problem
    return None


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cells=st.lists(CELL, min_size=1, max_size=9))
def test_the_whole_row_check_answers_what_each_cell_answers(cells: list[str]) -> None:
    names = [f"c{i}" for i in range(len(cells))]
    assert row_problem(names, cells) == _cell_by_cell(names, cells)


def test_a_card_split_over_two_cells_is_two_harmless_cells_and_one_in_a_cell_is_caught() -> None:
    names = ["a", "b", "c"]
    assert row_problem(names, ["41111111", "11111111", "x"]) is None
    assert row_problem(names, ["ok", "x", "pay 4111 1111 1111 1111"]) == (
        "c",
        "c contains what looks like a card number; remove it",
    )
    # Twelve digits that are no card (Luhn fails) pass the fast check's fallback, too.
    assert row_problem(names, ["123456789012", "x", "y"]) is None
    assert not contains_card_number("123456789012")


def test_the_cell_opening_mark_and_sizes_are_still_refused_per_cell() -> None:
    names = ["a", "b"]
    assert row_problem(names, ["x\x1fy", "z"]) == ("a", "a holds a control character (such as NUL)")
    long = "x" * (MAX_CELL_CHARS + 1)
    assert row_problem(names, ["ok", long]) == (
        "b",
        f"b is longer than {MAX_CELL_CHARS} characters",
    )
    # Two cells that are each within the limit but together are not: both fine.
    half = "x" * (MAX_CELL_CHARS - 10)
    assert row_problem(names, [half, half]) is None


def test_digits_of_other_scripts_go_the_full_way() -> None:
    names = ["a"]
    assert row_problem(names, ["٤١١١١١١١١١١١١١١١"]) is not None
    assert row_problem(names, ["\uff14111 1111 1111 1111"]) is not None


def test_records_screen_with_the_row_check() -> None:
    rows = iter([["p-1", "void"], ["p-2", "4111111111111111"], ["p-3", "capture"]])

    class Reader:
        line_num = 1

        def __next__(self) -> list[str]:
            self.line_num += 1
            return next(rows)

    out = list(records(Reader(), ["purchase_id", "decision"]))
    assert out[0] == (2, {"purchase_id": "p-1", "decision": "void"})
    assert out[1][1].column == "decision"  # type: ignore[union-attr]
    assert out[2] == (4, {"purchase_id": "p-3", "decision": "capture"})


@settings(max_examples=300, deadline=None)
@given(
    whole=st.from_regex(r"[0-9]{1,13}", fullmatch=True),
    frac=st.one_of(st.none(), st.from_regex(r"[0-9]{1,3}", fullmatch=True)),
    currency=st.sampled_from(["ZAR", "JPY", "BHD", "USD"]),
)
def test_cents_of_an_amount_cell_are_what_parse_amount_says(
    whole: str, frac: str | None, currency: str
) -> None:
    """The import's integer arithmetic for amounts agrees with the domain's Decimal parser."""
    from payflows.domain.money import parse_amount
    from payflows.imports._cells import _cents

    text = whole if frac is None else f"{whole}.{frac}"
    try:
        expected: int | None = parse_amount(text, currency)
    except ValueError as exc:
        assert "decimals" in str(exc) or "too large" in str(exc)
        expected = None if "decimals" in str(exc) else _cents(text, currency)
    assert _cents(text, currency) == expected


def test_repeated_keys_are_found_across_and_within_key_batches(monkeypatch) -> None:
    """Keys are recorded a batch at a time; a repeat names the first row, wherever it is."""
    import io

    from payflows.imports import core
    from payflows.imports.results import RowError

    monkeypatch.setattr(core, "_KEY_BATCH", 3)
    header = "external_id,email,full_name\n"
    keys = ["a", "b", "c", "d", "b", "e", "a", "f", "f", "g"]
    text = header + "".join(f"{k},{k}@example.co.za,N {k}\n" for k in keys)
    _kind, rows = core.iter_rows(io.StringIO(text, newline=""), "customers")
    out = list(rows)
    assert [line for line, _ in out] == list(range(2, 12))
    errors = {line: item.reason for line, item in out if isinstance(item, RowError)}
    assert errors == {
        6: "external_id repeats the row on line 3: each key once per file",
        8: "external_id repeats the row on line 2: each key once per file",
        10: "external_id repeats the row on line 9: each key once per file",
    }


def test_rows_before_a_break_in_the_file_are_handed_on_before_the_error(monkeypatch) -> None:
    import io

    import pytest

    from payflows.csvfiles import FileError
    from payflows.imports import core

    monkeypatch.setattr(core, "_KEY_BATCH", 100)
    text = 'external_id,email,full_name\na,a@example.co.za,A\nb,b@example.co.za,"B\n'
    _kind, rows = core.iter_rows(io.StringIO(text, newline=""), "customers")
    assert next(rows)[1].external_id == "a"  # type: ignore[union-attr]
    with pytest.raises(FileError):
        next(rows)


def _repeats_reported(monkeypatch, keys: list[str], key_batch: int) -> dict[int, str]:
    import io

    from payflows.imports import core
    from payflows.imports.results import RowError

    monkeypatch.setattr(core, "_KEY_BATCH", key_batch)
    header = "external_id,email,full_name\n"
    text = header + "".join(f"{k},x@example.co.za,N\n" for k in keys)
    _kind, rows = core.iter_rows(io.StringIO(text, newline=""), "customers")
    out = list(rows)
    assert [line for line, _ in out] == list(range(2, len(keys) + 2))
    return {line: item.reason for line, item in out if isinstance(item, RowError)}


def _expected_repeats(keys: list[str]) -> dict[int, str]:
    """The rule, by a dict: a key's later rows name its first row's line."""
    first: dict[str, int] = {}
    expected = {}
    for line, key in enumerate(keys, start=2):
        if key in first:
            expected[line] = (
                f"external_id repeats the row on line {first[key]}: each key once per file"
            )
        else:
            first[key] = line
    return expected


def test_repeats_are_found_in_increasing_keys_however_far_apart(monkeypatch) -> None:
    """While keys strictly increase only the last is kept; the first key out of order, a repeat
    of the very first row 500 rows later, must still be found, and so must those after it."""
    keys = [f"k{i:05d}" for i in range(500)]
    keys += ["k00000", "k00499", "k00250", "k00600", "k00250", "k00600", "k00001"]
    reported = _repeats_reported(monkeypatch, keys, 7)
    assert reported == _expected_repeats(keys)
    assert reported[502] == "external_id repeats the row on line 2: each key once per file"
    assert len(reported) == 6  # all but the new k00600


def test_a_repeat_after_an_out_of_order_new_key_is_found(monkeypatch) -> None:
    """An out-of-order key that is new ends the increasing run; earlier keys repeated later,
    in any batch, are found with their first line."""
    keys = [f"k{i:04d}" for i in range(0, 300, 3)]  # increasing, 100 keys
    keys += ["k0001"]  # new, but smaller than the last: out of order
    keys += [f"k{i:04d}" for i in range(400, 450)]  # increasing again, new
    keys += ["k0003", "k0297", "k0001", "k0449", "k0500"]
    for key_batch in (1, 4, 1000):
        assert _repeats_reported(monkeypatch, keys, key_batch) == _expected_repeats(keys)
    reported = _repeats_reported(monkeypatch, keys, 4)
    assert reported[2 + 151] == "external_id repeats the row on line 3: each key once per file"
    assert reported[2 + 153] == "external_id repeats the row on line 102: each key once per file"


def test_a_repeat_next_to_itself_in_an_increasing_run_is_found(monkeypatch) -> None:
    """Equal neighbours are not strictly increasing, in a batch or across two."""
    keys = ["a", "b", "b", "c", "d", "e", "e", "f"]
    for key_batch in (1, 2, 3, 100):
        assert _repeats_reported(monkeypatch, keys, key_batch) == _expected_repeats(keys)
        assert set(_repeats_reported(monkeypatch, keys, key_batch)) == {4, 8}


@given(
    runs=st.lists(st.lists(st.integers(0, 60), max_size=25).map(sorted), min_size=1, max_size=6),
    key_batch=st.integers(1, 9),
)
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_repeats_found_match_the_rule_on_runs_of_sorted_keys(monkeypatch, runs, key_batch) -> None:
    """Sorted runs (with repeats inside and across them), each key checked against the rule."""
    keys = [f"id{v:03d}" for run in runs for v in run]
    assert _repeats_reported(monkeypatch, keys, key_batch) == _expected_repeats(keys)
