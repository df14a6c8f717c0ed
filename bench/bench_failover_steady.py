"""Benchmark 2: steady-state latency while the primary is down, against all healthy.

Scenarios (two providers, ``primary`` order 1 and ``backup`` order 2):

* ``healthy``   both answer;
* ``500``       the primary answers every request with HTTP 500 (simulator fault ``status:500``);
* ``refused``   the primary's base-url is a closed port on 127.0.0.1 (connection refused).

Routers, each given the same deployments (``build_model_list(settings)``: group ``gpt-5``
with the two deployments at ``order`` 1 and 2):

* ``tppc``      ``TppcRouter(settings)`` with the default router section (failure-threshold 3,
                cooldown 30 s, one quick same-provider retry);
* ``litellm``   ``litellm.Router(model_list=...)`` with LiteLLM's defaults (its own retries,
                allowed fails and cooldowns).

Every (router, scenario) pair is its own long-lived router instance. Each one is first
driven into its steady state (``--warmup`` requests; for tppc until the primary's breaker is
open), then the pairs run interleaved in blocks of ``--block`` sequential requests, round
robin, until each has ``--n`` timed requests, so machine noise hits all alike. Cooldowns run
on the wall clock, so the periodic re-probes of the dead primary (every 30 s for tppc,
LiteLLM's cooldown for litellm) fall into the timed phase as they would in production.
APIs: async ``aresponses`` non-streaming, and streaming consumed to the end.

Goal: tppc p95 under a failed primary (breaker open) <= 1.2x tppc p95 all healthy.
The simulators run in a child process.

    .venv/bin/python bench/bench_failover_steady.py            # ~1.5 min
    .venv/bin/python bench/bench_failover_steady.py --quick    # ~40 s
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    ANSWER_TEXT,
    BACKUP_KEY,
    PRIMARY_KEY,
    SimFleet,
    closed_port_url,
    environment_line,
    fmt_ratio,
    header,
    load_line,
    load_tppc_settings,
    ms,
    print_table,
    quiet_litellm,
    ratio,
    summarize,
)

GOAL_P95 = 1.2
SCENARIOS = ("healthy", "500", "refused")
ROUTERS = ("tppc", "litellm")
APIS = ("responses", "stream")
INPUT = "Say hello"


@dataclass
class Variant:
    router_kind: str
    scenario: str
    api: str
    router: Any
    samples: list[float] = field(default_factory=list)
    errors: int = 0
    error_samples: list[float] = field(default_factory=list)
    first: float | None = None  # the first request after the fault (discovery)
    warmup_count: int = 0
    last_error: str = ""

    @property
    def name(self) -> str:
        return f"{self.router_kind}/{self.api}/{self.scenario}"


async def one_request(v: Variant, model: str = "gpt-5") -> None:
    """One request; raises on a wrong or missing answer."""
    if v.api == "responses":
        result = await v.router.aresponses(model=model, input=INPUT)
        if result.output_text != ANSWER_TEXT:
            raise AssertionError(f"unexpected answer {result!r}")
        return
    stream = await v.router.aresponses(model=model, input=INPUT, stream=True)
    text, completed = [], False
    async for event in stream:
        kind = getattr(event, "type", None)
        if kind == "response.output_text.delta":
            text.append(event.delta)
        elif kind == "response.completed":
            completed = True
    if not completed or "".join(text) != ANSWER_TEXT:
        raise AssertionError(f"incomplete stream: completed={completed} text={''.join(text)!r}")


async def timed(v: Variant, record: bool) -> float:
    started = time.perf_counter()
    try:
        await one_request(v)
    except Exception as exc:  # noqa: BLE001 - counted, not fatal
        elapsed = time.perf_counter() - started
        if record:
            v.errors += 1
            v.error_samples.append(elapsed)
        v.last_error = f"{type(exc).__name__}: {str(exc)[:160]}"
        return elapsed
    elapsed = time.perf_counter() - started
    if record:
        v.samples.append(elapsed)
    return elapsed


def primary_open(router: Any) -> bool:
    return any(row.name == "primary" and row.state == "open" for row in router.provider_states())


async def run(args: argparse.Namespace, fleet: SimFleet) -> tuple[list[Variant], float]:
    litellm = quiet_litellm()
    from tppc_router.config.deployments import build_model_list
    from tppc_router.routing.router import TppcRouter

    variants: list[Variant] = []
    for kind in ROUTERS:
        primary_url = {"healthy": fleet.url("primary"), "500": fleet.url(f"primary500-{kind}"),
                       "refused": closed_port_url()}
        for api in APIS:
            for scenario in SCENARIOS:
                settings = load_tppc_settings(primary_url[scenario], fleet.url("backup"))
                if kind == "tppc":
                    router: Any = TppcRouter(settings)
                else:
                    router = litellm.Router(model_list=build_model_list(settings))
                variants.append(Variant(kind, scenario, api, router))

    # Warm every router up on the pinned backup group (code paths, clients), so the first request
    # on the group meets the fault with everything else warm: that request's time is the discovery cost.
    for v in variants:
        for _ in range(3):
            await one_request(v, model="backup/gpt-5")
    # Into the steady state: the first request meets the fault; tppc runs until its breaker is open.
    for v in variants:
        v.first = await timed(v, record=False)
        v.warmup_count = 1
        while v.warmup_count < args.warmup or (
            v.router_kind == "tppc" and v.scenario != "healthy" and not primary_open(v.router)
            and v.warmup_count < 50
        ):
            await timed(v, record=False)
            v.warmup_count += 1
    for kind in ROUTERS:
        fleet.outcomes(f"primary500-{kind}")
    gc.collect()
    gc.freeze()

    done = 0
    started = time.monotonic()
    while done < args.n:
        count = min(args.block, args.n - done)
        for v in variants:
            for _ in range(count):
                await timed(v, record=True)
            await asyncio.sleep(0.02)
        done += count
    return variants, time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=300, help="timed requests per (router, api, scenario) (300)")
    parser.add_argument("--warmup", type=int, default=10, help="requests into the steady state first (10)")
    parser.add_argument("--block", type=int, default=10, help="requests per variant per round (10)")
    parser.add_argument("--quick", action="store_true", help="short run: --n 80")
    args = parser.parse_args()
    if args.quick:
        args.n = 80

    fleet = SimFleet({
        "primary": {"api_key": PRIMARY_KEY, "text": ANSWER_TEXT},
        "primary500-tppc": {"api_key": PRIMARY_KEY, "text": ANSWER_TEXT, "faults": ["status:500"]},
        "primary500-litellm": {"api_key": PRIMARY_KEY, "text": ANSWER_TEXT, "faults": ["status:500"]},
        "backup": {"api_key": BACKUP_KEY, "text": ANSWER_TEXT},
    })
    print(environment_line())
    print(f"{args.n} timed sequential requests per variant after {args.warmup}+ warm-up, interleaved in blocks "
          f"of {args.block}; simulators in process {fleet.pid}")
    started = time.monotonic()
    try:
        loop = asyncio.new_event_loop()
        variants, timed_s = loop.run_until_complete(run(args, fleet))
        litellm_defaults = next(v.router for v in variants if v.router_kind == "litellm")
        primary500_hits = {kind: fleet.outcomes(f"primary500-{kind}") for kind in ROUTERS}
        for v in variants:
            if v.router_kind == "tppc":
                v.router.close()
    finally:
        fleet.close()
    elapsed = time.monotonic() - started
    by_name = {v.name: v for v in variants}

    header("Steady state: primary down vs all healthy (sequential, one caller, async)")
    rows = []
    for v in variants:
        s = summarize(v.samples)
        healthy = summarize(by_name[f"{v.router_kind}/{v.api}/healthy"].samples)
        rows.append([v.name, int(s["n"]), v.errors, ms(s["p50"]), ms(s["p95"]), ms(s["p99"]), ms(s["max"]),
                     fmt_ratio(ratio(s["p50"], healthy["p50"])), fmt_ratio(ratio(s["p95"], healthy["p95"])),
                     ms(v.first or 0.0), v.warmup_count])
    print_table(["router/api/scenario", "ok", "errors", "p50 ms", "p95 ms", "p99 ms", "max ms", "p50/healthy",
                 "p95/healthy", "1st req ms", "warm-up"], rows)
    print("1st req: the first request after the fault, which discovers it (not in the timed stats);")
    print("warm-up: requests sent before timing (tppc: until the primary's breaker was open)")
    errored = [v for v in variants if v.errors]
    for v in errored:
        print(f"  {v.name}: {v.errors} errors, e.g. {v.last_error}")
    print(f"requests that reached the 500-primary during the timed phase ({timed_s:.0f} s), both APIs: "
          + ", ".join(f"{k} {v}" for k, v in primary500_hits.items()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        print("litellm.Router defaults in effect: " + ", ".join(
            f"{a}={getattr(litellm_defaults, a, '?')}"
            for a in ("num_retries", "allowed_fails", "cooldown_time", "timeout")))

    header(f"Verdict (goal: tppc p95 with the primary down <= {GOAL_P95}x all healthy)")
    verdict = []
    met_all = True
    for api in APIS:
        healthy = summarize(by_name[f"tppc/{api}/healthy"].samples)
        for scenario in ("500", "refused"):
            tppc = by_name[f"tppc/{api}/{scenario}"]
            lite = by_name[f"litellm/{api}/{scenario}"]
            lite_healthy = summarize(by_name[f"litellm/{api}/healthy"].samples)
            r95 = ratio(summarize(tppc.samples)["p95"], healthy["p95"])
            met = r95 <= GOAL_P95 and tppc.errors == 0
            met_all &= met
            verdict.append([f"{api}/{scenario}", fmt_ratio(r95), tppc.errors, "met" if met else "MISSED",
                            fmt_ratio(ratio(summarize(lite.samples)["p95"], lite_healthy["p95"])),
                            fmt_ratio(ratio(summarize(lite.samples)["p95"], healthy["p95"])), lite.errors])
    print_table(["api/fault", "tppc p95/healthy", "tppc errors", "goal", "litellm p95/its healthy",
                 "litellm p95/tppc healthy", "litellm errors"], verdict)
    print(f"\nwall time {elapsed:.1f} s; {load_line()}")
    return 0 if met_all else 1


if __name__ == "__main__":
    sys.exit(main())
