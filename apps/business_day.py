"""``payflows demo``: one whole business day of a merchant, on embedded defaults.

The main job shows every part of payflows doing its real work, in the order a merchant's day
has them: the sample CSVs are imported, every S2S scenario runs as its Prefect flow, due
subscriptions are billed, holds are swept, the sandbox clock moves on so the day's payments
settle, and the settlement report is built. Nothing here is staged: each step is the same flow
a deployment runs, against the built-in sandbox over loopback and a SQLite ledger.

A day gets a workspace of its own (``data/out/days/<run>/``: ledger, sandbox state, inbox,
reports) because the embedded sandbox is born with the day: a ledger that outlived it would
point at purchases no gateway knows. The flows are recorded by a Prefect server (the one
``PREFECT_API_URL`` names when it answers, else a local one started for the day, whose UI shows
the runs while the day goes on). Prefect's console chatter is kept to warnings so that the
day's own lines are what a person reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx

from apps.day_scenarios import DayTally, run_scenarios
from apps.day_scenarios import say as _say
from apps.local_prefect import prefect_api
from apps.samples import samples_dir
from apps.stack_wiring import sample_token_cards
from payflows.domain.money import format_amount
from payflows.settings import Settings

__all__ = ["DayWorkspace", "run_business_day"]

#: The sample files, in the order their rows depend on each other.
IMPORTS = (
    "customers.csv",
    "payment_methods.csv",
    "subscriptions.csv",
    "one_off_charges.csv",
    "subscriptions_bad_rows.csv",
)
CURRENCY = "ZAR"
DAY = 86_400


def _local_day(moment: datetime) -> date:
    """The merchant's calendar day of ``moment`` (``PAYFLOWS_TIMEZONE``)."""
    from zoneinfo import ZoneInfo

    from payflows.settings import load_settings

    return moment.astimezone(ZoneInfo(load_settings().timezone)).date()


@dataclass(frozen=True)
class DayWorkspace:
    """Where one business day keeps what it makes."""

    root: Path

    @property
    def ledger_url(self) -> str:
        return f"sqlite:///{self.root / 'ledger.db'}"

    @property
    def sandbox_state(self) -> Path:
        return self.root / "sandbox-state.json"

    @property
    def inbox(self) -> Path:
        return self.root / "inbox"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @classmethod
    def new(cls, base: Path) -> DayWorkspace:
        run = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:4]}"
        root = base / run
        for folder in (root, root / "inbox", root / "reports"):
            folder.mkdir(parents=True, exist_ok=True)
        return cls(root)


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """Point the in-process flows at the day's sandbox and ledger (they read the environment)."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _quiet_prefect_console() -> None:
    """Prefect's INFO lines for every flow and task run would bury the day's own output.

    Only the console handler is turned down: the runs' logs still reach the Prefect server.
    """
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_FLOW_RUNS_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_TASK_RUNS_LEVEL", "WARNING")
    from prefect.logging.configuration import setup_logging

    setup_logging(incremental=False)


class _SandboxOps:
    """The sandbox-only routes the day uses: its clock and migrated tokens."""

    def __init__(self, base_url: str, api_key: str) -> None:
        origin = base_url.split("/api/v1/")[0]
        self.http = httpx.AsyncClient(
            base_url=origin, headers={"Authorization": f"Bearer {api_key}"}, timeout=30
        )

    async def now(self) -> datetime:
        response = await self.http.get("/_sandbox/clock/")
        response.raise_for_status()
        return datetime.fromtimestamp(response.json()["now"], UTC)

    async def advance(self, seconds: int) -> datetime:
        response = await self.http.post("/_sandbox/clock/advance/", json={"seconds": seconds})
        response.raise_for_status()
        await self.http.post("/_sandbox/webhooks/flush/")
        return datetime.fromtimestamp(response.json()["now"], UTC)

    async def import_token(self, token: str, card: str) -> None:
        response = await self.http.put(f"/_sandbox/recurring_tokens/{token}/", json={"card": card})
        response.raise_for_status()

    async def aclose(self) -> None:
        await self.http.aclose()


# -- the steps ----------------------------------------------------------------------------------


async def _import_samples(ws: DayWorkspace) -> Any:
    """Drop the sample files in the day's inbox and run the inbox flow, as the schedule would."""
    from flows._tags import run_tags
    from flows.csv_inbox import csv_inbox_import

    samples = samples_dir()
    for name in IMPORTS:
        shutil.copyfile(samples / name, ws.inbox / name)
    with run_tags(csv_inbox_import.name):
        return await csv_inbox_import(inbox_dir=str(ws.inbox), min_age_seconds=0)


