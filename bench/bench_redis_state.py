"""Benchmark: what the Redis state backend costs, and how fast an outage spreads.

1. **Per-request overhead, healthy.** Routers in this process, built from the same
   config except ``router.state.backend``: ``memory`` and ``redis`` (a real
   ``redis-server`` on loopback, started here), and as a control ``shared-mem``: the
   shared-breaker code over an in-process store (the wrappers, no network). Each runs ``TppcRouter.acompletion``
   against the simulated primary (simulators in a child process, ``bench/_common.py``),
   interleaved in blocks of ``--block`` requests so drift hits both alike. Prints
   p50/p95 of each, the added ms at p50, and the *paired* added ms (median over rounds
   of median(redis block) - median(adjacent memory block)). Goal: <= 0.5 ms at p50.
2. **State operations alone.** ``breaker.allow()`` + ``breaker.record_success()`` (what a
   healthy request does to its breaker) timed directly, memory vs Redis: the overhead
   without the noise of an HTTP round trip.
3. **Outage propagation.** Instance A (this process) opens the primary's breaker in Redis;
   instance B (a child process with its own connection) calls ``allow()`` in a loop and
   reports the wall-clock time at which it first says no. Prints the delay from A's write
   to B's first "no", over ``--trials`` trials. Then, end to end: A's request meets a
   failing primary and fails over; B's very next request is checked to skip the primary
   (the simulator counts B's attempts on it).

    .venv/bin/python bench/bench_redis_state.py            # ~1 min
    .venv/bin/python bench/bench_redis_state.py --quick    # ~20 s
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    ANSWER_TEXT,
    BACKUP_KEY,
    PRIMARY_KEY,
    VENV_PY,
    SimFleet,
    environment_line,
    free_port,
    header,
    load_tppc_settings,
    ms,
    percentile,
    print_table,
    quiet_litellm,
    stop_process,
)

MESSAGES = [{"role": "user", "content": "hello"}]


# --------------------------------------------------------------------------- redis-server


class RedisServer:
    """A throwaway ``redis-server`` on a free loopback port, no persistence."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.dir = tempfile.TemporaryDirectory(prefix="bench-redis-")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self.dir.name],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        import redis

        client = redis.Redis.from_url(self.url, socket_timeout=1, socket_connect_timeout=1)
        deadline = time.monotonic() + 10
        while True:
            try:
                if client.ping():
                    break
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        client.close()

    def close(self) -> None:
        stop_process(self.proc)
        self.dir.cleanup()


# --------------------------------------------------------------------------- 1. per request


def settings_for(fleet: SimFleet, backend: str, redis_url: str, prefix: str, **router: Any) -> Any:
    state = {"backend": backend, "url": redis_url, "prefix": prefix}
    return load_tppc_settings(fleet.url("primary"), fleet.url("backup"), router={**router, "state": state})


async def per_request(routers: dict[str, Any], n: int, warmup: int, block: int) -> dict[str, list[list[float]]]:
    """Blocks of per-request seconds for each router, interleaved round by round."""
    for router in routers.values():
        for _ in range(warmup):
            await router.acompletion(model="gpt-5", messages=MESSAGES)
    gc.collect()
    gc.freeze()
    blocks: dict[str, list[list[float]]] = {name: [] for name in routers}
    done = 0
    order = list(routers.items())
    while done < n:
        count = min(block, n - done)
        order.reverse()  # each backend goes first every other round
        for name, router in order:
            samples = []
            for _ in range(count):
                started = time.perf_counter()
                result = await router.acompletion(model="gpt-5", messages=MESSAGES)
                samples.append(time.perf_counter() - started)
                if result._hidden_params["tppc_provider"] != "primary" or \
                        result.choices[0].message.content != ANSWER_TEXT:
                    raise RuntimeError(f"{name}: unexpected answer {result!r}")
            blocks[name].append(samples)
            await asyncio.sleep(0.05)  # litellm's background logging of this block settles here
        done += count
    gc.unfreeze()
    return blocks


def paired_difference(a: list[list[float]], b: list[list[float]]) -> float:
    """Median over rounds of median(a's block) - median(b's block)."""
    return statistics.median(statistics.median(x) - statistics.median(y) for x, y in zip(a, b, strict=True))


# --------------------------------------------------------------------------- 2. state ops


