"""Checking the ``X-Signature`` of webhook deliveries and success callbacks.

Precium signs the raw body with RSA PKCS#1 v1.5 over SHA-256 and sends the signature base64
encoded. The key is the webhook's ``public_key`` (or, for success callbacks, the company key from
``GET /public_key/``). Verification is over the bytes as received: re-serialising parsed JSON
would change them.

Anyone can POST to a webhook URL, so a receiver treats "could not check" exactly like "does not
match": :func:`verify_signature` answers False for anything malformed and never raises.
"""

from __future__ import annotations

import base64
import binascii
from functools import lru_cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from payflows.gateway._errors import SignatureError

__all__ = ["require_valid_signature", "verify_signature"]


@lru_cache(maxsize=64)
def _load_key(public_key_pem: str) -> rsa.RSAPublicKey | None:
    """Parse a PEM once: every delivery of a webhook is checked against the same key."""
    try:
        key = serialization.load_pem_public_key(public_key_pem.encode())
    except (ValueError, TypeError, UnicodeEncodeError):
        return None
    return key if isinstance(key, rsa.RSAPublicKey) else None


def verify_signature(body: bytes, signature_b64: str | None, public_key_pem: str) -> bool:
    """Whether ``signature_b64`` is a valid signature of ``body`` under ``public_key_pem``."""
    try:
        return _verify(body, signature_b64, public_key_pem)
    except Exception:  # an unforeseen malformed input is still just "not verified"
        return False


def _verify(body: bytes, signature_b64: str | None, public_key_pem: str) -> bool:
    if not signature_b64 or not public_key_pem or not isinstance(body, bytes | bytearray):
        return False
    try:
        signature = base64.b64decode(signature_b64.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    key = _load_key(public_key_pem)
    if key is None:
        return False
    try:
        key.verify(signature, bytes(body), padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def require_valid_signature(body: bytes, signature_b64: str | None, public_key_pem: str) -> None:
    """Raise :class:`SignatureError` unless the body verifies; the message names no content."""
    if not verify_signature(body, signature_b64, public_key_pem):
        reason = "missing" if not signature_b64 else "invalid"
        raise SignatureError(f"X-Signature is {reason} for this body and key")
