"""The merchant's web endpoints: webhook receiver, 3-D Secure TermUrl, card checkout.

``create_web_app(settings)`` builds the ASGI app; ``payflows web serve`` runs it with uvicorn and
``payflows web register-webhook`` creates the gateway webhook whose key the receiver trusts.
"""

from apps.web.app import create_web_app, public_url
from payflows.webhooks import WebhookKeyStore

__all__ = ["WebhookKeyStore", "create_web_app", "public_url"]
