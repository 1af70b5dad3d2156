"""Memory stays flat however long the file: the peak depends on the chunk size, not the rows.

tracemalloc slows Python down several times, so the default run compares 3k with 30k rows
(~10 s); ``PAYFLOWS_BIG_IMPORT_TEST=1`` compares 20k with 200k (about a minute). Holding the
rows, the results or the ORM objects of earlier chunks would grow the peak tenfold in either.
"""

from __future__ import annotations

import os
import shutil
import tracemalloc
from pathlib import Path

from payflows.imports import import_csv
from payflows.ledger import make_engine

BIG = os.environ.get("PAYFLOWS_BIG_IMPORT_TEST") == "1"
SMALL_ROWS, LARGE_ROWS = (20_000, 200_000) if BIG else (3_000, 30_000)


def _generate(path: Path, rows: int, prefix: str = "sub") -> None:
    """A subscriptions file written line by line (never built in memory)."""
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(
            "external_id,customer_external_id,recurring_token,plan,amount,currency,interval,"
            "interval_count,first_billing_date\n"
        )
        for i in range(rows):
            bad = i % 997 == 0  # a steady trickle of rejected rows, kept only up to max_errors
            out.write(
                f"{prefix}-{i:07d},cust-0001,tok_7f3a1c0001,Plan {i % 7},"
                f"{'x' if bad else f'{100 + i % 900}.{i % 100:02d}'},ZAR,month,1,2026-12-01\n"
            )


def _peak(tmp_path: Path, template: Path, rows: int) -> tuple[int, int]:
    db = tmp_path / f"ledger-{rows}.db"
    shutil.copy(template, db)
    engine = make_engine(f"sqlite:///{db}")
    try:
        import_csv(Path(__file__).parents[3] / "data/samples/customers.csv", engine)
        import_csv(Path(__file__).parents[3] / "data/samples/payment_methods.csv", engine)
        warm = tmp_path / "warm.csv"
        _generate(warm, 3000, prefix="warm")
        import_csv(warm, engine, chunk_rows=1000)  # fill the caches (compiled statements...)
        source = tmp_path / f"subs-{rows}.csv"
        _generate(source, rows)
        tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            result = import_csv(source, engine, chunk_rows=1000, error_path=tmp_path / "e.csv")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    finally:
        engine.dispose()
    assert result.rows_read == rows
    assert result.rejected == len(range(0, rows, 997))
    assert result.inserted == rows - result.rejected
    print(f"{rows} rows: peak {peak / 1024:.0f} KiB in {result.seconds:.1f} s (traced)")
    return peak, result.rejected


def test_peak_memory_does_not_grow_with_the_number_of_rows(
    tmp_path: Path, migrated_template: Path
) -> None:
    small, _ = _peak(tmp_path, migrated_template, SMALL_ROWS)
    large, _ = _peak(tmp_path, migrated_template, LARGE_ROWS)
    # Ten times the rows: the peak may wobble but must not follow the rows.
    assert large < small * 1.5 + 512 * 1024, (small, large)
    assert large < 16 * 1024 * 1024, large
