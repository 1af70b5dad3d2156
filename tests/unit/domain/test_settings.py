import pytest

from payflows.settings import ConfigurationError, load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch, tmp_path):
    for name in (
        "PRECIUM_BASE_URL",
        "PRECIUM_API_KEY",
        "PRECIUM_S2S_API_KEY",
        "PRECIUM_BRAND_ID",
        "PAYFLOWS_DATABASE_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_defaults_point_at_the_local_sandbox():
    s = load_settings()
    assert s.uses_local_sandbox
    assert s.precium_base_url == "http://127.0.0.1:8400/api/v1/"
    assert s.database_url.startswith("sqlite:///")


def test_keys_never_show_in_repr(monkeypatch):
    monkeypatch.setenv("PRECIUM_API_KEY", "sk_live_supersecret")
    assert "sk_live_supersecret" not in repr(load_settings())


def test_malformed_setting_fails_with_one_line_naming_it(monkeypatch):
    monkeypatch.setenv("PRECIUM_BRAND_ID", "not-a-uuid")
    with pytest.raises(ConfigurationError) as err:
        load_settings()
    assert str(err.value).startswith("PRECIUM_BRAND_ID:")
    assert "\n" not in str(err.value)


def test_real_gateway_without_real_keys_is_refused(monkeypatch):
    monkeypatch.setenv("PRECIUM_BASE_URL", "https://gate.reviopay.com/api/v1/")
    with pytest.raises(ConfigurationError, match="PRECIUM_API_KEY"):
        load_settings()
    monkeypatch.setenv("PRECIUM_API_KEY", "live-key")
    monkeypatch.setenv("PRECIUM_S2S_API_KEY", "live-s2s-key")
    assert not load_settings().uses_local_sandbox


def test_plain_postgresql_url_gets_the_psycopg_driver(monkeypatch):
    monkeypatch.setenv("PAYFLOWS_DATABASE_URL", "postgresql://u@127.0.0.1/db")
    assert load_settings().database_url == "postgresql+psycopg://u@127.0.0.1/db"


@pytest.mark.parametrize(
    "url",
    ["http://gate.reviopay.com/api/v1/", "http://10.0.0.5:8400/api/v1/", "http://[2001:db8::1]/"],
)
def test_plain_http_to_a_network_gateway_is_refused(monkeypatch, url):
    monkeypatch.setenv("PRECIUM_BASE_URL", url)
    monkeypatch.setenv("PRECIUM_API_KEY", "live-key")
    monkeypatch.setenv("PRECIUM_S2S_API_KEY", "live-s2s-key")
    with pytest.raises(ConfigurationError, match="PRECIUM_BASE_URL: must be https"):
        load_settings()


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8400/api/v1/", "http://localhost:8400/", "http://127.0.0.2:1/"]
)
def test_plain_http_to_loopback_is_the_sandbox(monkeypatch, url):
    monkeypatch.setenv("PRECIUM_BASE_URL", url)
    assert load_settings().uses_local_sandbox


def test_shown_settings_mask_secrets_and_database_passwords(monkeypatch):
    monkeypatch.setenv("PAYFLOWS_DATABASE_URL", "postgresql://pay:s3cr%40t@db.internal:5432/pay")
    monkeypatch.setenv("PAYFLOWS_OPERATOR_TOKEN", "op-token-123")
    shown = load_settings().shown()
    text = repr(shown)
    assert "s3cr" not in text and "op-token-123" not in text and "sandbox-api-key" not in text
    assert shown["database_url"] == "postgresql+psycopg://pay:********@db.internal:5432/pay"
    assert shown["precium_api_key"] == "********"


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://pay@db.internal/pay?password=s3cr3tpw",
        "postgresql://pay@db.internal/pay?sslmode=require&PASSWORD=s3cr3tpw",
        "postgresql://pay@db.internal/pay?sslpassword=s3cr3tpw&sslmode=require",
        "postgresql://pay:s3cr3tpw@db.internal/pay?password=s3cr3tpw",
    ],
)
def test_database_password_in_the_query_string_is_masked(monkeypatch, url):
    # libpq and SQLAlchemy take the password as a query parameter as well as in user:pw@host.
    monkeypatch.setenv("PAYFLOWS_DATABASE_URL", url)
    shown = load_settings().shown()["database_url"]
    assert "s3cr3tpw" not in shown
    assert "********" in shown and "db.internal/pay" in shown


@pytest.mark.parametrize(
    "url",
    [
        "https://gate.reviopay.com/api/v1/?tenant=x",
        "https://gate.reviopay.com/api/v1/#x",
        "https://gate.reviopay.com/api/v1/?",
    ],
)
def test_a_gateway_url_with_a_query_or_fragment_is_refused_at_start(monkeypatch, url):
    # The client appends each route to the base URL's text: a query would swallow it.
    monkeypatch.setenv("PRECIUM_BASE_URL", url)
    monkeypatch.setenv("PRECIUM_API_KEY", "live-key")
    monkeypatch.setenv("PRECIUM_S2S_API_KEY", "live-s2s-key")
    with pytest.raises(ConfigurationError, match="PRECIUM_BASE_URL: must have no query"):
        load_settings()
