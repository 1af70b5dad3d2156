"""Configuration from the environment (or a ``.env`` file), validated once at start.

Out of the box every value points at the embedded defaults: the built-in sandbox on loopback
and a SQLite ledger under ``data/``. Production is the same code with other values. A missing
or malformed value stops the program at start with one line naming the variable, rather than
failing halfway through a billing run.
"""

from __future__ import annotations

import ipaddress
import json
import re
import uuid
from functools import lru_cache
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

#: Local defaults shared by the sandbox and the client, documented in the README. They are only
#: accepted while the client points at a loopback sandbox.
SANDBOX_API_KEY = "sandbox-api-key"
SANDBOX_S2S_API_KEY = "sandbox-s2s-api-key"
SANDBOX_BRAND_ID = "7a1e3c1e-5b1d-4c8a-9d8e-0d2b6f1b4a01"
SANDBOX_PORT = 8400

_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
_MASK = "********"


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host in _LOOPBACK:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


#: Query parameters that carry a password (libpq's ``password``/``sslpassword``, any case).
_PASSWORD_QUERY = re.compile(r"(?i)(^|&)([^=&]*password)=[^&]*")


def mask_url_password(url: str) -> str:
    """``url`` with every password replaced by stars: the user part's (``user:pw@host``) and
    any ``...password=`` query parameter, which libpq and SQLAlchemy accept as well.
    """
    parts = urlsplit(url)
    if parts.query:
        parts = parts._replace(query=_PASSWORD_QUERY.sub(rf"\1\2={_MASK}", parts.query))
    if parts.password is not None:
        user = parts.username or ""
        host = parts.netloc.rpartition("@")[2]
        parts = parts._replace(netloc=f"{user}:{_MASK}@{host}")
    return urlunsplit(parts)


#: The windows PAYFLOWS_HOLD_WINDOWS_DAYS may override (payflows.domain.holds.AuthorisationWindows).
HOLD_WINDOW_NAMES = (
    "visa_cit",
    "visa_mit",
    "mastercard_final",
    "mastercard_preauth",
    "maestro",
    "amex",
    "extended",
    "default",
)

