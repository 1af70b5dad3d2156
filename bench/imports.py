"""Benchmark the CSV import against a bare pandas read plus bulk insert of the same rows.

    .venv/bin/python bench/imports.py               # 100,000 rows of each kind
    .venv/bin/python bench/imports.py 1000000       # the issue's million

Generates four CSV files of N rows (customers, one stored card each, one subscription each, one
one-off charge each) and loads them, in that order, into two fresh SQLite ledgers (migrated to
head, in a temporary directory unless ``--dir`` is given):

- **import**: :func:`payflows.imports.import_csv`, every row validated, streamed in chunks;
- **baseline**: ``pandas.read_csv`` of the whole file, the few vectorised conversions the
  ledger needs (amounts to cents from their text, customer and card ids looked up), and one
  DBAPI ``executemany`` of the same rows into the same tables in one transaction.

Each side of each kind runs in a **fresh process** so that its peak memory (``VmHWM``) is its
own. The import of N / 10 rows is run too, so that "flat memory" is a measured claim. Both
ledgers must end with the same rows (counts and sums compared). The last line is the ratio.
Not a test: run by hand.
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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

KINDS = ("customers", "payment_methods", "subscriptions", "one_off_charges")
BRANDS = ("visa", "mastercard", "maestro")
PANS = ("411111******1111", "555555******4444", "676770******0008")


# --------------------------------------------------------------------------- data


def generate(folder: Path, n: int) -> dict[str, Path]:
    """Four CSV files of ``n`` rows; the i-th customer has card i, subscription i, charge i."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {kind: folder / f"{kind}-{n}.csv" for kind in KINDS}
    if all(p.exists() for p in files.values()):
        return files
    with files["customers"].open("w") as f:
        f.write("external_id,email,full_name,phone,country\n")
        f.writelines(
            f"cust-{i:07d},person{i}@example.co.za,Person Number {i},"
            f"+27 82 555 {i % 10000:04d},ZA\n"
            for i in range(n)
        )
    with files["payment_methods"].open("w") as f:
        f.write(
            "customer_external_id,recurring_token,network_transaction_id,original_amount,"
            "currency,brand,masked_pan,expiry_month,expiry_year\n"
        )
        f.writelines(
            f"cust-{i:07d},tok_{i:010d},NTI{i:09d},{100 + i % 900}.{i % 100:02d},ZAR,"
            f"{BRANDS[i % 3]},{PANS[i % 3]},{1 + i % 12:02d},{2027 + i % 5}\n"
            for i in range(n)
        )
    with files["subscriptions"].open("w") as f:
        f.write(
            "external_id,customer_external_id,recurring_token,plan,amount,currency,interval,"
            "interval_count,first_billing_date\n"
        )
        f.writelines(
            f"sub-{i:07d},cust-{i:07d},tok_{i:010d},Plan {i % 7},{99 + i % 500}.{i % 100:02d},"
            f"ZAR,month,1,2026-12-{1 + i % 28:02d}\n"
            for i in range(n)
        )
    with files["one_off_charges"].open("w") as f:
        f.write(
            "external_id,customer_external_id,recurring_token,amount,currency,description,"
            "charge_on\n"
        )
        f.writelines(
            f"inv-{i:07d},cust-{i:07d},tok_{i:010d},{10 + i % 900}.{i % 100:02d},ZAR,"
            f"Installation {i % 13},2026-12-{1 + i % 28:02d}\n"
            for i in range(n)
        )
    return files


# --------------------------------------------------------------------------- the two sides


def run_import(kind: str, csv_path: Path, db: Path) -> dict[str, object]:
    from payflows.imports import import_csv
    from payflows.ledger import make_engine

    engine = make_engine(f"sqlite:///{db}")
    result = import_csv(csv_path, engine, kind=kind, error_path=None)  # type: ignore[arg-type]
    assert result.rejected == 0, result.errors[:3]
    return {"rows": result.inserted + result.updated + result.unchanged}


def _cents(text: object) -> object:
    """Vectorised major units to integer cents, from the text (never through floats)."""
    whole_frac = text.str.split(".", n=1, expand=True)  # type: ignore[attr-defined]
    frac = whole_frac[1].fillna("").str.ljust(2, "0") if 1 in whole_frac else "00"
    return (whole_frac[0] + frac).astype("int64")


