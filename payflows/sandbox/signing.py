"""RSA keys and the `X-Signature` header of the emulated Precium gateway.

Precium signs every webhook and success callback with RSA PKCS#1 v1.5 over SHA-256 of the raw
body, one key per registered webhook plus a company key for success callbacks. The sandbox makes
throwaway keys of the same kind at run time, so its PEM output is unencrypted on purpose: these
keys protect nothing and a receiver only ever needs the public half.
"""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

__all__ = ["generate_key", "load_private_pem", "private_pem", "public_pem", "sign"]

_KEY_BITS = 2048
_PUBLIC_EXPONENT = 65537


def generate_key() -> rsa.RSAPrivateKey:
    """A fresh RSA-2048 key, the size Precium uses for webhook keys."""
    return rsa.generate_private_key(public_exponent=_PUBLIC_EXPONENT, key_size=_KEY_BITS)


def public_pem(key: rsa.RSAPrivateKey) -> str:
    """The SubjectPublicKeyInfo PEM that `GET /public_key/` and webhook objects publish."""
    return (
        key.public_key()
        .public_bytes(
            encoding=serialization.Encoding.PEM,
            format=serialization.PublicFormat.SubjectPublicKeyInfo,
        )
        .decode("ascii")
    )


def private_pem(key: rsa.RSAPrivateKey) -> str:
    """Unencrypted PKCS#8 PEM, so the sandbox can keep its keys across restarts."""
    return key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    ).decode("ascii")


def load_private_pem(pem: str) -> rsa.RSAPrivateKey:
    """Reads back what `private_pem` wrote; anything but an RSA key is a `ValueError`."""
    key = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("expected an RSA private key")
    return key


def sign(body: bytes, key: rsa.RSAPrivateKey) -> str:
    """The `X-Signature` value for `body`: it must be the exact bytes that go on the wire."""
    signature = key.sign(body, padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode("ascii")
