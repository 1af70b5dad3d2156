"""API keys from Prefect Secret blocks.

In production the Precium keys live in Prefect Secret blocks (encrypted at rest by the Prefect
server, never in a flow parameter). ``PRECIUM_API_KEY_BLOCK`` / ``PRECIUM_S2S_API_KEY_BLOCK``
name them; this module swaps the block's value into the settings just before a client is built.
It lives here, not in ``payflows.settings``, because the core never imports Prefect.
"""

from __future__ import annotations

from pydantic import SecretStr

from payflows.settings import ConfigurationError, Settings


def _read_block(name: str) -> SecretStr:
    from prefect.blocks.system import Secret

    try:
        value = Secret.load(name, _sync=True).get()  # type: ignore[call-arg]
    except ValueError as exc:
        raise ConfigurationError(f"Prefect Secret block {name!r} could not be loaded") from exc
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"Prefect Secret block {name!r} holds no key")
    return SecretStr(value)


async def _aread_block(name: str) -> SecretStr:
    from prefect.blocks.system import Secret

    try:
        value = (await Secret.aload(name)).get()
    except ValueError as exc:
        raise ConfigurationError(f"Prefect Secret block {name!r} could not be loaded") from exc
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"Prefect Secret block {name!r} holds no key")
    return SecretStr(value)


def _blocks(settings: Settings) -> dict[str, str]:
    names = {
        "precium_api_key": settings.precium_api_key_block,
        "precium_s2s_api_key": settings.precium_s2s_api_key_block,
    }
    return {field: name for field, name in names.items() if name}


def resolve_secret_blocks(settings: Settings) -> Settings:
    """Return settings whose keys come from the named Secret blocks, where any are named."""
    updates = {field: _read_block(name) for field, name in _blocks(settings).items()}
    return settings.model_copy(update=updates) if updates else settings


async def aresolve_secret_blocks(settings: Settings) -> Settings:
    """The same, from inside an event loop (a flow or an async task)."""
    updates = {field: await _aread_block(name) for field, name in _blocks(settings).items()}
    return settings.model_copy(update=updates) if updates else settings