async def _teach_migrated_tokens(ops: _SandboxOps) -> int:
    """Tell the sandbox which test card each imported (migrated) card token stands for.

    A merchant moving to Precium brings its customers' card tokens from the old processor; the
    real gateway migrates them, the sandbox has to be told how charges on each should behave.
    """
    from sqlmodel import select

    from payflows.ledger import PaymentMethod
    from tasks.runtime import payment_context

    async with payment_context() as ctx:
        tokens = await ctx.ledger(
            lambda uow: list(uow.session.exec(select(PaymentMethod.recurring_token)).all())
        )
    cards = sample_token_cards(samples_dir())
    known = [token for token in tokens if token in cards]
    for token in known:
        await ops.import_token(token, cards[token])
    return len(known)


async def _bill(as_of: datetime) -> Any:
    from flows._tags import run_tags
    from flows.billing import subscription_billing
    from payflows.exactly_once import RunIncomplete

    try:
        with run_tags(subscription_billing.name):
            return await subscription_billing(as_of=as_of)
    except RunIncomplete as exc:  # the flow run is Failed; the day goes on, and says so
        _say(f"   {exc}")
        return exc.summary


def _print_billing(summary: Any) -> None:
    if summary.clients_created:
        _say(f"   {summary.clients_created} gateway clients created for imported customers")
    paid = ", ".join(format_amount(c, cur) for cur, c in sorted(summary.amounts_cents.items()))
    _say(f"   {summary.succeeded} paid ({paid or 'nothing'}), {summary.declined} declined")
    for code, count in sorted(summary.declines_by_code.items()):
        _say(f"     declined {code}: {count}")
    if summary.retry_scheduled or summary.suspended:
        _say(f"   dunning: {summary.retry_scheduled} to retry, {summary.suspended} suspended")


async def _walk(
    settings: Settings, ws: DayWorkspace, prefect_url: str, *, own_prefect: bool
) -> int:
    ops = _SandboxOps(settings.precium_base_url, settings.precium_api_key.get_secret_value())
    tally = DayTally()
    run = ws.root.name
    try:
        today = await ops.now()
        _say(f"   day      {today:%A %d %B %Y, %H:%M} UTC on the sandbox clock")
        _say()
        _say("1. CSV drop: the sample files land in the inbox and the csv-inbox-import flow runs")
        for filed in (await _import_samples(ws)).files:
            landed = filed.inserted + filed.updated + filed.unchanged
            line = f"   {filed.name:<28} {landed:>3} rows landed"
            if filed.rejected:
                line += f", {filed.rejected} refused (line, column and reason in "
                line += f"{Path(filed.error_file or '').name})"
            _say(line + f" -> {filed.outcome}/")
            if filed.first_error:
                _say(f"     first refused: {filed.first_error}")
        tokens = await _teach_migrated_tokens(ops)
        _say(f"   {tokens} card tokens migrated from the old processor, taught to the sandbox")
        _say()

        _say("2. Every S2S scenario, each a Prefect flow")
        holds = await run_scenarios(run, tally)
        _say()

        _say("3. Bill due subscriptions (merchant-initiated, once per period)")
        _print_billing(await _bill(await ops.now()))
        _say()

        await _after_billing(ops, holds, tally, ws, _local_day(today))
    finally:
        await ops.aclose()
    _say()
    if own_prefect:
        _say("Prefect runs: kept in data/prefect; `payflows up` serves them in the UI again")
    else:
        _say(f"Prefect runs: {prefect_url.removesuffix('/api')}")
    _say(f"Workspace:    {ws.root}")
    for problem in tally.problems:
        _say(f"problem: {problem}")
    return 1 if tally.problems else 0


async def _decide_and_sweep(holds: dict[str, Any], as_of: datetime) -> Any:
    """The merchant fulfils one hold for less than was held; the sweep captures it now.

    The undecided hold is left alone: its act-by time (deadline less the safety margin) has
    not come, and the sweep acts on undecided holds only then.
    """
    from flows._tags import run_tags
    from flows.sweep import preauth_sweep
    from payflows.sweep.decisions import decide
    from tasks.runtime import payment_context

    fulfilled = holds.get("fulfilled")
    if fulfilled is not None and fulfilled.purchase_id:
        async with payment_context() as ctx:
            await ctx.ledger(lambda uow: decide(uow, fulfilled.purchase_id, "capture", 420_000))
    from payflows.exactly_once import RunIncomplete

    try:
        with run_tags(preauth_sweep.name):
            return await preauth_sweep(as_of=as_of)
    except RunIncomplete as exc:  # holds a person must look at: the flow run is Failed
        _say(f"   {exc}")
        return exc.summary


