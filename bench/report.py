"""Benchmark the settlement report on a ledger of a million payment attempts.

    .venv/bin/python bench/report.py                 # 1,000,000 attempts over a month
    .venv/bin/python bench/report.py 200000 --repeat 3 --database /tmp/ledger.db

Builds a SQLite ledger (temporary unless ``--database`` names one that exists already) with N
attempts spread over November 2026: customer-initiated and merchant-initiated payments,
pre-auths with their captures and voids, zero-auths, cancels, refunds and refund cancels,
approvals, declines by code, fees and settlement, plus their holds, refunds and 20,000
subscriptions. Then it measures, each in a fresh process so that peak memory is the run's own:

- **report**: the report's core for the whole month without reconciliation
  (:func:`payflows.reports.build_summaries` and :func:`payflows.reports.write_report`: every
  summary, the CSVs and the HTML page);
- **baseline**: the bare pandas work on the same data: one ``read_sql`` of the period's
  attempts (no chunks, no joins, default dtypes) and the group-bys a report cannot do without
  (per day, currency, brand, kind and state; declines per code; settlement per day).

It prints wall and CPU seconds and peak RSS (``ru_maxrss``) of both, the RSS after imports,
and the ratio report / baseline, of wall and CPU seconds of the best runs, as the last line.
Targets: within 1.25x of the baseline, under 1 GB. Not a test: run by hand; figures in
bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

START = datetime(2026, 10, 31, 22, 0, tzinfo=UTC)  # 2026-11-01 00:00 SAST
SECONDS = 30 * 86_400
KINDS = [
    "cit",
    "mit",
    "preauth",
    "zero_auth",
    "capture",
    "void",
    "cancel",
    "refund",
    "refund_cancel",
]
KIND_P = [0.50, 0.20, 0.10, 0.03, 0.07, 0.02, 0.01, 0.06, 0.01]
INITIATING = {0, 1, 2, 3}
CODES = ["insufficient_funds", "do_not_honour", "expired_card", "stolen_card", "limit_exceeded"]


def _stamps(seconds: np.ndarray) -> np.ndarray:
    """Naive-UTC text as SQLAlchemy stores a datetime on SQLite."""
    base = np.datetime64(START.replace(tzinfo=None), "us")
    values = base + (seconds * 1_000_000).astype("timedelta64[us]")
    return np.char.replace(np.datetime_as_string(values, unit="us"), "T", " ")


def build(path: Path, n: int, seed: int = 7) -> None:
    from payflows.ledger.migrate import upgrade

    upgrade(f"sqlite:///{path}")
    rng = np.random.default_rng(seed)
    kind = rng.choice(len(KINDS), size=n, p=KIND_P)
    init = np.isin(kind, list(INITIATING))
    init_idx = np.flatnonzero(init)
    amount = rng.integers(1_000, 500_000, size=n)
    amount[kind == 3] = 0
    owner = init_idx[rng.integers(0, len(init_idx), size=n)]
    owner_amount = amount[owner]
    amount = np.where(kind == 4, (owner_amount * 0.6).astype(np.int64), amount)
    half = rng.random(n) < 0.5
    amount = np.where(kind == 7, np.where(half, owner_amount, owner_amount // 2), amount)
    amount = np.where(np.isin(kind, [5, 6, 8]), owner_amount, amount)
    roll = rng.random(n)
    state = np.where(
        init,
        np.where(roll < 0.85, "succeeded", np.where(roll < 0.98, "declined", "unknown")),
        np.where(roll < 0.98, "succeeded", "failed"),
    )
    status = np.full(n, "error", dtype=object)
    ok = state == "succeeded"
    settled = rng.random(n) < 0.6
    status[ok & np.isin(kind, [0, 1]) & settled] = "settled"
    status[ok & np.isin(kind, [0, 1]) & ~settled] = "paid"
    status[ok & (kind == 2)] = "paid"
    status[ok & (kind == 3)] = "preauthorized"
    status[state == "unknown"] = "pending_execute"
    status[~init] = "paid"
    decline = np.where(state == "declined", rng.choice(CODES, size=n), None)
    brand = rng.choice(["visa", "mastercard", "maestro"], size=n, p=[0.6, 0.35, 0.05])
    currency = rng.choice(["ZAR", "USD"], size=n, p=[0.9, 0.1])
    seconds = np.sort(rng.integers(0, SECONDS, size=n))
    created = _stamps(seconds)
    settled_at = _stamps(seconds + 2 * 86_400)
    paid = ok & np.isin(kind, [0, 1, 2])
    # A pre-auth is paid what its capture took (60 %), fees on that, as the gateway reports.
    paid_amount = np.where(kind == 2, (amount * 0.6).astype(np.int64), amount)
    fee = (paid_amount * 25 + 500) // 1000
    rows = (
        (
            f"k{i:08d}",
            KINDS[k],
            state[i],
            f"p{i:08d}" if init[i] else None,
            None if init[i] else f"p{owner[i]:08d}",
            status[i] if init[i] or ok[i] else None,
            int(amount[i]),
            currency[i] if init[i] else currency[owner[i]],
            brand[i] if init[i] else brand[owner[i]],
            decline[i],
            created[i],
            created[i],
            int(paid_amount[i]) if paid[i] else None,
            int(fee[i]) if paid[i] else None,
            int(paid_amount[i] - fee[i]) if paid[i] else None,
            created[i] if paid[i] else None,
            settled_at[i] if paid[i] and status[i] == "settled" else None,
        )
        for i, k in enumerate(kind.tolist())
    )
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    with db:
        db.execute(
            "INSERT INTO customers (external_id, created_at, updated_at) VALUES ('c', ?, ?)",
            (created[0], created[0]),
        )
        db.executemany(
            "INSERT INTO payment_attempts (business_key, kind, state, purchase_id,"
            " related_purchase_id, purchase_status, amount_cents, currency, brand, decline_code,"
            " created_at, updated_at, paid_cents, fee_cents, net_cents, paid_at, settled_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            rows,
        )
        pre = np.flatnonzero((kind == 2) & ok)
        expires = _stamps(seconds + 7 * 86_400)
        db.executemany(
            "INSERT INTO holds (purchase_id, authorised_cents, captured_cents, currency, brand,"
            " is_mit, authorised_at, expires_at, decision, status, created_at, updated_at)"
            " VALUES (?,?,?,?,?,0,?,?,'none',?,?,?)",
            (
                (
                    f"p{i:08d}",
                    int(amount[i]),
                    int(amount[i] * 0.6) if j % 50 else 0,
                    currency[i],
                    brand[i],
                    created[i],
                    expires[i],
                    "paid" if j % 50 else "hold",
                    created[i],
                    created[i],
                )
                for j, i in enumerate(pre.tolist())
            ),
        )
        ref = np.flatnonzero((kind == 7) & ok)
        db.executemany(
            "INSERT INTO refunds (refund_id, purchase_id, amount_cents, currency, status,"
            " created_at, updated_at) VALUES (?,?,?,?,?,?,?)",
            (
                (
                    f"r{i:08d}",
                    f"p{owner[i]:08d}",
                    int(amount[i]),
                    currency[owner[i]],
                    "settled" if i % 3 else "pending",
                    created[i],
                    created[i],
                )
                for i in ref.tolist()
            ),
        )
        db.executemany(
            "INSERT INTO subscriptions (external_id, customer_id, plan, amount_cents, currency,"
            " interval_unit, interval_count, next_billing_at, status, failed_attempts,"
            " created_at, updated_at) VALUES (?,1,'basic',9900,'ZAR','month',1,?,?,?,?,?)",
            (
                (
                    f"s{i}",
                    created[-1],
                    ("active", "active", "active", "past_due", "suspended")[i % 5],
                    (0, 0, 0, 2, 4)[i % 5],
                    created[0],
                    created[0],
                )
                for i in range(20_000)
            ),
        )
    db.execute("ANALYZE")
    db.close()


def _rss_mb() -> float:
    """Peak RSS of this process image: ``VmHWM`` (``ru_maxrss`` survives ``exec`` on Linux, so a
    child would report the parent's peak)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(mode: str, database: Path, out_dir: Path) -> dict[str, float]:
    """One measurement, in this (fresh) process."""
    import pandas as pd
    from sqlalchemy import text

    from payflows.ledger import make_engine
    from payflows.reports import Period, build_summaries, write_report

    engine = make_engine(f"sqlite:///{database}")
    period = Period(date(2026, 11, 1), date(2026, 11, 30), "Africa/Johannesburg")
    with engine.connect() as conn:  # open the file, warm the import of drivers
        conn.execute(text("SELECT 1"))
    after_imports = _rss_mb()
    wall, cpu = time.perf_counter(), time.process_time()
    if mode == "report":
        summaries = build_summaries(engine, period, datetime(2026, 12, 1, 6, 0, tzinfo=UTC))
        write_report(summaries, out_dir)
        rows = int(summaries.extra["attempts"])
    else:
        start = period.start_utc.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
        end = period.end_utc.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
        with engine.connect() as conn:
            frame = pd.read_sql(
                text(
                    "SELECT kind, state, amount_cents, currency, brand, decline_code, created_at,"
                    " fee_cents, net_cents, paid_at, settled_at, purchase_status"
                    " FROM payment_attempts WHERE created_at >= :s AND created_at < :e"
                ),
                conn,
                params={"s": start, "e": end},
            )
        frame["day"] = (
            pd.to_datetime(frame["created_at"], utc=True, format="ISO8601")
            .dt.tz_convert("Africa/Johannesburg")
            .dt.normalize()
        )
        keys = ["day", "currency", "brand", "kind", "state"]
        frame.groupby(keys)["amount_cents"].agg(["size", "sum"])
        frame[frame["state"] == "declined"].groupby(["day", "currency", "decline_code"])[
            "amount_cents"
        ].agg(["size", "sum"])
        paid = frame[frame["paid_at"].notna()]
        paid.assign(settled=paid["settled_at"].notna()).groupby(
            ["day", "currency", "brand", "settled"]
        )[["amount_cents", "fee_cents", "net_cents"]].sum()
        rows = len(frame)
    return {
        "wall": time.perf_counter() - wall,
        "cpu": time.process_time() - cpu,
        "rss_mb": _rss_mb(),
        "rss_after_imports_mb": after_imports,
        "rows": rows,
    }


def run_child(mode: str, database: Path, out_dir: Path) -> dict[str, float]:
    proc = subprocess.run(
        [
            sys.executable,
            __file__,
            "--measure",
            mode,
            "--database",
            str(database),
            "--out",
            str(out_dir),
        ],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=1_000_000)
    parser.add_argument("--database", type=Path, help="SQLite file (built when missing)")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--measure", choices=["report", "baseline"], help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.database, args.out)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        database = args.database or Path(tmp) / "ledger.db"
        if not database.exists():
            t0 = time.perf_counter()
            build(database, args.n)
            size = os.path.getsize(database) / 1e6
            print(f"built {args.n:,} attempts in {time.perf_counter() - t0:.1f}s ({size:.0f} MB)")
        out = Path(tmp) / "out"
        results: dict[str, list[dict[str, float]]] = {"baseline": [], "report": []}
        for _ in range(args.repeat):
            for mode in ("baseline", "report"):
                r = run_child(mode, database, out)
                results[mode].append(r)
                print(
                    f"{mode:8} {r['rows']:>9,} rows  wall {r['wall']:6.2f}s  cpu {r['cpu']:6.2f}s"
                    f"  peak RSS {r['rss_mb']:6.0f} MB"
                    f" (after imports {r['rss_after_imports_mb']:.0f})"
                )
        best = {mode: min(rs, key=lambda r: r["wall"]) for mode, rs in results.items()}
        b, r = best["baseline"], best["report"]
        cpu = {mode: min(r["cpu"] for r in rs) for mode, rs in results.items()}
        print(
            f"report / baseline: cpu {cpu['report'] / cpu['baseline']:.2f}x (best of each),"
            f" peak RSS {r['rss_mb']:.0f} MB vs {b['rss_mb']:.0f} MB (targets: <= 1.25x, < 1024 MB)"
        )
        print(
            f"ratio report / baseline (best of {args.repeat}): wall {r['wall'] / b['wall']:.2f}x, "
            f"CPU {cpu['report'] / cpu['baseline']:.2f}x"
        )


if __name__ == "__main__":
    main()
