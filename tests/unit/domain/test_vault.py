import pytest

from payflows.domain.cards import CardData
from payflows.vault import CardVault, VaultError

PAN = "4000000000000002"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_reference_works_once_and_hides_the_card():
    vault = CardVault()
    ref = vault.put(CardData(PAN, "12/30", "123", "Jo"))
    assert PAN not in ref and PAN not in repr(vault)
    assert vault.describe(ref) == ("visa", "400000******0002")
    card = vault.take(ref)
    assert card.s2s_fields()["card_number"] == PAN
    with pytest.raises(VaultError):
        vault.take(ref)


def test_an_untaken_reference_expires():
    clock = FakeClock()
    vault = CardVault(ttl_seconds=60, clock=clock)
    ref = vault.put(CardData(PAN, "12/30", "123", "Jo"))
    clock.now += 61
    with pytest.raises(VaultError, match="expired"):
        vault.take(ref)
    assert len(vault) == 0


def test_vault_memory_holds_no_plaintext():
    vault = CardVault()
    vault.put(CardData(PAN, "12/30", "123", "Jo"))
    entry = next(iter(vault._entries.values()))
    assert PAN.encode() not in entry.ciphertext


def test_get_keeps_the_entry_until_discarded():
    vault = CardVault()
    ref = vault.put(CardData(PAN, "12/30", "123", "Jo"))
    assert vault.get(ref).last_4 == "0002"
    assert vault.get(ref).last_4 == "0002"
    vault.discard(ref)
    with pytest.raises(VaultError):
        vault.get(ref)


def test_secrets_are_popped_once_and_expire():
    clock = FakeClock()
    vault = CardVault(ttl_seconds=60, clock=clock)
    vault.put_secret("md-1", "pareq-blob")
    assert vault.pop_secret("md-1") == "pareq-blob"
    assert vault.pop_secret("md-1") is None
    vault.put_secret("md-2", "x")
    clock.now += 61
    assert vault.pop_secret("md-2") is None