def run_baseline(kind: str, csv_path: Path, db: Path) -> dict[str, object]:
    """What a hand-written loader would do: read it all, convert columns, one executemany."""
    import pandas as pd

    df = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    now = time.strftime("%Y-%m-%d %H:%M:%S.000000", time.gmtime())
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA foreign_keys=ON")
    con.execute("BEGIN IMMEDIATE")
    if kind == "customers":
        cols = ["external_id", "email", "full_name", "phone", "country"]
        df["email"] = df["email"].str.lower()
        df["phone"] = df["phone"].str.replace(r"[\s().-]", "", regex=True)
        rows = df[cols].assign(c=now, u=now).itertuples(index=False, name=None)
    else:
        customers = dict(con.execute("SELECT external_id, id FROM customers"))
        customer_id = df["customer_external_id"].map(customers).astype("int64")
        if kind == "payment_methods":
            cols = [
                "customer_id",
                "recurring_token",
                "network_transaction_id",
                "original_amount_cents",
                "currency",
                "brand",
                "masked_pan",
                "expiry_month",
                "expiry_year",
            ]
            out = df.assign(
                customer_id=customer_id,
                original_amount_cents=_cents(df["original_amount"]),
                expiry_month=df["expiry_month"].astype("int64"),
                expiry_year=df["expiry_year"].astype("int64"),
            )[cols]
        else:
            methods = dict(con.execute("SELECT recurring_token, id FROM payment_methods"))
            extra = {
                "customer_id": customer_id,
                "payment_method_id": df["recurring_token"].map(methods).astype("int64"),
                "amount_cents": _cents(df["amount"]),
            }
            if kind == "subscriptions":
                first = df["first_billing_date"] + " 00:00:00.000000"
                extra |= {
                    "interval_unit": df["interval"],
                    "interval_count": df["interval_count"].astype("int64"),
                    "next_billing_at": first,
                    "anchor_day": df["first_billing_date"].str[8:10].astype("int64"),
                    "status": "active",
                    "failed_attempts": 0,
                }
                cols = ["external_id", "plan", "currency", *extra]
            else:
                extra |= {"status": "planned", "failed_attempts": 0}
                cols = ["external_id", "currency", "description", "charge_on", *extra]
            out = df.assign(**extra)[cols]
        rows = out.assign(c=now, u=now).itertuples(index=False, name=None)
        cols = list(cols)
    names = ", ".join([*cols, "created_at", "updated_at"])
    marks = ", ".join("?" * (len(cols) + 2))
    con.executemany(f"INSERT INTO {kind} ({names}) VALUES ({marks})", rows)
    con.execute("COMMIT")
    con.close()
    return {"rows": len(df)}


