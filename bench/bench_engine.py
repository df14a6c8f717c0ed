"""Benchmark 6: the engine's own cost per call (no I/O).

An :class:`~tppc_router.routing.engine.Engine` over one healthy :class:`Target` whose attempt
returns at once: what ordering, the breaker checks, the retry loop and the attempt records
cost per request, in microseconds. In-process and CPU-bound, so it is steadier than the
end-to-end scripts on a busy machine (it is still slowed by other processes: compare runs
made one after the other).

    .venv/bin/python bench/bench_engine.py            # ~5 s
    .venv/bin/python bench/bench_engine.py --n 5000
"""

from __future__ import annotations

import argparse
import asyncio
import time

from _common import environment_line, load_line

from tppc_router.routing.breaker import BreakerRegistry
from tppc_router.routing.engine import Engine, Target, TargetAttempt
from tppc_router.routing.failover import RouterPolicy
from tppc_router.secret import Secret


async def measure(n: int) -> float:
    engine = Engine(RouterPolicy(), BreakerRegistry())
    targets = [Target("primary", "gpt-5", "gpt-5", 1, "http://127.0.0.1:9/v1", Secret("sk-bench-engine-0123456789"))]

    async def attempt(ta: TargetAttempt) -> int:
        return 1

    for _ in range(1000):
        await engine.run("gpt-5", targets, attempt)
    started = time.perf_counter()
    for _ in range(n):
        await engine.run("gpt-5", targets, attempt)
    return (time.perf_counter() - started) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=20_000, help="timed calls per round (20000)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the best is reported (3)")
    args = parser.parse_args()
    print(environment_line())
    results = [asyncio.run(measure(args.n)) for _ in range(args.rounds)]
    print(f"Engine.run, healthy target, no I/O: best {min(results):.1f} us, rounds "
          + ", ".join(f"{r:.1f}" for r in results) + f" us; {load_line()}")


if __name__ == "__main__":
    main()
