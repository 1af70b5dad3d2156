"""No card number in Prefect's own log lines (rule 4), whatever Prefect chooses to log.

Prefect logs some things payflows does not write: when a flow's parameters fail validation,
``prefect.flows`` logs the raw input ("Parameters: {...}"), so a card number typed into the
wrong field of a form would reach the console, a worker's output and the server's logs. Our
models refuse such a field without quoting it; this filter hides every card number (a
Luhn-valid run of 12-19 digits, any separators: :func:`payflows.domain.screening.find_card_number`)
in the records of Prefect's flow, flow-run and task-run loggers (run loggers are adapters over
the last two), before any handler sees them. Only card numbers: ISO times, amounts and ids an
operator reads in a run's log stay as they are.
"""

from __future__ import annotations

import logging

from payflows.domain.screening import find_card_number

__all__ = ["PREFECT_LOGGERS", "CardNumberRedaction", "install_card_redaction"]

#: The loggers whose records may carry a flow's parameters or our run lines.
PREFECT_LOGGERS = ("prefect.flows", "prefect.flow_runs", "prefect.task_runs", "prefect.engine")


HIDDEN = "[card number hidden]"


def hide_card_numbers(text: str) -> str:
    """``text`` with every card number in it replaced by :data:`HIDDEN`."""
    for _ in range(64):  # a bound: a log line holds a handful at most
        span = find_card_number(text)
        if span is None:
            break
        text = text[: span[0]] + HIDDEN + text[span[1] :]
    return text


class CardNumberRedaction(logging.Filter):
    """Rewrite a record whose message holds a card number; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to logging's own error path
            return True
        hidden = hide_card_numbers(message)
        if hidden != message:
            record.msg, record.args = hidden, ()
        if record.exc_info and record.exc_info[1] is not None:
            text = str(record.exc_info[1])
            if hide_card_numbers(text) != text:  # an exception quoting one: keep its type only
                record.msg = f"{record.msg} ({type(record.exc_info[1]).__name__})"
                record.exc_info, record.exc_text = None, None
        return True


def install_card_redaction() -> None:
    """Add the filter to Prefect's loggers, once (importing :mod:`tasks` does it)."""
    for name in PREFECT_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, CardNumberRedaction) for f in logger.filters):
            logger.addFilter(CardNumberRedaction())
