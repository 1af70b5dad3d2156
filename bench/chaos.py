"""The issue's chaos run at full size: ``payflows bill`` killed twice, rerun until complete.

    .venv/bin/python bench/chaos.py [N_SUBSCRIPTIONS] [N_ONE_OFFS] [--rate 0.03]

2,000 due subscriptions (10 % on a card the network declines) and 210 one-off charges; at the
sandbox 503, 500 and 429 answers, latency past the client's timeout, dropped connections and
answers lost after the gateway committed, ``--rate`` each, on purchase creation and charges
(and 503 / slow answers on read-backs); ``payflows bill`` SIGKILLed at a quarter and at two
thirds of the way, then run again as a user would until it exits 0. Prints every run and the
figures: double charges, missed periods, ledger-gateway mismatches. The same scenario runs in
``tests/billing/test_chaos.py`` at a smaller size.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.billing.test_chaos import billing_chaos, check


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("subscriptions", nargs="?", type=int, default=2000)
    parser.add_argument("one_offs", nargs="?", type=int, default=210)
    parser.add_argument("--rate", type=float, default=0.03)
    args = parser.parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        report = asyncio.run(billing_chaos(Path(tmp), args.subscriptions, args.one_offs, args.rate))
    for run in report["runs"]:
        print(run.line())
    print(
        f"{report['double']} double, {report['missed']} missed, {report['mismatches']} ledger "
        f"mismatches, {report['undeclined']} declines without reason, of "
        f"{report['subscriptions']} subscriptions and {report['one_offs']} one-off charges; "
        f"{report['resent']} re-charged on the same purchase; {report['paid_total']} paid; "
        f"{time.monotonic() - started:.0f}s in all"
    )
    try:
        check(report)
    except AssertionError as exc:
        print(f"FAILED: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
