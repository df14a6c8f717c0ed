"""The legacy packycode block through the gateway: its own effort and storage settings, served first."""

from __future__ import annotations

import httpx
from gateway_live import StartServer

from tppc_router.config.loader import load_settings
from tppc_router.sim import ProviderSimulator

LEGACY_KEY = "sk-canary-legacy-3c5e7a9b1d"


def test_legacy_block_keeps_its_effort_and_storage(live_server: StartServer, primary: ProviderSimulator) -> None:
    """A migrated-from user sees no change: the legacy provider gets its configured effort and store,
    on the gateway's Responses path as through TppcRouter."""
    legacy = ProviderSimulator(name="legacy", api_key=LEGACY_KEY).start()
    try:
        settings = load_settings(text=f"""
packycode:
  enabled: true
  base-url: "{legacy.url}"
  privacy: {{disable-response-storage: false}}
  defaults: {{model: gpt-5, model-reasoning-effort: medium}}
  credentials: {{openai-api-key: {LEGACY_KEY}}}
tppc:
  providers:
    - {{name: primary, base-url: "{primary.url}", api-key: sk-canary-primary-7f3a9c1e5b}}
""")
        server = live_server(settings)
        reply = httpx.post(server.base_url + "/responses", json={"model": "gpt-5", "input": "hi"}, timeout=10)
        assert reply.status_code == 200 and reply.headers["x-tppc-provider"] == "packycode"
        body = legacy.requests[-1].body or {}
        assert body["reasoning"]["effort"] == "medium" and body["store"] is True
        reply = httpx.post(server.base_url + "/responses", timeout=10,
                           json={"model": "gpt-5", "input": "hi", "reasoning": {"effort": "low"}, "store": False})
        body = legacy.requests[-1].body or {}
        assert body["reasoning"]["effort"] == "low" and body["store"] is False
    finally:
        legacy.stop()
