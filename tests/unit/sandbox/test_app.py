"""Configuration and start-up of the app itself."""

from __future__ import annotations

import httpx

from payflows.sandbox import SandboxConfig, create_app
from payflows.settings import load_settings
from tests.unit.sandbox.conftest import API


def test_config_from_settings_uses_the_clients_keys(tmp_path) -> None:
    settings = load_settings(
        PRECIUM_API_KEY="k1",
        PRECIUM_S2S_API_KEY="k2",
        PRECIUM_BRAND_ID="409eb80e-3782-4b1d-afa8-b779759266a5",
        PAYFLOWS_SANDBOX_STATE_FILE=str(tmp_path / "s.json"),
    )
    config = SandboxConfig.from_settings(settings)
    assert (config.api_key, config.s2s_api_key) == ("k1", "k2")
    assert config.brand_id == "409eb80e-3782-4b1d-afa8-b779759266a5"
    assert config.state_file == tmp_path / "s.json"
    assert config.seed is None and config.allow_non_3ds is True


async def test_the_app_starts_on_its_first_request_without_a_lifespan() -> None:
    app = create_app(SandboxConfig())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await http.post("/api/v1/clients/", json={"email": "a@b.co"}, headers=API)
        assert response.status_code == 201
        assert app.sandbox.started  # type: ignore[attr-defined]
    await app.sandbox.stop()  # type: ignore[attr-defined]


async def test_run_time_switches_do_not_edit_the_callers_config() -> None:
    config = SandboxConfig()
    app = create_app(config)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await http.put("/_sandbox/config/", json={"allow_non_3ds": False}, headers=API)
        assert response.json()["allow_non_3ds"] is False
    await app.sandbox.stop()  # type: ignore[attr-defined]
    assert config.allow_non_3ds is True
