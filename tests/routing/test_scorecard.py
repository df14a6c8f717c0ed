"""The fault scorecard: the same fault scenarios through the library and the gateway, the same outcome.

Every scenario faults the ``primary`` simulator (``backup`` stays healthy), then makes one
Responses call through :class:`TppcRouter` (``aresponses``) and one through a real gateway
(uvicorn on loopback, ``POST /v1/responses``), each on a fresh router and breakers, and
sorts what the caller got into an outcome class:

* ``backup`` / ``primary``: a whole answer (non-streaming result, or a stream ending in
  ``response.completed``) from that provider;
* ``interrupted``: a stream cut after content, said so (``StreamInterruptedError`` in the
  library, ``error`` + ``response.failed`` events on the gateway), never a silent end;
* ``rejected:<status>``: the provider's refusal of the request, returned as is;
* ``failed``: no provider could answer.

Both must be the scenario's expected class: that is the library/gateway parity the shared
pipeline gives (docs/failover.md).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tppc_router.config.schema import Settings
from tppc_router.errors import AllProvidersFailedError, StreamInterruptedError
from tppc_router.routing.router import TppcRouter
from tppc_router.server import create_app
from tppc_router.sim import ProviderSimulator

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))

from gateway_live import gateway_settings, running  # noqa: E402

DEAD_URL = "http://127.0.0.1:9/v1"  # nothing listens there: connections are refused


@dataclass(frozen=True)
class Scenario:
    name: str
    fault: str | None  # set on primary; None: primary is a refused connection
    expected: str
    stream: bool = True
    router: dict[str, Any] = field(default_factory=dict)


FAST = {"first-byte-timeout": 2, "stream-idle-timeout": 2}
SCENARIOS = [
    Scenario("status-500", "status:500", "backup"),
    Scenario("status-503-non-stream", "status:503", "backup", stream=False),
    Scenario("status-502-retry-after", "status:502,retry-after=30", "backup"),
    Scenario("reset", "reset", "backup"),
    Scenario("no-response", "no-response", "backup", router=FAST),
    Scenario("slow-first-token", "slow-first-token:5", "backup", router={**FAST, "first-token-timeout": 1}),
    Scenario("cut-before-content", "cut-after:2", "backup"),
    Scenario("cut-after-content", "cut-after:25", "interrupted"),
    Scenario("stall-before-content", "stall:2", "backup", router=FAST),
    Scenario("stall-after-content", "stall:25", "interrupted", router=FAST),
    Scenario("malformed", "malformed:5", "primary"),
    Scenario("no-terminal", "no-terminal", "primary"),
    Scenario("flap", "flap,down=60", "backup"),
    Scenario("429-retry-after", "status:429,retry-after=30", "backup"),
    Scenario("429", "status:429", "backup", stream=False),
    Scenario("401", "status:401", "backup"),
    Scenario("400", "status:400", "rejected:400"),
    Scenario("refused", None, "backup"),
]


@pytest.fixture
def sims() -> Iterator[dict[str, ProviderSimulator]]:
    from canaries import CANARY_BACKUP, CANARY_PRIMARY

    with ProviderSimulator("primary", api_key=CANARY_PRIMARY) as p, ProviderSimulator("backup",
                                                                                      api_key=CANARY_BACKUP) as b:
        yield {"primary": p, "backup": b}


class _Dead:
    url = DEAD_URL


def settings_for(scenario: Scenario, sims: dict[str, ProviderSimulator]) -> Settings:
    primary: Any = _Dead() if scenario.fault is None else sims["primary"]
    return gateway_settings({"primary": primary, "backup": sims["backup"]},
                            **({"router": scenario.router} if scenario.router else {}))


def _event_type(event: Any) -> str:
    kind = getattr(event, "type", "")
    return str(getattr(kind, "value", kind))


async def library_outcome(scenario: Scenario, settings: Settings) -> str:
    router = TppcRouter(settings)
    try:
        if not scenario.stream:
            result = await router.aresponses(model="gpt-5", input="hi")
            return str(result._hidden_params["tppc_provider"])
        stream = await router.aresponses(model="gpt-5", input="hi", stream=True)
        events = [event async for event in stream]
        return stream.provider if events and _event_type(events[-1]) == "response.completed" else "incomplete"
    except StreamInterruptedError:
        return "interrupted"
    except AllProvidersFailedError:
        return "failed"
    except Exception as exc:  # the provider's refusal, as litellm raises it
        status = getattr(exc, "status_code", None)
        return f"rejected:{status}" if isinstance(status, int) else f"error:{type(exc).__name__}"
    finally:
        router.close()


def _sse_types(text: str) -> list[str]:
    types: list[str] = []
    for block in text.split("\n\n"):
        for line in block.splitlines():
            if line.startswith("data:"):
                try:
                    payload = json.loads(line[5:].strip())
                except ValueError:
                    continue
                if isinstance(payload, dict):
                    types.append(str(payload.get("type", "")))
    return types


def gateway_outcome(scenario: Scenario, settings: Settings) -> str:
    with running(create_app(settings)) as server, httpx.Client(base_url=server.base_url, timeout=30) as http:
        reply = http.post("/responses", json={"model": "gpt-5", "input": "hi", "stream": scenario.stream})
        if reply.status_code >= 500:
            return "failed"
        if reply.status_code >= 400:
            return f"rejected:{reply.status_code}"
        provider = reply.headers.get("x-tppc-provider", "")
        if not scenario.stream:
            return provider if reply.json().get("status") == "completed" else "incomplete"
        types = _sse_types(reply.text)
        if "response.failed" in types:
            return "interrupted"
        if not provider:  # headers went out before the first content (keep-alive): named in the stream
            named = [line.split(" ", 2)[2] for line in reply.text.splitlines() if line.startswith(": tppc-provider ")]
            provider = named[0] if named else ""
        return provider if types and types[-1] == "response.completed" else "incomplete"


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
async def test_library_and_gateway_give_the_same_outcome(scenario: Scenario,
                                                        sims: dict[str, ProviderSimulator]) -> None:
    """One fault scenario: the library and the gateway both end in the scenario's outcome class."""
    settings = settings_for(scenario, sims)
    outcomes = {}
    for path in ("library", "gateway"):
        if scenario.fault is not None:
            sims["primary"].set_fault(scenario.fault)
        if path == "library":
            outcomes[path] = await library_outcome(scenario, settings)
        else:
            outcomes[path] = await _in_thread(gateway_outcome, scenario, settings)
        sims["primary"].clear_faults()
    assert outcomes == {"library": scenario.expected, "gateway": scenario.expected}


