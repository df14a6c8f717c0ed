"""Benchmark 3: a silent primary. How long until the caller has an answer from the backup?

The primary accepts the connection, reads the request and then says nothing, ever
(simulator fault ``no-response``); the backup is healthy. Every sample uses a fresh router
(warmed up on the pinned backup group first), so each one meets the silent primary with a
closed breaker / no cooldown: the time measured is the discovery cost a caller pays.

Cases:

* ``tppc stream``               ``TppcRouter`` with ``router.first-byte-timeout: --fbt`` (2 s),
                                ``aresponses(stream=True)``, no per-request timeout;
* ``tppc non-stream timeout``   the same router, ``aresponses(timeout=--fbt)`` (first-byte-timeout
                                guards streams; a non-streaming call is bounded by ``timeout``);
* ``tppc non-stream``           no ``timeout``: bounded only by ``router.timeout`` (600 s default);
* ``litellm ... timeout``       ``litellm.Router(model_list=...)`` with LiteLLM defaults, with the same
                                per-request ``timeout=--fbt``, streaming and not;
* ``litellm ...``               LiteLLM defaults and no timeout at all (its default request timeout
                                is 6000 s): we stop waiting after ``--cap`` seconds and report ">cap".

The capped cases run concurrently in the background while the others are measured one
after another, so the whole run takes about ``--cap`` seconds plus a little.
Goal: tppc time to an answer <= first-byte-timeout + 1 s. Simulators run in a child process.

    .venv/bin/python bench/bench_silent_primary.py            # ~2.5 min (cap 120 s)
    .venv/bin/python bench/bench_silent_primary.py --quick    # ~45 s (cap 30 s, 1 sample)
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    ANSWER_TEXT,
    BACKUP_KEY,
    PRIMARY_KEY,
    SimFleet,
    environment_line,
    header,
    load_line,
    load_tppc_settings,
    print_table,
    quiet_litellm,
)

INPUT = "Say hello"


@dataclass
class Case:
    name: str
    router_kind: str  # tppc | litellm
    stream: bool
    timeout: float | None
    capped: bool = False
    totals: list[float] = field(default_factory=list)  # seconds to the whole answer
    firsts: list[float] = field(default_factory=list)  # seconds to the first text delta (streams)
    outcomes: list[str] = field(default_factory=list)  # "backup", ">cap", or an error
    primary_hits: list[int] = field(default_factory=list)  # requests the silent primary got, per sample


def fmt_s(values: list[float]) -> str:
    if not values:
        return "-"
    values = sorted(values)
    mid = values[len(values) // 2]
    return f"{mid:.3f}" if len(values) == 1 else f"{mid:.3f} (max {values[-1]:.3f})"


async def ask(router: Any, case: Case, model: str = "gpt-5") -> tuple[float, float | None, str]:
    """One request: (seconds to the whole answer, seconds to first text delta, who answered)."""
    kwargs: dict[str, Any] = {} if case.timeout is None else {"timeout": case.timeout}
    started = time.perf_counter()
    if not case.stream:
        result = await router.aresponses(model=model, input=INPUT, **kwargs)
        total = time.perf_counter() - started
        who = "backup" if result.output_text == ANSWER_TEXT else f"wrong answer {result.output_text!r}"
        return total, None, who
    stream = await router.aresponses(model=model, input=INPUT, stream=True, **kwargs)
    first: float | None = None
    text: list[str] = []
    completed = False
    async for event in stream:
        kind = getattr(event, "type", None)
        if kind == "response.output_text.delta":
            if first is None:
                first = time.perf_counter() - started
            text.append(event.delta)
        elif kind == "response.completed":
            completed = True
    total = time.perf_counter() - started
    who = "backup" if completed and "".join(text) == ANSWER_TEXT else f"incomplete ({''.join(text)!r})"
    return total, first, who


async def sample(case: Case, build: Any, cap: float, fleet: SimFleet | None = None) -> None:
    router = build(case.router_kind)
    try:
        await ask(router, Case("warm", case.router_kind, case.stream, None), model="backup/gpt-5")
        before = sum(fleet.outcomes("primary", clear=False).values()) if fleet is not None else 0
        started = time.perf_counter()
        try:
            total, first, who = await asyncio.wait_for(ask(router, case), cap)
        except Exception as exc:  # noqa: BLE001 - reported
            elapsed = time.perf_counter() - started
            if isinstance(exc, TimeoutError) and elapsed >= cap - 0.01:
                case.outcomes.append(f">{cap:g} s")
            else:
                case.outcomes.append(f"error after {elapsed:.2f} s: {type(exc).__name__}: {str(exc)[:100]}")
            return
        case.totals.append(total)
        if fleet is not None:
            case.primary_hits.append(sum(fleet.outcomes("primary", clear=False).values()) - before)
        if first is not None:
            case.firsts.append(first)
        case.outcomes.append(who)
        if case.router_kind == "tppc":  # once the breaker is open, the next request does not wait
            started = time.perf_counter()
            await ask(router, case)
            case.outcomes.append(f"next {time.perf_counter() - started:.3f}")
    finally:
        close = getattr(router, "close", None)
        if callable(close):
            close()


async def run(args: argparse.Namespace, fleet: SimFleet) -> list[Case]:
    litellm = quiet_litellm()
    from tppc_router.config.deployments import build_model_list
    from tppc_router.routing.router import TppcRouter

    settings = load_tppc_settings(fleet.url("primary"), fleet.url("backup"), {"first-byte-timeout": args.fbt})

    def build(kind: str) -> Any:
        if kind == "tppc":
            return TppcRouter(settings)
        return litellm.Router(model_list=build_model_list(settings))

    measured = [
        Case("tppc stream (first-byte-timeout)", "tppc", True, None),
        Case(f"tppc non-stream timeout={args.fbt:g}", "tppc", False, args.fbt),
        Case(f"litellm stream timeout={args.fbt:g}", "litellm", True, args.fbt),
        Case(f"litellm non-stream timeout={args.fbt:g}", "litellm", False, args.fbt),
    ]
    capped = [
        Case("tppc non-stream, no timeout", "tppc", False, None, capped=True),
        Case("litellm stream, defaults", "litellm", True, None, capped=True),
        Case("litellm non-stream, defaults", "litellm", False, None, capped=True),
    ]
    background = [asyncio.create_task(sample(case, build, args.cap)) for case in capped]
    # Let the capped cases reach the primary before measuring, so their requests are not
    # counted in a measured sample's "primary tries".
    waited = time.monotonic()
    while sum(fleet.outcomes("primary", clear=False).values()) < len(capped) and time.monotonic() - waited < 60:
        await asyncio.sleep(0.2)
    for _ in range(args.samples):
        for case in measured:
            await sample(case, build, args.cap, fleet)
    await asyncio.gather(*background)
    return measured + capped


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fbt", type=float, default=2.0, help="first-byte-timeout and per-request timeout (2 s)")
    parser.add_argument("--samples", type=int, default=3, help="fresh-router samples per measured case (3)")
    parser.add_argument("--cap", type=float, default=120.0, help="stop waiting after this many seconds (120)")
    parser.add_argument("--quick", action="store_true", help="short run: --samples 1 --cap 30")
    args = parser.parse_args()
    if args.quick:
        args.samples, args.cap = 1, 30.0

    fleet = SimFleet({
        "primary": {"api_key": PRIMARY_KEY, "text": "primary answer", "faults": ["no-response"]},
        "backup": {"api_key": BACKUP_KEY, "text": ANSWER_TEXT},
    })
    print(environment_line())
    print(f"primary: no-response (silent forever); backup healthy; first-byte-timeout {args.fbt:g} s; "
          f"{args.samples} sample(s) per case; cap {args.cap:g} s; simulators in process {fleet.pid}")
    started = time.monotonic()
    try:
        loop = asyncio.new_event_loop()
        cases = loop.run_until_complete(run(args, fleet))
        loop.close()
        hits = fleet.outcomes("primary", clear=False), fleet.outcomes("backup", clear=False)
    finally:
        fleet.close()
    elapsed = time.monotonic() - started

    header("Silent primary: time until the caller has the whole answer from the backup")
    goal = args.fbt + 1.0
    rows = []
    met_all = True
    for case in cases:
        answered = [o for o in case.outcomes if not o.startswith("next ")]
        nexts = [o[5:] for o in case.outcomes if o.startswith("next ")]
        verdict = ""
        if case.router_kind == "tppc" and not case.capped:
            met = len(case.totals) == len(answered) and bool(case.totals) and max(case.totals) <= goal
            met_all &= met
            verdict = "met" if met else "MISSED"
        rows.append([case.name, len(answered), fmt_s(case.totals) if case.totals else answered[0],
                     fmt_s(case.firsts), "; ".join(sorted(set(answered))),
                     ",".join(map(str, case.primary_hits)) or "-", ", ".join(nexts) or "-", verdict])
    print_table(["case", "n", "answer s (median)", "first delta s", "outcome", "primary tries", "next request s",
                 f"goal <= {goal:g} s"], rows)
    print("primary tries: requests the silent primary received during each sample (measured cases only)")
    print("next request s: the request right after, on the same router (tppc: primary's breaker now open)")
    print(f"requests received in all: primary {hits[0]}, backup {hits[1]} (incl. warm-ups on the pinned backup "
          "group)")
    print(f"\nwall time {elapsed:.1f} s; {load_line()}")
    return 0 if met_all else 1


if __name__ == "__main__":
    sys.exit(main())
