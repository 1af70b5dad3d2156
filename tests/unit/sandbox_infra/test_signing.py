from __future__ import annotations

import base64

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from payflows.sandbox.signing import generate_key, load_private_pem, private_pem, public_pem, sign


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return generate_key()


def _verify(pem: str, body: bytes, signature: str) -> None:
    public = serialization.load_pem_public_key(pem.encode())
    assert isinstance(public, rsa.RSAPublicKey)
    public.verify(base64.b64decode(signature), body, padding.PKCS1v15(), hashes.SHA256())


def test_generated_key_is_rsa_2048_with_the_usual_exponent(key: rsa.RSAPrivateKey) -> None:
    assert key.key_size == 2048
    assert key.public_key().public_numbers().e == 65537


def test_signature_verifies_against_the_published_public_pem(key: rsa.RSAPrivateKey) -> None:
    body = b'{"event_type":"purchase.paid","id":"abc"}'
    _verify(public_pem(key), body, sign(body, key))


def test_signature_covers_the_raw_bytes(key: rsa.RSAPrivateKey) -> None:
    signature = sign(b'{"a":1}', key)
    with pytest.raises(InvalidSignature):
        _verify(public_pem(key), b'{"a": 1}', signature)


def test_pkcs1v15_signatures_are_deterministic(key: rsa.RSAPrivateKey) -> None:
    assert sign(b"x", key) == sign(b"x", key)


def test_public_pem_is_subject_public_key_info(key: rsa.RSAPrivateKey) -> None:
    assert public_pem(key).startswith("-----BEGIN PUBLIC KEY-----")


def test_private_pem_round_trips_as_unencrypted_pkcs8(key: rsa.RSAPrivateKey) -> None:
    pem = private_pem(key)
    assert pem.startswith("-----BEGIN PRIVATE KEY-----")
    again = load_private_pem(pem)
    assert public_pem(again) == public_pem(key)
    _verify(public_pem(key), b"body", sign(b"body", again))


def test_loading_a_non_rsa_key_is_refused() -> None:
    pem = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    with pytest.raises(ValueError, match="RSA"):
        load_private_pem(pem)
