"""Benchmark 1: what TppcRouter adds to a healthy call.

All providers healthy. For each API (Responses and chat completions, each sync and
async) the same sequential request is timed through:

* ``direct``   the openai SDK straight to the simulated primary (no litellm at all);
* ``bare``     a bare ``litellm.Router(model_list=build_model_list(settings))`` with LiteLLM's
               defaults: the same deployments TppcRouter builds (the goal's baseline);
* ``bare0``    the same with ``num_retries=0, disable_cooldowns=True``: what each provider call
               of TppcRouter amounts to (it sends ``num_retries=0``, no fallbacks and
               ``cooldown_time=0`` per call), so ``tppc/bare0`` isolates the failover layer's own cost;
* ``tppc``     ``TppcRouter(settings)`` (failover engine, breaker, affinity, trackers on top of the
               wrapped ``litellm.Router``);
* ``ubare``    a group of the caller's own (``mine``, the primary's deployment under another name)
               on a bare ``litellm.Router`` that also holds the tppc deployments;
* ``utppc``    the same group through ``TppcRouter(settings, model_list=[mine])``: a group that is not
               tppc's goes to the wrapped router untouched, so ``utppc/ubare`` should be ~1.00x.

The simulators run in a child process (``bench/_common.py``), so the client code under
test does not share its GIL with the providers. The sync and the async callers each run
in a client process of their own (litellm's background logging worker is per process and
per loop; mixing sync and async callers in one process made both noisier). In a client
process all variants run interleaved in blocks (``--block`` requests each, round robin,
with a 50 ms pause after each block so litellm's background logging of one variant does
not land in the next one's timings), so drift on the machine hits all of them alike.

Besides p50/p95 over all samples it prints the client process's CPU time per request
(``time.process_time``, all threads, pauses included so background work is counted) and
the *paired* ratio: the median over rounds of
(median of the tppc block / median of the adjacent bare block), which cancels most of the
noise other work on the machine adds. Goal: tppc p50 <= 1.10x bare p50, and
utppc p50 <= 1.05x ubare p50 (the caller's own groups pay nothing).

    .venv/bin/python bench/bench_router_overhead.py            # ~1.5 min
    .venv/bin/python bench/bench_router_overhead.py --quick    # ~40 s
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    ANSWER_TEXT,
    BACKUP_KEY,
    PRIMARY_KEY,
    SimFleet,
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

GOAL_P50 = 1.10
GOAL_OWN_P50 = 1.05
MESSAGES = [{"role": "user", "content": "Say hello"}]
INPUT = "Say hello"
APIS = ("responses", "chat")
MODES = ("sync", "async")
VARIANTS = ("direct", "bare", "bare0", "tppc", "ubare", "utppc")


def measure(mode: str, urls: dict[str, str], n: int, warmup: int, block: int) -> dict[str, list[list[float]]]:
    """In this process: every API x variant for one mode, interleaved. Returns blocks of samples per
    ``api/variant`` (block i of every variant ran in the same round)."""
    litellm = quiet_litellm()
    import openai

    from tppc_router.config.deployments import build_model_list
    from tppc_router.routing.router import TppcRouter

    settings = load_tppc_settings(urls["primary"], urls["backup"])
    model_list = build_model_list(settings)
    tppc = TppcRouter(settings)
    bare = litellm.Router(model_list=model_list)
    mine = {"model_name": "mine", "litellm_params": dict(model_list[0]["litellm_params"])}
    ubare = litellm.Router(model_list=[mine, *model_list])
    utppc = TppcRouter(settings, model_list=[mine])
    bare0 = litellm.Router(model_list=model_list, num_retries=0, disable_cooldowns=True)
    wire = {"reasoning": {"effort": "high"}, "store": False}  # what the deployments add, sent directly
    chat_wire = {"reasoning_effort": "high", "store": False}
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

    calls: dict[str, Callable[[], Any]]
    if mode == "sync":
        client = openai.OpenAI(base_url=urls["primary"], api_key=PRIMARY_KEY)
        calls = {
            "responses/direct": lambda: client.responses.create(model="gpt-5", input=INPUT, **wire),
            "responses/bare": lambda: bare.responses(model="gpt-5", input=INPUT),
            "responses/bare0": lambda: bare0.responses(model="gpt-5", input=INPUT),
            "responses/tppc": lambda: tppc.responses(model="gpt-5", input=INPUT),
            "chat/direct": lambda: client.chat.completions.create(model="gpt-5", messages=MESSAGES, **chat_wire),
            "chat/bare": lambda: bare.completion(model="gpt-5", messages=MESSAGES),
            "chat/bare0": lambda: bare0.completion(model="gpt-5", messages=MESSAGES),
            "chat/tppc": lambda: tppc.completion(model="gpt-5", messages=MESSAGES),
            "responses/ubare": lambda: ubare.responses(model="mine", input=INPUT),
            "responses/utppc": lambda: utppc.responses(model="mine", input=INPUT),
            "chat/ubare": lambda: ubare.completion(model="mine", messages=MESSAGES),
            "chat/utppc": lambda: utppc.completion(model="mine", messages=MESSAGES),
        }
    else:
        aclient = openai.AsyncOpenAI(base_url=urls["primary"], api_key=PRIMARY_KEY)
        calls = {
            "responses/direct": lambda: aclient.responses.create(model="gpt-5", input=INPUT, **wire),
            "responses/bare": lambda: bare.aresponses(model="gpt-5", input=INPUT),
            "responses/bare0": lambda: bare0.aresponses(model="gpt-5", input=INPUT),
            "responses/tppc": lambda: tppc.aresponses(model="gpt-5", input=INPUT),
            "chat/direct": lambda: aclient.chat.completions.create(model="gpt-5", messages=MESSAGES, **chat_wire),
            "chat/bare": lambda: bare.acompletion(model="gpt-5", messages=MESSAGES),
            "chat/bare0": lambda: bare0.acompletion(model="gpt-5", messages=MESSAGES),
            "chat/tppc": lambda: tppc.acompletion(model="gpt-5", messages=MESSAGES),
            "responses/ubare": lambda: ubare.aresponses(model="mine", input=INPUT),
            "responses/utppc": lambda: utppc.aresponses(model="mine", input=INPUT),
            "chat/ubare": lambda: ubare.acompletion(model="mine", messages=MESSAGES),
            "chat/utppc": lambda: utppc.acompletion(model="mine", messages=MESSAGES),
        }

    def check(name: str, result: Any) -> None:
        text = result.output_text if name.startswith("responses/") else result.choices[0].message.content
        if text != ANSWER_TEXT:
            raise AssertionError(f"{name}: unexpected answer {result!r}")

    blocks: dict[str, list[list[float]]] = {name: [] for name in calls}
    cpu: dict[str, float] = {name: 0.0 for name in calls}  # process CPU seconds over the timed blocks

    async def run_async(name: str, count: int) -> list[float]:
        fn, out = calls[name], []
        for _ in range(count):
            started = time.perf_counter()
            result = await fn()
            out.append(time.perf_counter() - started)
            check(name, result)
        await asyncio.sleep(0.05)  # litellm's background logging of this block finishes here
        return out

    def run(name: str, count: int) -> list[float]:
        if mode == "async":
            return loop.run_until_complete(run_async(name, count))
        fn, out = calls[name], []
        for _ in range(count):
            started = time.perf_counter()
            result = fn()
            out.append(time.perf_counter() - started)
            check(name, result)
        time.sleep(0.05)
        return out

    for name in calls:
        run(name, warmup)
    # litellm's heap is large (a full collection takes ~0.5 s here): move what warm-up built out of
    # the collector's way once, so automatic collections during the timed blocks stay small for all.
    gc.collect()
    gc.freeze()
    done = 0
    while done < n:
        count = min(block, n - done)
        for name in calls:
            cpu_started = time.process_time()
            blocks[name].append(run(name, count))
            cpu[name] += time.process_time() - cpu_started
        done += count
    for name in calls:
        blocks[name].append([cpu[name] / n])  # the last "block" carries CPU seconds per request
    tppc.close()
    utppc.close()
    loop.close()
    return blocks


def paired_ratio(a: list[list[float]], b: list[list[float]]) -> float:
    """Median over rounds of median(a's block) / median(b's block)."""
    return statistics.median(statistics.median(x) / statistics.median(y) for x, y in zip(a, b, strict=True))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=400, help="timed requests per variant (default 400)")
    parser.add_argument("--warmup", type=int, default=30, help="untimed requests per variant first (default 30)")
    parser.add_argument("--block", type=int, default=10, help="requests per variant per round (default 10)")
    parser.add_argument("--quick", action="store_true", help="short run: --n 100 --warmup 10")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # MODE, run by the parent
    parser.add_argument("--urls", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.n, args.warmup = 100, 10
    if args.child:
        blocks = measure(args.child, json.loads(args.urls), args.n, args.warmup, args.block)
        print("BLOCKS " + json.dumps(blocks), flush=True)
        return 0

    fleet = SimFleet({"primary": {"api_key": PRIMARY_KEY, "text": ANSWER_TEXT},
                      "backup": {"api_key": BACKUP_KEY, "text": ANSWER_TEXT}})
    blocks: dict[str, list[list[float]]] = {}
    try:
        print(environment_line())
        print(f"requests per variant: {args.n} timed after {args.warmup} warm-up, interleaved in blocks of "
              f"{args.block}; sync and async callers in separate client processes; simulators in process "
              f"{fleet.pid}")
        started = time.monotonic()
        for mode in MODES:
            command = [sys.executable, str(Path(__file__).resolve()), "--child", mode, "--urls",
                       json.dumps(fleet.urls), "--n", str(args.n), "--warmup", str(args.warmup),
                       "--block", str(args.block)]
            done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True)
            line = next(x for x in reversed(done.stdout.splitlines()) if x.startswith("BLOCKS "))
            for name, values in json.loads(line[len("BLOCKS "):]).items():
                api, variant = name.split("/")
                blocks[f"{api}/{mode}/{variant}"] = values
        elapsed = time.monotonic() - started
        outcomes = fleet.outcomes("primary"), fleet.outcomes("backup")
    finally:
        fleet.close()

    cpu = {key: value.pop()[0] for key, value in blocks.items()}  # CPU seconds per request, client process

    def flat(key: str) -> list[float]:
        return [x for b in blocks[key] for x in b]

    header("Router overhead, all providers healthy (sequential, one caller)")
    rows = []
    for api in APIS:
        for mode in MODES:
            base = f"{api}/{mode}"
            direct, bare = summarize(flat(f"{base}/direct")), summarize(flat(f"{base}/bare"))
            for variant in VARIANTS:
                s = summarize(flat(f"{base}/{variant}"))
                key = f"{base}/{variant}"
                rows.append([key, int(s["n"]), ms(s["p50"]), ms(s["p95"]), ms(s["mean"]),
                             fmt_ratio(ratio(s["p50"], bare["p50"])), fmt_ratio(ratio(s["p95"], bare["p95"])),
                             fmt_ratio(ratio(s["p50"], direct["p50"])), ms(cpu[key]),
                             fmt_ratio(ratio(cpu[key], cpu[f"{base}/bare"]))])
    print_table(["variant", "n", "p50 ms", "p95 ms", "mean ms", "p50/bare", "p95/bare", "p50/direct", "cpu ms/req",
                 "cpu/bare"], rows)
    print("cpu ms/req: CPU time of the whole client process (all threads, incl. litellm's background logging)")
    print("            per request; it does not count time spent waiting for other processes to get off the CPU")

    header(f"Verdict (goal: tppc p50 <= {GOAL_P50:.2f}x bare litellm.Router p50)")
    verdict_rows = []
    met_all = True
    for api in APIS:
        for mode in MODES:
            base = f"{api}/{mode}"
            bare, bare0 = summarize(flat(f"{base}/bare")), summarize(flat(f"{base}/bare0"))
            tppc = summarize(flat(f"{base}/tppc"))
            r50 = ratio(tppc["p50"], bare["p50"])
            paired = paired_ratio(blocks[f"{base}/tppc"], blocks[f"{base}/bare"])
            met = r50 <= GOAL_P50
            met_all &= met
            verdict_rows.append([
                base, fmt_ratio(r50), fmt_ratio(paired), fmt_ratio(ratio(tppc["p95"], bare["p95"])),
                f"{(tppc['p50'] - bare['p50']) * 1000:+.3f}", "met" if met else "MISSED",
                fmt_ratio(ratio(tppc["p50"], bare0["p50"])),
                fmt_ratio(paired_ratio(blocks[f"{base}/tppc"], blocks[f"{base}/bare0"])),
            ])
    print_table(["api", "p50 tppc/bare", "paired", "p95 tppc/bare", "p50 added ms", "goal", "p50 tppc/bare0",
                 "paired"], verdict_rows)
    own_rows = []
    for api in APIS:
        for mode in MODES:
            base = f"{api}/{mode}"
            ubare, utppc = summarize(flat(f"{base}/ubare")), summarize(flat(f"{base}/utppc"))
            r50 = ratio(utppc["p50"], ubare["p50"])
            met = r50 <= GOAL_OWN_P50
            met_all &= met
            own_rows.append([base, fmt_ratio(r50), fmt_ratio(paired_ratio(blocks[f"{base}/utppc"],
                                                                           blocks[f"{base}/ubare"])),
                             f"{(utppc['p50'] - ubare['p50']) * 1000:+.3f}", "met" if met else "MISSED"])
    print(f"\nThe caller's own group (goal: utppc p50 <= {GOAL_OWN_P50:.2f}x ubare p50)")
    print_table(["api", "p50 utppc/ubare", "paired", "p50 added ms", "goal"], own_rows)
    print("bare  = litellm.Router(model_list) with LiteLLM defaults (the goal's baseline)")
    print("bare0 = litellm.Router(model_list, num_retries=0, disable_cooldowns=True): what each TppcRouter")
    print("        provider call amounts to, so tppc/bare0 is the cost of the failover layer itself")
    print("ubare/utppc = a group of the caller's own on a bare litellm.Router / through TppcRouter")
    print("paired = median over rounds of the ratio of adjacent block medians (robust to machine noise)")
    print(f"\nwall time {elapsed:.1f} s; {load_line()}; simulator outcomes primary={outcomes[0]} "
          f"backup={outcomes[1]}")
    return 0 if met_all else 1


if __name__ == "__main__":
    sys.exit(main())
