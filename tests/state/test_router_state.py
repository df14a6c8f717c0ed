"""TppcRouter with router.state.backend: redis, in one process, against simulators."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest

from tppc_router.config.loader import load_settings
from tppc_router.routing.router import TppcRouter
from tppc_router.sim import Fault, ProviderSimulator
from tppc_router.state import SharedBreakerRegistry

from .conftest import RedisServer

PRIMARY_KEY = "sk-canary-state-primary-5c1d7e9a3f"
BACKUP_KEY = "sk-canary-state-backup-8b2e4f6a0d"
MESSAGES = [{"role": "user", "content": "hello"}]


@pytest.fixture
def sims() -> Iterator[dict[str, ProviderSimulator]]:
    started = {name: ProviderSimulator(name=name, api_key=key).start()
               for name, key in (("primary", PRIMARY_KEY), ("backup", BACKUP_KEY))}
    yield started
    for sim in started.values():
        sim.stop()


def config(sims: dict[str, ProviderSimulator], state: dict[str, object]) -> str:
    lines = [
        "tppc:",
        "  models: [gpt-5]",
        "  providers:",
        f'    - {{name: primary, base-url: "{sims["primary"].url}", api-key: {PRIMARY_KEY}, order: 1}}',
        f'    - {{name: backup, base-url: "{sims["backup"].url}", api-key: {BACKUP_KEY}, order: 2}}',
        "router:",
        "  failure-threshold: 1",
        "  same-provider-retries: 0",
        "  state:",
    ] + [f"    {k}: {v}" for k, v in state.items()]
    return "\n".join(lines) + "\n"


def provider_of(result: object) -> str:
    return str(result._hidden_params["tppc_provider"])  # type: ignore[attr-defined]


def test_router_builds_the_redis_registry_and_reports_it(shared_redis: RedisServer,
                                                         sims: dict[str, ProviderSimulator]) -> None:
    """backend: redis gives the router a shared registry; state_backend_info names it, reachable."""
    settings = load_settings(text=config(sims, {"backend": "redis", "url": f'"{shared_redis.url}"',
                                                "prefix": f"t{uuid.uuid4().hex[:8]}"}))
    router = TppcRouter(settings)
    try:
        assert isinstance(router.breakers, SharedBreakerRegistry)
        assert provider_of(router.completion(model="gpt-5", messages=MESSAGES)) == "primary"
        assert router.state_backend_info() == {"backend": "redis", "reachable": True, "url": shared_redis.url}
        states = {row.name: row for row in router.provider_states()}
        assert states["primary"].breakers[0].total_successes == 1
    finally:
        router.close()


def test_memory_backend_info() -> None:
    """The default backend reports memory, always reachable, no URL."""
    settings = load_settings(text='tppc:\n  providers:\n    - {name: p, base-url: "http://127.0.0.1:9/v1", api-key: sk-x}\n')
    router = TppcRouter(settings)
    try:
        assert router.state_backend_info() == {"backend": "memory", "reachable": True, "url": None}
    finally:
        router.close()


def test_redis_holds_no_key_and_no_url(shared_redis: RedisServer, sims: dict[str, ProviderSimulator]) -> None:
    """After successes, failures, an open breaker and a probe, no Redis key or value holds an API key or a base URL."""
    prefix = f"t{uuid.uuid4().hex[:8]}"
    settings = load_settings(text=config(sims, {"backend": "redis", "url": f'"{shared_redis.url}"', "prefix": prefix,
                                                "op-timeout": 0.5}))
    router = TppcRouter(settings)
    try:
        router.completion(model="gpt-5", messages=MESSAGES)
        sims["primary"].set_fault(Fault.parse("status:429,retry-after=0.05"))
        assert provider_of(router.completion(model="gpt-5", messages=MESSAGES)) == "backup"
        sims["primary"].set_fault(Fault.parse("status:401"))
        time.sleep(0.06)  # the Retry-After block runs out: the next request is the probe
        router.completion(model="gpt-5", messages=MESSAGES)  # the probe is refused: auth cooldown
    finally:
        router.close()
    dump = [(k, v) for k, v in shared_redis.dump() if k.startswith(prefix + ":")]
    assert any(k == f"{prefix}:breaker:primary:gpt-5" and "state=open" in v for k, v in dump), dump
    text = "\n".join(f"{k} {v}" for k, v in dump)
    for secret in (PRIMARY_KEY, BACKUP_KEY, PRIMARY_KEY[:12], sims["primary"].url, sims["backup"].url, "127.0.0.1",
                   "http", "sk-"):
        assert secret not in text
