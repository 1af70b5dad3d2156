"""Configuration from the environment (or a ``.env`` file), validated once at start.

Out of the box every value points at the embedded defaults: the built-in sandbox on loopback
and a SQLite ledger under ``data/``. Production is the same code with other values. A missing
or malformed value stops the program at start with one line naming the variable, rather than
failing halfway through a billing run.
"""

from __future__ import annotations

import uuid
from functools import lru_cache
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Local defaults shared by the sandbox and the client, documented in the README. They are only
#: accepted while the client points at a loopback sandbox.
SANDBOX_API_KEY = "sandbox-api-key"
SANDBOX_S2S_API_KEY = "sandbox-s2s-api-key"
SANDBOX_BRAND_ID = "7a1e3c1e-5b1d-4c8a-9d8e-0d2b6f1b4a01"
SANDBOX_PORT = 8400

_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class ConfigurationError(Exception):
    """A setting is missing or malformed; the message is one line naming it."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    precium_base_url: str = Field(
        default=f"http://127.0.0.1:{SANDBOX_PORT}/api/v1/", alias="PRECIUM_BASE_URL"
    )
    precium_api_key: SecretStr = Field(default=SecretStr(SANDBOX_API_KEY), alias="PRECIUM_API_KEY")
    precium_s2s_api_key: SecretStr = Field(
        default=SecretStr(SANDBOX_S2S_API_KEY), alias="PRECIUM_S2S_API_KEY"
    )
    precium_brand_id: str = Field(default=SANDBOX_BRAND_ID, alias="PRECIUM_BRAND_ID")
    #: Names of Prefect Secret blocks that hold the keys instead of the variables above.
    precium_api_key_block: str | None = Field(default=None, alias="PRECIUM_API_KEY_BLOCK")
    precium_s2s_api_key_block: str | None = Field(default=None, alias="PRECIUM_S2S_API_KEY_BLOCK")
    precium_timeout_seconds: float = Field(default=30.0, gt=0, alias="PRECIUM_TIMEOUT_SECONDS")

    database_url: str = Field(default="sqlite:///data/payflows.db", alias="PAYFLOWS_DATABASE_URL")

    sandbox_host: str = Field(default="127.0.0.1", alias="PAYFLOWS_SANDBOX_HOST")
    sandbox_port: int = Field(default=SANDBOX_PORT, ge=1, le=65535, alias="PAYFLOWS_SANDBOX_PORT")
    sandbox_state_file: str | None = Field(default=None, alias="PAYFLOWS_SANDBOX_STATE_FILE")
    sandbox_seed: int | None = Field(default=None, alias="PAYFLOWS_SANDBOX_SEED")

    #: The merchant's web app (``payflows web serve``): webhook receiver, TermUrl, checkout.
    web_host: str = Field(default="127.0.0.1", alias="PAYFLOWS_WEB_HOST")
    web_port: int = Field(default=8500, ge=1, le=65535, alias="PAYFLOWS_WEB_PORT")
    #: Where shoppers' browsers and the gateway reach the web app (the TermUrl is built on it);
    #: empty means ``http://PAYFLOWS_WEB_HOST:PAYFLOWS_WEB_PORT``.
    public_url: str | None = Field(default=None, alias="PAYFLOWS_PUBLIC_URL")
    #: Public keys of the webhooks registered with ``payflows web register-webhook`` (JSON).
    webhook_keys_file: str = Field(
        default="data/webhook-keys.json", alias="PAYFLOWS_WEBHOOK_KEYS_FILE"
    )
    #: Currency of the checkout form's amounts.
    checkout_currency: str = Field(default="ZAR", alias="PAYFLOWS_CHECKOUT_CURRENCY")

    @field_validator("precium_base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ValueError("must be an http(s) URL such as https://gate.reviopay.com/api/v1/")
        return value if value.endswith("/") else value + "/"

    @field_validator("precium_brand_id")
    @classmethod
    def _brand(cls, value: str) -> str:
        try:
            return str(uuid.UUID(value))
        except ValueError as exc:
            raise ValueError("must be a UUID (the brand id from the Precium portal)") from exc

    @field_validator("database_url")
    @classmethod
    def _db(cls, value: str) -> str:
        if not value.startswith(("sqlite://", "postgresql://", "postgresql+psycopg://")):
            raise ValueError("must be a sqlite:/// or postgresql+psycopg:// URL")
        if value.startswith("postgresql://"):
            value = "postgresql+psycopg://" + value[len("postgresql://") :]
        return value

    @model_validator(mode="after")
    def _real_gateway_needs_real_keys(self) -> Settings:
        if self.uses_local_sandbox:
            return self
        if self.precium_api_key_block is None and (
            self.precium_api_key.get_secret_value() in {"", SANDBOX_API_KEY}
        ):
            raise ValueError(
                "PRECIUM_API_KEY (or PRECIUM_API_KEY_BLOCK) is required when PRECIUM_BASE_URL "
                "is not the local sandbox"
            )
        if self.precium_s2s_api_key_block is None and (
            self.precium_s2s_api_key.get_secret_value() in {"", SANDBOX_S2S_API_KEY}
        ):
            raise ValueError(
                "PRECIUM_S2S_API_KEY (or PRECIUM_S2S_API_KEY_BLOCK) is required when "
                "PRECIUM_BASE_URL is not the local sandbox"
            )
        return self

    @property
    def uses_local_sandbox(self) -> bool:
        return urlsplit(self.precium_base_url).hostname in _LOOPBACK

    @property
    def sandbox_base_url(self) -> str:
        return f"http://{self.sandbox_host}:{self.sandbox_port}/api/v1/"


def load_settings(**overrides: object) -> Settings:
    """Read the settings, turning a validation failure into one clear line."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = err.get("loc") or ()
        name = str(loc[0]).upper() if loc else "configuration"
        msg = err.get("msg", "invalid").removeprefix("Value error, ")
        if not loc:
            raise ConfigurationError(msg) from None
        raise ConfigurationError(f"{name}: {msg}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()


class _InboxSettings(BaseSettings):
    """The CSV inbox of the ``csv-inbox-import`` deployment (read by that flow only)."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    inbox_dir: str = Field(default="data/inbox", alias="PAYFLOWS_INBOX_DIR")


def inbox_dir() -> str:
    """``PAYFLOWS_INBOX_DIR``: the folder CSV files are dropped in (default ``data/inbox``)."""
    return _InboxSettings().inbox_dir
