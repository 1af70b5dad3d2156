from datetime import UTC, datetime, timedelta

import pytest

from payflows.domain.holds import DEFAULT_WINDOWS, AuthorisationWindows

T0 = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("brand", "is_mit", "preauth", "days"),
    [
        ("visa", False, True, 7),
        ("visa", True, True, 5),
        ("mastercard", False, True, 30),
        ("mastercard", False, False, 7),
        ("maestro", False, True, 7),
        ("amex", False, True, 7),
        ("unionpay", False, True, 7),
    ],
)
def test_network_windows(brand, is_mit, preauth, days):
    deadline = DEFAULT_WINDOWS.deadline(T0, brand, is_mit=is_mit, preauth=preauth)
    assert deadline - T0 == timedelta(days=days)


def test_gateway_expiry_wins_and_margin_applies():
    given = T0 + timedelta(days=3)
    assert DEFAULT_WINDOWS.deadline(T0, "visa", gateway_expiry=given) == given
    assert DEFAULT_WINDOWS.act_by(given) == given - timedelta(hours=24)


def test_overrides_and_extended_authorisation():
    windows = AuthorisationWindows(overrides={"visa": timedelta(days=10)})
    assert windows.window("visa") == timedelta(days=10)
    assert DEFAULT_WINDOWS.window("visa", extended=True) == timedelta(days=30)
