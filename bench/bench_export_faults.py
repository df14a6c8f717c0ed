"""What the plain LiteLLM export (`tppc-router export --format litellm`) still does differently from our engine.

The same two simulated providers (primary, backup), the same fault on the primary, the same
requests, through:

* ``tppc``    ``TppcRouter`` (our engine) built from the config;
* ``export``  a plain ``litellm.Router(model_list=..., **router_settings)`` built from
              ``litellm_config(settings)``: the export with ``order``, ``stream_timeout``,
              ``retry_policy``, ``allowed_fails_policy`` and ``cooldown_time``.

For each fault: who answered each of ``--requests`` sequential requests (or the error class), how
many times the primary was called over all of them, and the mean time to an answer. Each
fault starts from fresh routers (no breaker or cooldown state carried over).

    .venv/bin/python bench/bench_export_faults.py            # ~1 min
    .venv-proxy/bin/python bench/bench_export_faults.py      # the same on litellm 1.106.2 (the proxy's)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_LOG", "CRITICAL")

from tppc_router.config.export import litellm_config  # noqa: E402
from tppc_router.config.loader import settings_from_data  # noqa: E402
from tppc_router.routing._litellm import load_litellm  # noqa: E402
from tppc_router.routing.router import TppcRouter  # noqa: E402
from tppc_router.sim import ProviderSimulator  # noqa: E402

PRIMARY_KEY = "sk-bench-primary-0123456789"
BACKUP_KEY = "sk-bench-backup-0123456789"
FIRST_BYTE_S = 2.0

FAULTS: list[tuple[str, str, bool]] = [  # (label, primary's fault, stream)
    ("503", "status:503", False),
    ("500 (stream)", "status:500", True),
    ("429 Retry-After: 30", "status:429,retry-after=30", False),
    ("401", "status:401", False),
    ("404", "status:404", False),
    ("connection reset", "reset", False),
    ("silent, stream", "no-response", True),
    ("400 (invalid request)", "status:400", False),
]


def settings(primary: str, backup: str) -> Any:
    return settings_from_data({
        "tppc": {"models": ["gpt-5"], "providers": [
            {"name": "primary", "base-url": primary, "api-key": PRIMARY_KEY},
            {"name": "backup", "base-url": backup, "api-key": BACKUP_KEY},
        ]},
        "router": {"first-byte-timeout": FIRST_BYTE_S},
    }, env={})


def build(kind: str, s: Any) -> Any:
    if kind == "tppc":
        return TppcRouter(tppc_settings=s)
    export = litellm_config(s, include_secrets=True).config
    return load_litellm().Router(model_list=export["model_list"], **export["router_settings"])


async def one(router: Any, stream: bool, timeout_s: float) -> tuple[str, float]:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout_s):
            result = await router.aresponses(model="gpt-5", input="Tell me something", stream=stream)
            text = ""
            if stream:
                async for event in result:
                    kind = getattr(event, "type", "")
                    if str(getattr(kind, "value", kind)) == "response.output_text.delta":
                        text += str(getattr(event, "delta", "") or "")
            else:
                text = result.output_text
    except TimeoutError:
        return f">{timeout_s:.0f}s", time.perf_counter() - started
    except Exception as exc:
        return type(exc).__name__, time.perf_counter() - started
    who = "backup" if "from backup" in text else "primary" if "from primary" in text else "?"
    return who, time.perf_counter() - started


async def scenario(kind: str, fault: str, stream: bool, requests: int, timeout_s: float,
                   sims: dict[str, ProviderSimulator]) -> tuple[str, int, float]:
    for sim in sims.values():
        sim.clear_faults()
        sim.clear_requests()
    sims["primary"].set_fault(fault)
    router = build(kind, settings(sims["primary"].url, sims["backup"].url))
    outcomes: Counter[str] = Counter()
    times: list[float] = []
    for _ in range(requests):
        who, seconds = await one(router, stream, timeout_s)
        outcomes[who] += 1
        times.append(seconds)
    close = getattr(router, "close", None)
    if kind == "tppc" and callable(close):
        close()
    primary_calls = sum(1 for r in sims["primary"].requests if r.path.endswith("/responses"))
    answered = ", ".join(f"{who} x{n}" for who, n in outcomes.most_common())
    return answered, primary_calls, sum(times) / len(times)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=30.0, help="give up on one request after this long")
    args = parser.parse_args()
    litellm = load_litellm()
    print(f"litellm {getattr(litellm, 'version', None) or _version()}, {args.requests} requests per fault, "
          f"first-byte-timeout {FIRST_BYTE_S:g} s")
    print(f"{'primary fault':24} {'engine':7} {'answered by':28} {'primary calls':>13} {'mean s':>7}")
    with ProviderSimulator("primary", api_key=PRIMARY_KEY) as primary, \
            ProviderSimulator("backup", api_key=BACKUP_KEY) as backup:
        sims = {"primary": primary, "backup": backup}
        for kind in ("tppc", "export"):  # warm-up: imports and first connections are not a fault's cost
            await scenario(kind, "status:503,p=0.000001", True, 1, args.timeout, sims)
            await scenario(kind, "status:503,p=0.000001", False, 1, args.timeout, sims)
        for label, fault, stream in FAULTS:
            for kind in ("tppc", "export"):
                answered, calls, mean = await scenario(kind, fault, stream, args.requests, args.timeout, sims)
                print(f"{label:24} {kind:7} {answered:28} {calls:>13} {mean:>7.2f}", flush=True)


def _version() -> str:
    from importlib.metadata import version

    return version("litellm")


if __name__ == "__main__":
    asyncio.run(main())