def _print_sweep(summary: Any, holds: dict[str, Any]) -> None:
    captured = ", ".join(format_amount(c, cur) for cur, c in sorted(summary.captured_cents.items()))
    released = ", ".join(format_amount(c, cur) for cur, c in sorted(summary.released_cents.items()))
    _say(
        f"   {summary.selected} due: {summary.captured + summary.partially_captured} captured"
        f" ({captured or 'nothing'}; {released or 'nothing'} released to the shopper),"
        f" {summary.voided} voided, {summary.unresolved_count} need a person"
    )
    undecided = holds.get("undecided")
    if undecided is not None and undecided.hold_expires_at is not None:
        _say(
            f"   undecided hold {undecided.purchase_id} lapses {undecided.hold_expires_at:%d %B}:"
            " the sweep acts a day before unless the merchant decides first"
        )


async def _after_billing(
    ops: _SandboxOps, holds: dict[str, Any], tally: DayTally, ws: DayWorkspace, day: date
) -> None:
    _say("4. Sweep the holds (the merchant fulfilled the return stay for R 4 200.00)")
    summary = await _decide_and_sweep(holds, await ops.now())
    _print_sweep(summary, holds)
    if summary.unknown or summary.failed:
        tally.problems.append(f"the sweep left {summary.unknown + summary.failed} holds unsettled")
    _say()
    later = await ops.advance(2 * DAY + 3_600)
    _say(f"5. The sandbox clock moves to {later:%d %B %H:%M} UTC: the day's payments settle")
    _say()
    _say("6. Settlement report of the day (reconciled with the gateway)")
    report = await _report(day, later, ws)
    _print_report(report)
    if report.mismatches:
        tally.problems.append(
            f"reconciliation found {report.mismatches} mismatches (see {report.html_path})"
        )


async def _report(day: date, as_of: datetime, ws: DayWorkspace) -> Any:
    from flows._tags import run_tags
    from flows.report import run_settlement_report, settlement_report

    with run_tags(settlement_report.name):
        return await run_settlement_report(
            date_from=day, date_to=day, as_of=as_of, output_dir=str(ws.reports)
        )


def _print_report(report: Any) -> None:
    for t in report.totals:
        money = lambda cents, cur=t.currency: format_amount(cents, cur)  # noqa: E731
        rate = f"{t.approval_rate:.0%}" if t.approval_rate is not None else "-"
        _say(
            f"   {t.currency}: paid {money(t.paid_cents)} in {t.paid_count} payments"
            f" (approval {rate}),"
            f" refunded {money(t.refunded_cents)},"
            f" fees {money(t.fee_cents)}, net {money(t.net_cents)}"
        )
        _say(
            f"        settled {money(t.settled_cents)},"
            f" awaiting settlement {money(t.awaiting_settlement_cents)},"
            f" {t.declined_count} declined"
        )
    _say(
        f"   {report.reconciled_purchases} purchases compared with the gateway:"
        f" {report.mismatches} mismatches; {report.open_holds} holds still open"
    )
    _say(f"   report: {report.html_path}")


def run_business_day(settings: Settings, workspace: Path | None = None) -> int:
    """Run the day; returns the process exit code."""
    from payflows.ledger.migrate import upgrade
    from payflows.sandbox import SandboxConfig, running_sandbox

    if not settings.uses_local_sandbox:
        _say(
            "payflows demo plays a business day on the built-in sandbox (it moves the sandbox's "
            f"clock); PRECIUM_BASE_URL points at {settings.precium_base_url}"
        )
        return 2
    ws = DayWorkspace(workspace) if workspace else DayWorkspace.new(Path("data/out/days"))
    for folder in (ws.root, ws.inbox, ws.reports):
        folder.mkdir(parents=True, exist_ok=True)
    _say("payflows demo: one business day of a merchant, on embedded defaults")
    upgrade(ws.ledger_url)
    config = SandboxConfig.from_settings(settings)
    config.state_file = ws.sandbox_state
    configured = os.environ.get("PREFECT_API_URL")
    with running_sandbox(config) as base_url, prefect_api(Path("data/prefect")) as prefect_url:
        _say(f"   gateway  {base_url} (built-in sandbox)")
        _say(f"   ledger   {ws.ledger_url}")
        _say(f"   Prefect  {prefect_url.removesuffix('/api')} (the runs appear there as they go)")
        env = {
            "PRECIUM_BASE_URL": base_url,
            "PAYFLOWS_DATABASE_URL": ws.ledger_url,
            "PAYFLOWS_REPORTS_DIR": str(ws.reports),
        }
        with _environment(env):
            _quiet_prefect_console()
            effective = settings.model_copy(update={"precium_base_url": base_url})
            own = prefect_url != configured
            return asyncio.run(_walk(effective, ws, prefect_url, own_prefect=own))