#: Brands PAYFLOWS_CARD_BRANDS may name (the gateway's payment_method_whitelist values).
CARD_BRANDS = ("visa", "mastercard", "maestro", "amex")


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
    #: Key that signs checkout orders (amount, product) and CSRF tokens; the shop signs its
    #: orders with it. Required against a real gateway; the sandbox makes one per process.
    checkout_secret: SecretStr | None = Field(default=None, alias="PAYFLOWS_CHECKOUT_SECRET")
    #: Failed payments (declines, invalid cards) one client may have in the window before the
    #: checkout refuses it with 429: card testing is many failures from one place.
    checkout_max_failures: int = Field(
        default=5, ge=1, le=1000, alias="PAYFLOWS_CHECKOUT_MAX_FAILURES"
    )
    checkout_failure_window_seconds: float = Field(
        default=900.0, gt=0, le=86400, alias="PAYFLOWS_CHECKOUT_FAILURE_WINDOW_SECONDS"
    )

    #: Bearer token of the operator endpoints (``POST /holds/{id}/decision``); none: refused.
    operator_token: SecretStr | None = Field(default=None, alias="PAYFLOWS_OPERATOR_TOKEN")
    #: What the sweep does with an undecided hold at its act-by time: capture (in full), void,
    #: or alert (leave it and ask a person). See docs/sweeps.md for why capture is the default.
    hold_default_policy: Literal["capture", "void", "alert"] = Field(
        default="capture", alias="PAYFLOWS_HOLD_DEFAULT_POLICY"
    )
    #: Act at least this long before a hold's deadline (networks want 24 hours).
    hold_safety_margin_hours: float = Field(
        default=24.0, ge=0, le=24 * 29, alias="PAYFLOWS_HOLD_SAFETY_MARGIN_HOURS"
    )
    #: Per-network authorisation windows in days, JSON: {"visa_cit": 7, "mastercard_preauth": 30}.
    hold_windows_days: Annotated[dict[str, float], NoDecode] = Field(
        default_factory=dict, alias="PAYFLOWS_HOLD_WINDOWS_DAYS"
    )

    #: Card brands the merchant accepts (the purchases' payment_method_whitelist). The guide's
    #: bodies list visa, mastercard and maestro; add amex where the merchant has Amex acquiring.
    card_brands: Annotated[tuple[str, ...], NoDecode] = Field(
        default=("visa", "mastercard", "maestro"), alias="PAYFLOWS_CARD_BRANDS"
    )

    #: A billing run or sweep whose share of declined, refused or unresolved items exceeds this
    #: is not green (a Failed flow run, exit code 1), even when nothing was left undone.
    max_failure_rate: float = Field(default=0.5, ge=0, le=1, alias="PAYFLOWS_MAX_FAILURE_RATE")

    @field_validator("card_brands", mode="before")
    @classmethod
    def _brands(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part.strip().lower() for part in value.split(",") if part.strip()]
        if isinstance(value, list | tuple):
            unknown = sorted(set(value) - set(CARD_BRANDS))
            if unknown:
                raise ValueError(f"unknown brand {unknown[0]!r}; one of: {', '.join(CARD_BRANDS)}")
            if not value:
                raise ValueError("name at least one brand, e.g. visa,mastercard")
            return tuple(value)
        return value

    @field_validator("hold_windows_days", mode="before")
    @classmethod
    def _windows_json(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                return json.loads(value) if value.strip() else {}
            except ValueError:
                raise ValueError('must be JSON such as {"visa_cit": 10}') from None
        return value

    @field_validator("hold_windows_days")
    @classmethod
    def _windows(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(HOLD_WINDOW_NAMES))
        if unknown:
            raise ValueError(
                f"unknown window {unknown[0]!r}; one of: {', '.join(HOLD_WINDOW_NAMES)}"
            )
        bad = [k for k, days in value.items() if not 0 < days <= 31]
        if bad:
            raise ValueError(f"{bad[0]}: a window is between 0 and 31 days")
        return value

    #: The merchant's time zone: report days are its calendar days (IANA name).
    timezone: str = Field(default="Africa/Johannesburg", alias="PAYFLOWS_TIMEZONE")
    #: Where settlement reports are written (one folder per period; data/out is gitignored).
    reports_dir: str = Field(default="data/out/reports", alias="PAYFLOWS_REPORTS_DIR")
    #: The demo's sample CSVs (``payflows demo``). Unset: ``data/samples`` of the checkout, else
    #: the copy installed with the package (``<prefix>/share/payflows/samples``).
    samples_dir: str | None = Field(default=None, alias="PAYFLOWS_SAMPLES_DIR")

    @field_validator("precium_base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ValueError("must be an http(s) URL such as https://gate.reviopay.com/api/v1/")
        if "?" in value or "#" in value:  # "...?" has an empty query, still no route after it
            raise ValueError("must have no query string or fragment (the routes follow the path)")
        if parts.scheme == "http" and not _is_loopback(parts.hostname):
            # The API keys travel in every request's headers: never in clear over a network.
            raise ValueError(
                "must be https:// unless it points at the local sandbox (127.0.0.1, localhost)"
            )
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

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("must be an IANA time zone such as Africa/Johannesburg") from None
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
        return _is_loopback(urlsplit(self.precium_base_url).hostname)

    def shown(self) -> dict[str, object]:
        """Every setting as ``payflows config`` prints it: secrets and URL passwords masked."""
        shown: dict[str, object] = {}
        for name, value in self.model_dump().items():
            if isinstance(value, SecretStr) or (name.endswith(("_key", "_token")) and value):
                shown[name] = _MASK if value else value
            elif isinstance(value, str) and "://" in value:
                shown[name] = mask_url_password(value)
            else:
                shown[name] = value
        return shown

    @property
    def sandbox_base_url(self) -> str:
        return f"http://{self.sandbox_host}:{self.sandbox_port}/api/v1/"


def load_settings(**overrides: Any) -> Settings:
    """Read the settings, turning a validation failure into one clear line."""
    try:
        return Settings(**overrides)
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


class _CurrencySettings(BaseSettings):
    """The merchant's currency alone: read where the whole settings are not wanted."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    checkout_currency: str = Field(default="ZAR", alias="PAYFLOWS_CHECKOUT_CURRENCY")


def merchant_currency() -> str:
    """``PAYFLOWS_CHECKOUT_CURRENCY`` as an ISO code: the default currency of the flows' forms.

    Read when the flows are imported (a form's default is fixed then); a code that is not a
    currency falls back to ZAR here, and loading the whole settings reports it.
    """
    from payflows.domain.money import validate_currency

    try:
        return validate_currency(_CurrencySettings().checkout_currency)
    except ValueError:
        return "ZAR"
