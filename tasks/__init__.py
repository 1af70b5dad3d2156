"""Retriable units of work for Prefect flows: gateway calls, ledger reads and writes.

This is the first layer that may import Prefect. It wraps the Prefect-free core
(``payflows.gateway``, ``payflows.ledger``) so flows read like the business process.
"""

from tasks.redaction import install_card_redaction

install_card_redaction()
