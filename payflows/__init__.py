"""payflows: payment-operations pipelines for merchants on Precium's S2S card API.

The package is layered so that dependencies point one way:

    deployments -> flows -> tasks -> core (domain, gateway, ledger)

``payflows.domain`` holds the vocabulary every layer shares (money, card data, the payment
state table). ``payflows.gateway`` talks to Precium, ``payflows.ledger`` remembers what the
merchant did, ``payflows.sandbox`` emulates the gateway. None of them import Prefect.
"""

__version__ = "0.1.0"