def state_ops(registries: dict[str, Any], ops: int) -> dict[str, list[float]]:
    """Seconds per allow() + record_success() pair, per registry, interleaved in blocks of 100."""
    samples: dict[str, list[float]] = {name: [] for name in registries}
    breakers = {name: reg.get("primary", "gpt-5") for name, reg in registries.items()}
    for breaker in breakers.values():
        for _ in range(100):
            breaker.allow()
            breaker.record_success()
    for _ in range(max(1, ops // 100)):
        for name, breaker in breakers.items():
            for _ in range(100):
                started = time.perf_counter()
                breaker.allow()
                breaker.record_success()
                samples[name].append(time.perf_counter() - started)
    return samples


# --------------------------------------------------------------------------- 3. propagation

_POLLER = """
import sys, time
from tppc_router.state import FallbackStore, RedisStore, SharedBreakerRegistry
url, prefix = sys.argv[1], sys.argv[2]
registry = SharedBreakerRegistry(FallbackStore(RedisStore.from_url(url, prefix=prefix, op_timeout=0.5)))
print("ready", flush=True)
for line in sys.stdin:                      # one line (a fresh model name) per trial
    breaker = registry.get("primary", line.strip())
    while breaker.allow():
        breaker.record_success()            # keep it like a serving instance: closed, counted
    print(repr(time.time()), flush=True)
"""


def propagation(redis_url: str, trials: int) -> list[float]:
    """Seconds from A's write (opening the breaker) to B's first allow() that says no."""
    from tppc_router.state import FallbackStore, RedisStore, SharedBreakerRegistry

    prefix = f"bench{uuid.uuid4().hex[:6]}"
    poller = subprocess.Popen([str(VENV_PY), "-c", _POLLER, redis_url, prefix], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, cwd=str(Path(__file__).resolve().parents[1]))
    assert poller.stdin is not None and poller.stdout is not None
    assert poller.stdout.readline().strip() == "ready"
    a = SharedBreakerRegistry(FallbackStore(RedisStore.from_url(redis_url, prefix=prefix, op_timeout=0.5)))
    delays: list[float] = []
    try:
        for trial in range(trials):
            model = f"gpt-5-trial-{trial}"  # a fresh, closed breaker per trial
            breaker = a.get("primary", model)
            poller.stdin.write(model + "\n")
            poller.stdin.flush()
            time.sleep(0.02)  # B is polling now
            written = time.time()
            breaker.record_failure(open_now=True, cooldown_s=30.0)
            seen = float(poller.stdout.readline())
            delays.append(seen - written)
    finally:
        poller.stdin.close()
        poller.wait(10)
        a.close()
    return delays


async def next_request_of_b(fleet: SimFleet, redis_url: str) -> dict[str, Any]:
    """A meets a failing primary; B's next request: which provider, and did it touch the primary?"""
    from tppc_router.routing.router import TppcRouter

    prefix = f"bench{uuid.uuid4().hex[:6]}"
    # failure-threshold 2: A's one request (a try and the same-provider retry, both 500) opens the breaker
    a = TppcRouter(settings_for(fleet, "redis", redis_url, prefix, **{"failure-threshold": 2}))
    b = TppcRouter(settings_for(fleet, "redis", redis_url, prefix, **{"failure-threshold": 2}))
    try:
        for router in (a, b):
            await router.acompletion(model="gpt-5", messages=MESSAGES)
        fleet.set_faults("primary", ["status:500"])
        fleet.outcomes("primary")  # clear
        started = time.perf_counter()
        result_a = await a.acompletion(model="gpt-5", messages=MESSAGES)
        a_seconds = time.perf_counter() - started
        a_primary = sum(fleet.outcomes("primary").values())
        started = time.perf_counter()
        result_b = await b.acompletion(model="gpt-5", messages=MESSAGES)
        b_seconds = time.perf_counter() - started
        b_primary = sum(fleet.outcomes("primary").values())
    finally:
        fleet.set_faults("primary", [])
        a.close()
        b.close()
    return {
        "a_provider": result_a._hidden_params["tppc_provider"], "a_primary_attempts": a_primary, "a_s": a_seconds,
        "b_provider": result_b._hidden_params["tppc_provider"], "b_primary_attempts": b_primary, "b_s": b_seconds,
        "b_attempts": [(x["provider"], x["outcome"]) for x in result_b._hidden_params["tppc_attempts"]],
    }


# --------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=600, help="timed requests per backend (default 600)")
    parser.add_argument("--warmup", type=int, default=50, help="untimed requests per backend first (default 50)")
    parser.add_argument("--block", type=int, default=20, help="requests per backend per round (default 20)")
    parser.add_argument("--ops", type=int, default=5000, help="allow()+record_success() pairs per backend")
    parser.add_argument("--trials", type=int, default=30, help="outage propagation trials (default 30)")
    parser.add_argument("--quick", action="store_true", help="--n 200 --ops 2000 --trials 10")
    args = parser.parse_args()
    if args.quick:
        args.n, args.ops, args.trials = 200, 2000, 10

    quiet_litellm()
    from tppc_router.routing.failover import set_testing
    from tppc_router.routing.router import TppcRouter

    set_testing(True)
    print(environment_line())
    redis_server = RedisServer()
    fleet = SimFleet({"primary": {"api_key": PRIMARY_KEY, "text": ANSWER_TEXT},
                      "backup": {"api_key": BACKUP_KEY, "text": ANSWER_TEXT}})
    try:
        prefix = f"bench{uuid.uuid4().hex[:6]}"
        from tppc_router.state import MemoryStore, SharedBreakerRegistry

        routers = {
            "memory": TppcRouter(settings_for(fleet, "memory", redis_server.url, prefix)),
            # the shared-breaker code path over an in-process store: the wrappers' cost, no network
            "shared-mem": TppcRouter(settings_for(fleet, "memory", redis_server.url, prefix),
                                     breakers=SharedBreakerRegistry(MemoryStore())),
            "redis": TppcRouter(settings_for(fleet, "redis", redis_server.url, prefix)),
        }
        assert routers["redis"].state_backend_info()["backend"] == "redis"

        header("1. Per request, healthy: TppcRouter.acompletion, memory vs redis state")
        print(f"{args.n} timed requests per backend after {args.warmup} warm-up, interleaved in blocks of "
              f"{args.block}; simulators in a child process; redis-server on loopback")
        blocks = asyncio.run(per_request(routers, args.n, args.warmup, args.block))
        flat = {name: [s for b in bl for s in b] for name, bl in blocks.items()}
        rows = [[name, ms(percentile(v, 50)), ms(percentile(v, 95)), ms(percentile(v, 99))]
                for name, v in flat.items()]
        print_table(["backend", "p50 ms", "p95 ms", "p99 ms"], rows)
        added_p50 = percentile(flat["redis"], 50) - percentile(flat["memory"], 50)
        added_p95 = percentile(flat["redis"], 95) - percentile(flat["memory"], 95)
        paired = paired_difference(blocks["redis"], blocks["memory"])
        control = percentile(flat["shared-mem"], 50) - percentile(flat["memory"], 50)
        print(f"added by redis: p50 {ms(added_p50)} ms, p95 {ms(added_p95)} ms, "
              f"paired (median of per-round block medians) {ms(paired)} ms   goal: <= 0.5 ms at p50")
        print(f"control, shared-mem vs memory (no network, same code path): p50 {ms(control)} ms")
        outages = routers["redis"].breakers.store.outages
        print(f"redis fallback episodes during the run (an operation over op-timeout 50 ms): {outages}")
        for router in routers.values():
            router.close()

        header("2. State operations alone: allow() + record_success() per request")
        from tppc_router.routing.breaker import BreakerRegistry
        from tppc_router.state import FallbackStore, RedisStore, SharedBreakerRegistry

        registries = {
            "memory": BreakerRegistry(),
            "redis": SharedBreakerRegistry(FallbackStore(RedisStore.from_url(
                redis_server.url, prefix=f"bench{uuid.uuid4().hex[:6]}", op_timeout=0.05))),
        }
        ops = state_ops(registries, args.ops)
        print_table(["backend", "p50 ms", "p95 ms", "p99 ms"],
                    [[name, ms(percentile(v, 50)), ms(percentile(v, 95)), ms(percentile(v, 99))]
                     for name, v in ops.items()])
        print(f"added by redis at p50: {ms(percentile(ops['redis'], 50) - percentile(ops['memory'], 50))} ms "
              "(two EVALSHA round trips)")
        registries["redis"].close()

        header("3. Outage propagation: A opens the breaker, B polls allow()")
        delays = propagation(redis_server.url, args.trials)
        print(f"{len(delays)} trials: p50 {ms(percentile(delays, 50))} ms, max {ms(max(delays))} ms "
              "from A's write to B's first allow() == False")
        e2e = asyncio.run(next_request_of_b(fleet, redis_server.url))
        print(f"A's request: answered by {e2e['a_provider']} after {e2e['a_primary_attempts']} attempt(s) on the "
              f"primary ({ms(e2e['a_s'])} ms); B's next request: answered by {e2e['b_provider']}, "
              f"{e2e['b_primary_attempts']} attempt(s) on the primary ({ms(e2e['b_s'])} ms), attempts {e2e['b_attempts']}")
        print("BENCH_JSON " + json.dumps({
            "p50_ms": {k: percentile(v, 50) * 1e3 for k, v in flat.items()},
            "p95_ms": {k: percentile(v, 95) * 1e3 for k, v in flat.items()},
            "added_p50_ms": added_p50 * 1e3, "paired_added_ms": paired * 1e3, "control_p50_ms": control * 1e3,
            "fallback_episodes": outages,
            "ops_p50_ms": {k: percentile(v, 50) * 1e3 for k, v in ops.items()},
            "propagation_p50_ms": percentile(delays, 50) * 1e3, "propagation_max_ms": max(delays) * 1e3,
            "b_next": {k: v for k, v in e2e.items() if k != "b_attempts"},
        }))
    finally:
        fleet.close()
        redis_server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