async def test_refused_primary_costs_no_wait_from_the_second_request(sims: dict[str, ProviderSimulator]) -> None:
    """A primary that refuses connections is skipped from the second request on, in the library and the gateway."""
    settings = gateway_settings({"primary": _Dead(), "backup": sims["backup"]})
    router = TppcRouter(settings)
    try:
        await router.aresponses(model="gpt-5", input="hi")
        second = await router.aresponses(model="gpt-5", input="hi")
    finally:
        router.close()
    assert [a["outcome"] for a in second._hidden_params["tppc_attempts"]] == ["skipped", "ok"]

    def via_gateway() -> list[str]:
        with running(create_app(settings)) as server, httpx.Client(base_url=server.base_url, timeout=30) as http:
            http.post("/responses", json={"model": "gpt-5", "input": "hi"})
            started = time.monotonic()
            reply = http.post("/responses", json={"model": "gpt-5", "input": "hi"})
            assert reply.headers["x-tppc-provider"] == "backup" and time.monotonic() - started < 5
            states = {row.name: row.state for row in server.runtime.router.provider_states()}
            return [states["primary"], states["backup"]]

    assert await _in_thread(via_gateway) == ["open", "closed"]


async def _in_thread(function: Any, *args: Any) -> Any:
    import asyncio

    return await asyncio.to_thread(function, *args)