def child(side: str, kind: str, csv_path: str, db: str) -> None:
    """One side of one kind, in this fresh process; prints a JSON line."""
    if side == "import":  # libraries loaded before the clock starts: only the work is timed
        import payflows.imports
        import payflows.ledger  # noqa: F401
    else:
        import pandas  # noqa: F401
    wall, cpu = time.perf_counter(), time.process_time()
    run = run_import if side == "import" else run_baseline
    out = run(kind, Path(csv_path), Path(db))
    out["wall"] = time.perf_counter() - wall
    out["cpu"] = time.process_time() - cpu
    with open("/proc/self/status") as f:
        status = dict(line.split(":", 1) for line in f)
    out["peak_mb"] = int(status["VmHWM"].split()[0]) / 1024
    out["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


def spawn(side: str, kind: str, csv_path: Path, db: Path) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", side, kind, str(csv_path), str(db)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        sys.exit(f"{side} {kind} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def fresh_ledger(path: Path) -> Path:
    from payflows.ledger.migrate import upgrade

    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    upgrade(f"sqlite:///{path}")
    return path


def fingerprint(db: Path) -> list[object]:
    con = sqlite3.connect(db)
    out = [
        con.execute(
            "SELECT count(*), count(DISTINCT email), count(phone) FROM customers"
        ).fetchone(),
        con.execute(
            "SELECT count(*), sum(original_amount_cents), sum(expiry_year) FROM payment_methods"
        ).fetchone(),
        con.execute(
            "SELECT count(*), sum(amount_cents), sum(anchor_day), min(next_billing_at),"
            " sum(payment_method_id) FROM subscriptions"
        ).fetchone(),
        con.execute(
            "SELECT count(*), sum(amount_cents), max(charge_on), sum(customer_id)"
            " FROM one_off_charges"
        ).fetchone(),
    ]
    con.close()
    return out


def load_all(side: str, files: dict[str, Path], db: Path) -> dict[str, dict[str, float]]:
    fresh_ledger(db)
    return {kind: spawn(side, kind, files[kind], db) for kind in KINDS}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("n", nargs="?", type=int, default=100_000)
    ap.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="alternate the sides R times: least wall and least CPU of the R",
    )
    ap.add_argument("--dir", type=Path, default=None, help="where the CSVs and ledgers go")
    ap.add_argument("--no-small", action="store_true", help="skip the N/10 import (memory)")
    args = ap.parse_args()
    folder = args.dir or Path(tempfile.mkdtemp(prefix="payflows-bench-imports-"))
    n = args.n
    started = time.perf_counter()
    files = generate(folder, n)
    print(f"{n:,} rows of each kind in {folder} ({time.perf_counter() - started:.1f} s)")
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    best: dict[str, dict[str, dict[str, float]]] = {}
    least_cpu: dict[str, dict[str, float]] = {}
    for r in range(args.repeat):
        for side in ("baseline", "import"):
            got = load_all(side, files, folder / f"{side}.db")
            total = sum(g["wall"] for g in got.values())
            line = ", ".join(f"{k} {g['wall']:.1f} s" for k, g in got.items())
            print(f"round {r + 1} {side:8}: {total:7.1f} s ({line})")
            for kind, g in got.items():
                if kind not in best.setdefault(side, {}) or g["wall"] < best[side][kind]["wall"]:
                    best[side][kind] = g
                # CPU: the least of the rounds, per side and kind (load inflates CPU seconds too)
                least = least_cpu.setdefault(side, {})
                least[kind] = min(least.get(kind, g["cpu"]), g["cpu"])
    same = fingerprint(folder / "baseline.db") == fingerprint(folder / "import.db")
    small_peak = None
    if not args.no_small and n >= 10:
        small = generate(folder, n // 10)
        got = load_all("import", small, folder / "small.db")
        small_peak = max(g["peak_mb"] for g in got.values())
    print(f"load average at end: {os.getloadavg()[0]:.2f}; both ledgers hold the same rows: {same}")
    print(
        f"{'kind':16} {'baseline s (cpu)':>18} {'import s (cpu)':>18} {'wall':>6} {'cpu':>6} "
        f"{'peak MB base':>12} {'peak MB imp':>11}"
    )
    for kind in KINDS:
        b, i = best["baseline"][kind], best["import"][kind]
        bcpu, icpu = least_cpu["baseline"][kind], least_cpu["import"][kind]
        print(
            f"{kind:16} {b['wall']:9.1f} ({bcpu:6.1f}) {i['wall']:9.1f} ({icpu:6.1f}) "
            f"{i['wall'] / b['wall']:5.2f}x {icpu / bcpu:5.2f}x {b['peak_mb']:12.0f} "
            f"{i['peak_mb']:11.0f}"
        )
    bw = sum(g["wall"] for g in best["baseline"].values())
    iw = sum(g["wall"] for g in best["import"].values())
    bc = sum(least_cpu["baseline"].values())
    ic = sum(least_cpu["import"].values())
    bpeak = max(g["peak_mb"] for g in best["baseline"].values())
    ipeak = max(g["peak_mb"] for g in best["import"].values())
    flat = f", import at {n // 10:,} rows {small_peak:.0f} MB" if small_peak else ""
    if not same:
        print(
            "WARNING: the two ledgers differ",
            fingerprint(folder / "baseline.db"),
            fingerprint(folder / "import.db"),
        )
    print(
        f"imports {n:,} rows x 4 kinds: import {iw:.1f} s / baseline {bw:.1f} s = "
        f"{iw / bw:.2f}x wall ({ic / bc:.2f}x CPU); peak RSS import {ipeak:.0f} MB"
        f"{flat}, baseline {bpeak:.0f} MB"
    )


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--child":
        child(*sys.argv[2:])
    else:
        main()
