"""The sandbox on a real loopback socket, as the demo and the integration tests run it."""

from __future__ import annotations

from pathlib import Path

import httpx

from payflows.sandbox import SandboxConfig, complete_challenge, running_sandbox
from payflows.sandbox.state import load_state
from tests.unit.sandbox.conftest import API, BRAND_ID, FINGERPRINT, S2S, card_body


async def test_running_sandbox_serves_a_3ds_payment_over_loopback(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    with running_sandbox(SandboxConfig(state_file=path)) as base_url:
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/api/v1/")
        origin = base_url.removesuffix("/api/v1/")
        async with httpx.AsyncClient(base_url=base_url, timeout=5) as http:
            client = (await http.post("clients/", json={"email": "a@b.co"}, headers=API)).json()
            body = {
                "client_id": client["id"],
                "brand_id": BRAND_ID,
                "purchase": {"currency": "ZAR", "products": [{"name": "x", "price": 5000}]},
                "success_redirect": "https://shop/ok",
                "failure_redirect": "https://shop/no",
            }
            purchase = (await http.post("purchases/", json=body, headers=API)).json()
            assert purchase["direct_post_url"] == f"{origin}/p/{purchase['id']}/"
            answer = (
                await http.post(
                    purchase["direct_post_url"] + "?s2s=true",
                    json=card_body("4000000000000002", **FINGERPRINT),
                    headers=S2S,
                )
            ).json()
            assert answer["URL"].startswith(origin)
            pares = await complete_challenge(
                http, answer["URL"], answer["MD"], answer["PaReq"], "https://shop/3ds"
            )
            final = await http.post(
                answer["callback_url"], data={"MD": answer["MD"], "PaRes": pares}
            )
            assert final.json()["status"] == "paid"
    assert load_state(path).purchases[purchase["id"]].status == "paid"  # flushed on stop
