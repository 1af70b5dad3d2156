from payflows.demo import run_demo
from payflows.settings import load_settings

PANS = ("4111111111111111", "4000000000000002")


def test_demo_walks_the_first_payments_and_leaves_no_card_data(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    db = tmp_path / "ledger.db"
    monkeypatch.setenv("PAYFLOWS_DATABASE_URL", f"sqlite:///{db}")
    assert run_demo(load_settings()) == 0
    out = capsys.readouterr().out
    assert "Zero-auth card validation" in out and "preauthorized" in out
    assert "3-D Secure" in out and out.count(" paid ") == 2
    assert "3 payment attempts, 2 stored cards" in out
    assert "Traceback" not in out
    raw = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    for pan in PANS:
        assert pan.encode() not in raw and pan not in out
    # Running it again on the same ledger works (new business keys per run).
    assert run_demo(load_settings()) == 0
