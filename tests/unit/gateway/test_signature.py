from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from payflows.gateway import PreciumError, SignatureError, require_valid_signature, verify_signature

BODY = b'{"event_type":"purchase.paid","id":"p1","status":"paid"}'


def _pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.fixture(scope="module")
def keys() -> tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey]:
    # 1024 bits keeps the suite fast; the code path is the same as for Precium's 2048.
    return (
        rsa.generate_private_key(public_exponent=65537, key_size=1024),
        rsa.generate_private_key(public_exponent=65537, key_size=1024),
    )


def sign(key: rsa.RSAPrivateKey, body: bytes) -> str:
    return base64.b64encode(key.sign(body, padding.PKCS1v15(), hashes.SHA256())).decode()


def test_a_valid_signature_verifies(keys):
    assert verify_signature(BODY, sign(keys[0], BODY), _pem(keys[0]))
    require_valid_signature(BODY, sign(keys[0], BODY), _pem(keys[0]))


def test_a_tampered_body_does_not_verify(keys):
    tampered = BODY.replace(b"paid", b"paic")
    assert not verify_signature(tampered, sign(keys[0], BODY), _pem(keys[0]))


def test_the_same_json_reserialised_does_not_verify(keys):
    assert not verify_signature(BODY.replace(b":", b": "), sign(keys[0], BODY), _pem(keys[0]))


def test_another_keys_signature_does_not_verify(keys):
    assert not verify_signature(BODY, sign(keys[1], BODY), _pem(keys[0]))


def test_sha1_or_pss_signatures_do_not_verify(keys):
    sha1 = base64.b64encode(keys[0].sign(BODY, padding.PKCS1v15(), hashes.SHA1())).decode()
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    pss_sig = base64.b64encode(keys[0].sign(BODY, pss, hashes.SHA256())).decode()
    assert not verify_signature(BODY, sha1, _pem(keys[0]))
    assert not verify_signature(BODY, pss_sig, _pem(keys[0]))


@pytest.mark.parametrize(
    "signature", [None, "", "not base64 at all!", "AAAA", base64.b64encode(b"x" * 128).decode()]
)
def test_garbage_signatures_are_false_not_errors(keys, signature):
    assert verify_signature(BODY, signature, _pem(keys[0])) is False


@pytest.mark.parametrize(
    "pem", ["", "garbage", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", None, 42]
)
def test_garbage_keys_are_false_not_errors(keys, pem):
    assert verify_signature(BODY, sign(keys[0], BODY), pem) is False


def test_a_non_rsa_key_is_false(keys):
    ec_key = ec.generate_private_key(ec.SECP256R1())
    assert verify_signature(BODY, sign(keys[0], BODY), _pem(ec_key)) is False


def test_a_non_bytes_body_is_false(keys):
    assert verify_signature(BODY.decode(), sign(keys[0], BODY), _pem(keys[0])) is False  # type: ignore[arg-type]


def test_require_valid_signature_raises_a_precium_error_naming_no_content(keys):
    with pytest.raises(SignatureError) as info:
        require_valid_signature(BODY, sign(keys[1], BODY), _pem(keys[0]))
    assert isinstance(info.value, PreciumError)
    assert b"purchase.paid".decode() not in str(info.value)
    assert not info.value.retry_safe
    with pytest.raises(SignatureError, match="missing"):
        require_valid_signature(BODY, None, _pem(keys[0]))
