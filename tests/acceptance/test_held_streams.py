"""Codex CLI and the openai SDK through a stream held back for a slow first token: keep-alive comments and
the ``: tppc-provider`` comment arrive before the events, and both clients work unchanged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openai
import pytest
from gateway_live import CANARY_GATEWAY, LiveServer, StartServer, gateway_settings
from test_codex_cli import PROMPT, codex, run_codex

from tppc_router.sim import ProviderSimulator

__all__ = ["codex"]  # the fixture, imported for the test below

MESSAGES: list[Any] = [{"role": "user", "content": "Say hi"}]


@pytest.fixture
def held(live_server: StartServer, primary: ProviderSimulator, backup: ProviderSimulator) -> LiveServer:
    """A keyed gateway that sends keep-alives every 0.2 s; the primary is 2.5 s from its first token."""
    primary.set_fault("slow-first-token:2.5")
    settings = gateway_settings({"primary": primary, "backup": backup}, server={"api-keys": [CANARY_GATEWAY],
                                                                               "stream-keepalive": 0.2})
    return live_server(settings)


def test_codex_works_through_keepalives(codex: Path, held: LiveServer, tmp_path: Path,
                                        primary: ProviderSimulator) -> None:
    """Codex ignores the comment lines and prints the primary's answer."""
    result = run_codex(codex, held, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"Hello from primary. You said: {PROMPT}" in result.stdout
    assert primary.requests[-1].outcome == "slow-first-token"


def test_openai_sdk_responses_stream_through_keepalives(held: LiveServer) -> None:
    """The SDK's Responses stream helper yields the events and the final response."""
    with openai.OpenAI(base_url=held.base_url, api_key=CANARY_GATEWAY, max_retries=0, timeout=30) as sdk:
        with sdk.responses.stream(model="gpt-5", input="Say hi") as stream:
            kinds = [event.type for event in stream]
            final = stream.get_final_response()
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert final.output_text == "Hello from primary. You said: Say hi"


async def test_openai_sdk_async_chat_stream_through_keepalives(held: LiveServer) -> None:
    """The async SDK's chat stream gets every chunk after the keep-alives."""
    sdk = openai.AsyncOpenAI(base_url=held.base_url, api_key=CANARY_GATEWAY, max_retries=0, timeout=30)
    try:
        stream = await sdk.chat.completions.create(model="gpt-5", messages=MESSAGES, stream=True)
        text = "".join([chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices])
    finally:
        await sdk.close()
    assert "Hello from primary" in text
