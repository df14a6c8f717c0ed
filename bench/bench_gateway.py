"""Benchmark 4: the tppc-router gateway against the LiteLLM proxy (its real peer).

Processes (so client, gateways and providers do not share one GIL):

* the simulated providers ``primary`` and ``backup``: one child process (``bench/_common.py``);
* our gateway: ``.venv/bin/tppc-router serve -c CFG --port P --log-level warning``;
* the LiteLLM proxy, same litellm version, from its own venv ``bench/.venv-proxy`` (created here
  on first use; not a runtime dependency): ``litellm --config CFG --port P --num_workers 1`` with the
  same two deployments as one group (``order`` 1 and 2), a master key, LiteLLM defaults otherwise,
  access log off (as ours at ``--log-level warning``);
* the client: this process (httpx).

(a) Added latency on ``POST /v1/responses``: one client, sequential, streaming (read to the
    end) and not, through each gateway and straight to the simulator; interleaved in blocks.
    Added = p50(gateway) - p50(direct). Goal for ours: <= 1.5 ms.
(b) Soak: ``--clients`` (64) concurrent streaming clients for ``--duration`` (60) seconds; the
    primary faults on 30% of requests (6% each: HTTP 500, HTTP 429, TCP reset, stream cut after
    content started, one malformed event), the backup on 5% (1% each). Every request is
    classified: *whole* (``response.completed`` and the full text), *clean error* (an HTTP error
    status, or an ``error``/``response.failed`` event), or *lost* (anything else: the stream
    ended or the connection dropped with no terminal event and no error, a wrong text, or no
    byte for ``--hang`` seconds). Lost must be 0. Also throughput, the gateway's CPU per
    request and its RSS (``/proc/PID/status`` VmRSS) over the soak. The gateways are soaked one
    after the other, never at the same time. (b0) first runs the same load with no faults for
    ``--control-duration`` seconds: the machine's ceiling, to read (b) against.

    .venv/bin/python bench/bench_gateway.py                 # ~3.5 min (+ proxy venv on first run)
    .venv/bin/python bench/bench_gateway.py --quick         # ~1 min
    .venv/bin/python bench/bench_gateway.py --no-proxy      # our gateway only
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    ANSWER_TEXT,
    BACKUP_KEY,
    BENCH_DIR,
    PRIMARY_KEY,
    ROOT,
    SimFleet,
    environment_line,
    free_port,
    header,
    load_line,
    ms,
    print_table,
    stop_process,
    summarize,
    tppc_yaml,
    tree_cpu_seconds,
    tree_rss_kb,
    wait_for_port,
)

LITELLM_VERSION = "1.110.2"
PROXY_VENV = BENCH_DIR / ".venv-proxy"
PROXY_MARKER = PROXY_VENV / "bench-install.json"
GATEWAY_KEY = "sk-bench-gateway-0123456789abcdef"
PROXY_MASTER_KEY = "sk-bench-proxy-0123456789abcdef0123456789abcdef"
GOAL_ADDED_MS = 1.5
INPUT = "Say hello"
# Unresolvable pins of litellm[proxy]==1.110.2 on the registry this was written against.
PROXY_PINNED_EXTRAS = ("litellm-proxy", "litellm-proxy-extras", "litellm-enterprise")


def fault_mix(total: float, kinds: list[str]) -> list[str]:
    """Faults tried in order, each firing with probability ``total/len(kinds)`` overall.

    The simulator tries faults in order and each fires with its own ``p``; the i-th fault only
    gets a chance when none before it fired, so its ``p`` is q / (1 - i*q)."""
    q = total / len(kinds)
    return [f"{kind},p={q / (1 - i * q):.6f}" for i, kind in enumerate(kinds)]


# cut-after:6 = 4 preamble events + 2 text deltas: the cut comes after content reached the client.
# malformed:5 = one invalid-JSON event after the first text delta.
FAULT_KINDS = ["status:500", "status:429", "reset", "cut-after:6", "malformed:5"]


# --------------------------------------------------------------------------- the LiteLLM proxy venv


def _run(cmd: list[str], timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=timeout)


def ensure_proxy_venv(log: list[str]) -> Path | None:
    """``bench/.venv-proxy`` with ``litellm[proxy]==1.110.2``; the path of its ``litellm`` script, or None.

    If ``pip install 'litellm[proxy]==1.110.2'`` fails (some of its pins may be missing from the
    registry), installs ``litellm==1.110.2`` plus every requirement of its ``proxy`` extra except
    those pins, and says so. The outcome is kept in ``bench-install.json``.
    """
    py = PROXY_VENV / "bin" / "python"
    script = PROXY_VENV / "bin" / "litellm"
    if PROXY_MARKER.exists() and script.exists():
        marker = json.loads(PROXY_MARKER.read_text())
        log.extend(marker.get("log", []))
        return script if marker.get("ok") else None
    entries: list[str] = []
    ok = False
    try:
        if not py.exists():
            made = _run([sys.executable, "-m", "venv", str(PROXY_VENV)])
            if made.returncode:
                made = _run(["python3", "-m", "venv", str(PROXY_VENV)])
            if made.returncode:
                raise RuntimeError(f"python -m venv failed: {made.stderr.strip()[-300:]}")
        strict = _run([str(py), "-m", "pip", "install", "-q", f"litellm[proxy]=={LITELLM_VERSION}"])
        if strict.returncode == 0:
            entries.append(f"installed litellm[proxy]=={LITELLM_VERSION}")
        else:
            errors = [x for x in strict.stderr.splitlines() if x.startswith("ERROR")]
            entries.append(f"pip install 'litellm[proxy]=={LITELLM_VERSION}' failed: " + " / ".join(errors[-2:]))
            base = _run([str(py), "-m", "pip", "install", "-q", f"litellm=={LITELLM_VERSION}"])
            if base.returncode:
                raise RuntimeError(f"pip install litellm=={LITELLM_VERSION} failed: {base.stderr.strip()[-300:]}")
            listing = _run([str(py), "-c", _PROXY_REQS, *PROXY_PINNED_EXTRAS])
            reqs = [x for x in listing.stdout.splitlines() if x.strip()]
            extra = _run([str(py), "-m", "pip", "install", "-q", *reqs])
            if extra.returncode:
                raise RuntimeError(f"installing the proxy extra's requirements failed: {extra.stderr.strip()[-300:]}")
            entries.append(f"fallback: litellm=={LITELLM_VERSION} + its [proxy] requirements without "
                           f"{', '.join(PROXY_PINNED_EXTRAS)} ({len(reqs)} packages); the proxy code ships in "
                           "the litellm wheel itself")
        version = _run([str(py), "-c", "import importlib.metadata as m; print(m.version('litellm'))"]).stdout.strip()
        if version != LITELLM_VERSION:
            raise RuntimeError(f"the proxy venv has litellm {version!r}, not {LITELLM_VERSION}")
        ok = True
    except Exception as exc:  # noqa: BLE001 - reported; our side still runs
        entries.append(f"LiteLLM proxy unavailable: {exc}")
    PROXY_MARKER.parent.mkdir(parents=True, exist_ok=True)
    PROXY_MARKER.write_text(json.dumps({"ok": ok, "log": entries}, indent=1))
    log.extend(entries)
    return script if ok else None


_PROXY_REQS = """
import sys
from importlib.metadata import requires
from packaging.requirements import Requirement
skip = set(sys.argv[1:])
for text in requires("litellm") or []:
    req = Requirement(text)
    if req.marker is None or req.name in skip:
        continue
    if req.marker.evaluate({"extra": "proxy"}) and not req.marker.evaluate({"extra": ""}):
        print(str(req).split(";")[0].strip())
"""


# --------------------------------------------------------------------------- gateways


@dataclass
class Gateway:
    name: str
    url: str  # base, ending in /v1
    key: str
    proc: subprocess.Popen[Any]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.proc.pid


def start_ours(workdir: Path, fleet: SimFleet) -> Gateway:
    port = free_port()
    cfg = workdir / "tppc.yaml"
    cfg.write_text(tppc_yaml(fleet.url("primary"), fleet.url("backup"), server={"api-keys": [GATEWAY_KEY]}))
    log_path = workdir / "tppc-gateway.log"
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    env.pop("TPPC_CONFIG", None)
    proc = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "tppc-router"), "serve", "-c", str(cfg), "--host", "127.0.0.1", "--port",
         str(port), "--log-level", "warning"],
        stdout=log_path.open("w"), stderr=subprocess.STDOUT, start_new_session=True, env=env, cwd=str(workdir),
    )
    wait_for_port(port, 90, proc)
    return Gateway("tppc", f"http://127.0.0.1:{port}/v1", GATEWAY_KEY, proc, log_path)


def proxy_config(fleet: SimFleet) -> str:
    """The LiteLLM proxy config: the deployments ``build_model_list`` makes for group gpt-5."""
    from tppc_router.config.deployments import build_model_list
    from tppc_router.config.loader import load_settings

    settings = load_settings(text=tppc_yaml(fleet.url("primary"), fleet.url("backup")))
    entries = [{"model_name": d["model_name"], "litellm_params": d["litellm_params"]}
               for d in build_model_list(settings) if d["model_name"] == "gpt-5"]
    config = {"model_list": entries, "general_settings": {"master_key": PROXY_MASTER_KEY}}
    return json.dumps(config, indent=1)  # JSON is YAML


_PROXY_LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(name)s %(levelname)s %(message)s"}},
    "handlers": {"err": {"class": "logging.StreamHandler", "formatter": "plain", "stream": "ext://sys.stderr"}},
    "loggers": {
        "uvicorn": {"handlers": ["err"], "level": "WARNING", "propagate": False},
        "uvicorn.error": {"handlers": ["err"], "level": "WARNING", "propagate": False},
        "uvicorn.access": {"handlers": ["err"], "level": "WARNING", "propagate": False},
    },
    "root": {"handlers": ["err"], "level": "WARNING"},
}


def start_proxy(workdir: Path, fleet: SimFleet, script: Path) -> Gateway:
    port = free_port()
    cfg = workdir / "litellm-proxy.yaml"
    cfg.write_text(proxy_config(fleet))
    log_cfg = workdir / "litellm-proxy-logging.json"
    log_cfg.write_text(json.dumps(_PROXY_LOGGING))
    log_path = workdir / "litellm-proxy.log"
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR"}
    proc = subprocess.Popen(
        [str(script), "--config", str(cfg), "--host", "127.0.0.1", "--port", str(port), "--num_workers", "1",
         "--log_config", str(log_cfg)],
        stdout=log_path.open("w"), stderr=subprocess.STDOUT, start_new_session=True, env=env, cwd=str(workdir),
    )
    wait_for_port(port, 180, proc)
    return Gateway("litellm-proxy", f"http://127.0.0.1:{port}/v1", PROXY_MASTER_KEY, proc, log_path)


# --------------------------------------------------------------------------- (a) added latency


def latency(args: argparse.Namespace, fleet: SimFleet,
            gateways: list[Gateway]) -> tuple[dict[str, list[float]], dict[str, float]]:
    """Samples per ``target/mode``, and the gateway process's CPU seconds per request per ``target/mode``."""
    import httpx

    targets = [("direct", fleet.url("primary"), PRIMARY_KEY, {"reasoning": {"effort": "high"}, "store": False})]
    targets += [(g.name, g.url, g.key, {}) for g in gateways]
    pids = {g.name: g.pid for g in gateways}
    samples: dict[str, list[float]] = {}
    cpu: dict[str, float] = {}
    with httpx.Client(timeout=httpx.Timeout(30.0)) as client:

        def once(base: str, key: str, extra: dict[str, Any], stream: bool) -> float:
            body = {"model": "gpt-5", "input": INPUT, **extra, **({"stream": True} if stream else {})}
            headers = {"authorization": f"Bearer {key}"}
            started = time.perf_counter()
            if stream:
                with client.stream("POST", base + "/responses", json=body, headers=headers) as response:
                    data = b"".join(response.iter_bytes())
                elapsed = time.perf_counter() - started
                ok = response.status_code == 200 and b"response.completed" in data
            else:
                response = client.post(base + "/responses", json=body, headers=headers)
                elapsed = time.perf_counter() - started
                data = response.content
                ok = response.status_code == 200
            if not ok or ANSWER_TEXT.encode() not in data:
                raise RuntimeError(f"{base}: bad answer {response.status_code} {data[:300]!r}")
            return elapsed

        for stream in (False, True):
            for _name, base, key, extra in targets:
                for _ in range(args.warmup):
                    once(base, key, extra, stream)
        done = 0
        while done < args.n:
            count = min(args.block, args.n - done)
            for stream in (False, True):
                for name, base, key, extra in targets:
                    key_name = f"{name}/{'stream' if stream else 'non-stream'}"
                    values = samples.setdefault(key_name, [])
                    cpu_before = tree_cpu_seconds(pids[name]) if name in pids else 0.0
                    for _ in range(count):
                        values.append(once(base, key, extra, stream))
                    time.sleep(0.02)
                    if name in pids:
                        cpu[key_name] = cpu.get(key_name, 0.0) + tree_cpu_seconds(pids[name]) - cpu_before
            done += count
    return samples, {k: v / args.n for k, v in cpu.items()}


# --------------------------------------------------------------------------- (b) soak


@dataclass
class SoakResult:
    whole: int = 0
    http_error: int = 0
    error_event: int = 0
    lost: int = 0
    lost_before_response: int = 0  # of ``lost``: the connection failed before any response byte (no HTTP status)
    lost_examples: list[str] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    duration: float = 0.0
    rss: list[tuple[float, int]] = field(default_factory=list)  # (seconds into the soak, kB)
    cpu_s: float = 0.0
    client_cpu_s: float = 0.0  # this (load generating) process
    sims_cpu_s: float = 0.0  # the simulator process
    provider_hits: dict[str, dict[str, int]] = field(default_factory=dict)  # sim -> outcome -> requests
    started: float = field(default_factory=time.monotonic)

    @property
    def total(self) -> int:
        return self.whole + self.http_error + self.error_event + self.lost

    def lose(self, what: str) -> None:
        self.lost += 1
        if len(self.lost_examples) < 5:
            self.lost_examples.append(what)


async def one_stream(client: Any, gateway: Gateway, result: SoakResult, hang: float) -> None:
    import httpx

    body = {"model": "gpt-5", "input": INPUT, "stream": True}
    headers = {"authorization": f"Bearer {gateway.key}"}
    started = time.perf_counter()
    text: list[str] = []
    completed_text: str | None = None
    terminal: str | None = None
    events = 0
    status: int | None = None

    def where() -> str:
        return (f"at {time.monotonic() - result.started:.1f} s into the run, {time.perf_counter() - started:.3f} s "
                f"into the request, HTTP {status}, {events} events received")

    try:
        async with client.stream("POST", gateway.url + "/responses", json=body, headers=headers) as response:
            status = response.status_code
            if response.status_code >= 400:
                await response.aread()
                result.http_error += 1
                result.statuses[response.status_code] = result.statuses.get(response.status_code, 0) + 1
                return
            data_lines: list[str] = []
            async for line in response.aiter_lines():
                if line.startswith("data:"):
                    data_lines.append(line[5:].strip())
                    continue
                if line or not data_lines:
                    continue
                data, data_lines = "\n".join(data_lines), []
                events += 1
                if data == "[DONE]":
                    continue
                try:
                    event = json.loads(data)
                except ValueError:
                    continue  # an invalid event passed through; judged by the outcome
                kind = event.get("type") if isinstance(event, dict) else None
                if kind == "response.output_text.delta":
                    text.append(str(event.get("delta", "")))
                elif kind in ("error", "response.failed"):
                    terminal = terminal or kind
                elif kind == "response.completed":
                    terminal = terminal or kind
                    completed_text = _output_text(event.get("response") or {})
    except httpx.ReadTimeout:
        result.lose(f"hung: no byte for {hang:g} s ({where()})")
        return
    except (httpx.HTTPError, OSError) as exc:
        if terminal in ("error", "response.failed"):
            result.error_event += 1
        else:
            cause = exc.__cause__ or exc.__context__
            if status is None:
                result.lost_before_response += 1
            result.lose(f"connection dropped without a terminal event: {type(exc).__name__}: {exc} "
                        f"(cause {cause!r}; {where()})")
        return
    if terminal in ("error", "response.failed"):
        result.error_event += 1
    elif terminal == "response.completed" and "".join(text) == ANSWER_TEXT and completed_text in (None, ANSWER_TEXT):
        result.whole += 1
        result.latencies.append(time.perf_counter() - started)
    elif terminal == "response.completed":
        result.lose(f"completed with wrong text: deltas {''.join(text)!r} final {completed_text!r} ({where()})")
    else:
        result.lose(f"stream ended with no terminal event after {len(''.join(text))} chars ({where()})")


def _output_text(response: dict[str, Any]) -> str | None:
    parts = [c.get("text", "") for item in response.get("output") or [] if isinstance(item, dict)
             for c in item.get("content") or [] if isinstance(c, dict) and c.get("type") == "output_text"]
    return "".join(parts) if parts else None


async def soak(gateway: Gateway, fleet: SimFleet, clients: int, duration: float, hang: float,
               keepalive_expiry: float = 5.0) -> SoakResult:
    import httpx

    result = SoakResult()
    limits = httpx.Limits(max_connections=clients * 2, max_keepalive_connections=clients,
                          keepalive_expiry=keepalive_expiry)
    timeout = httpx.Timeout(connect=10.0, read=hang, write=10.0, pool=hang)
    async with httpx.AsyncClient(limits=limits, timeout=timeout) as client:
        stop_at = time.monotonic() + duration

        async def worker() -> None:
            while time.monotonic() < stop_at:
                await one_stream(client, gateway, result, hang)

        def count_provider_requests() -> None:  # the simulators keep only their latest requests: drain often
            for sim in ("primary", "backup"):
                hits = result.provider_hits.setdefault(sim, {})
                for outcome, number in fleet.outcomes(sim).items():
                    hits[outcome] = hits.get(outcome, 0) + number

        async def sampler(started: float) -> None:
            while True:
                result.rss.append((time.monotonic() - started, tree_rss_kb(gateway.pid)))
                count_provider_requests()
                await asyncio.sleep(2.0)

        started = result.started = time.monotonic()
        cpu_before = tree_cpu_seconds(gateway.pid), time.process_time(), tree_cpu_seconds(fleet.pid)
        sampling = asyncio.create_task(sampler(started))
        await asyncio.gather(*(worker() for _ in range(clients)))
        result.duration = time.monotonic() - started
        result.cpu_s = tree_cpu_seconds(gateway.pid) - cpu_before[0]
        result.client_cpu_s = time.process_time() - cpu_before[1]
        result.sims_cpu_s = tree_cpu_seconds(fleet.pid) - cpu_before[2]
        sampling.cancel()
        await asyncio.sleep(1.0)
        result.rss.append((time.monotonic() - started, tree_rss_kb(gateway.pid)))
        count_provider_requests()
    return result


def run_soak(g: Gateway, fleet: SimFleet, args: argparse.Namespace, duration: float) -> SoakResult:
    fleet.outcomes("primary")
    fleet.outcomes("backup")
    loop = asyncio.new_event_loop()
    try:
        result = loop.run_until_complete(soak(g, fleet, args.clients, duration, args.hang, args.keepalive_expiry))
    finally:
        loop.close()
    if g.proc.poll() is not None:
        print(f"{g.name} exited during the soak with {g.proc.returncode}")
    time.sleep(2.0)
    return result


def print_soak(results: dict[str, SoakResult]) -> None:
    rows = []
    for name, r in results.items():
        rss0, rss_peak, rss_end = r.rss[0][1], max(kb for _, kb in r.rss), r.rss[-1][1]
        lat = summarize(r.latencies)
        rows.append([name, r.total, r.whole, r.http_error, r.error_event, f"{r.lost} ({r.lost_before_response})",
                     f"{r.total / r.duration:.1f}", f"{r.whole / r.duration:.1f}", ms(lat["p50"]),
                     ms(lat["p95"]), f"{r.cpu_s / max(1, r.total) * 1000:.2f}",
                     f"{rss0 / 1024:.0f}", f"{rss_peak / 1024:.0f}", f"{rss_end / 1024:.0f}",
                     f"{(rss_end - rss0) / 1024:+.1f}"])
    print_table(["gateway", "requests", "whole", "http err", "err event", "LOST (pre-resp)", "req/s", "whole/s",
                 "p50 ms", "p95 ms", "cpu ms/req", "rss start MB", "rss peak MB", "rss end MB",
                 "rss growth MB"], rows)
    print("p50/p95: time to the end of a whole stream; cpu ms/req: the gateway process's CPU seconds over "
          "the soak / requests")
    print("LOST (pre-resp): lost requests, and in brackets those whose connection failed before any response byte "
          "(a reused keep-alive connection reset: see docs/benchmarks.md)")
    cores = os.cpu_count() or 1
    for name, r in results.items():
        print(f"{name}: CPU seconds: gateway {r.cpu_s:.1f}, client {r.client_cpu_s:.1f}, simulators "
              f"{r.sims_cpu_s:.1f} (of {cores * r.duration:.0f} core-seconds on {cores} cores)")
        print(f"{name}: HTTP error statuses {dict(sorted(r.statuses.items()))}; requests the providers got, "
              f"by outcome: primary {r.provider_hits.get('primary')} backup {r.provider_hits.get('backup')}")
        for example in r.lost_examples:
            print(f"  lost: {example}")


def warm(gateway: Gateway, n: int = 20) -> None:
    import httpx

    with httpx.Client(timeout=30) as client:
        for i in range(n):
            body = {"model": "gpt-5", "input": INPUT, "stream": bool(i % 2)}
            response = client.post(gateway.url + "/responses", json=body,
                                   headers={"authorization": f"Bearer {gateway.key}"})
            response.raise_for_status()


# --------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=300, help="(a) timed requests per variant (300)")
    parser.add_argument("--warmup", type=int, default=20, help="(a) warm-up requests per variant (20)")
    parser.add_argument("--block", type=int, default=20, help="(a) requests per variant per round (20)")
    parser.add_argument("--clients", type=int, default=64, help="(b) concurrent streaming clients (64)")
    parser.add_argument("--duration", type=float, default=60.0, help="(b) soak seconds per gateway (60; 0 skips)")
    parser.add_argument("--hang", type=float, default=30.0, help="(b) no byte for this long = hung (30 s)")
    parser.add_argument("--control-duration", type=float, default=10.0,
                        help="(b0) seconds of the same load with no faults first, per gateway (10; 0 skips)")
    parser.add_argument("--keepalive-expiry", type=float, default=5.0,
                        help="(b) the load client's idle keep-alive expiry (httpx default 5 s, as uvicorn's "
                             "server-side keep-alive timeout)")
    parser.add_argument("--no-proxy", action="store_true", help="skip the LiteLLM proxy")
    parser.add_argument("--skip-latency", action="store_true", help="only the soak")
    parser.add_argument("--skip-soak", action="store_true", help="only the added latency")
    parser.add_argument("--quick", action="store_true", help="short run: --n 60 --duration 10 --control-duration 5")
    args = parser.parse_args()
    if args.quick:
        args.n, args.warmup, args.duration, args.control_duration = 60, 10, 10.0, 5.0

    print(environment_line())
    install_log: list[str] = []
    script = None if args.no_proxy else ensure_proxy_venv(install_log)
    for line in install_log:
        print(f"proxy venv: {line}")

    primary_faults = fault_mix(0.30, FAULT_KINDS)
    backup_faults = fault_mix(0.05, FAULT_KINDS)
    fleet = SimFleet({"primary": {"api_key": PRIMARY_KEY, "text": ANSWER_TEXT, "seed": 1, "max_requests": 20000},
                      "backup": {"api_key": BACKUP_KEY, "text": ANSWER_TEXT, "seed": 2, "max_requests": 20000}})
    workdir = Path(tempfile.mkdtemp(prefix="bench-gateway-"))
    gateways: list[Gateway] = []
    status = 0
    try:
        ours = start_ours(workdir, fleet)
        gateways.append(ours)
        if script is not None:
            try:
                gateways.append(start_proxy(workdir, fleet, script))
            except Exception as exc:  # noqa: BLE001 - reported; our side still runs
                print(f"LiteLLM proxy did not start: {exc}; log: {workdir / 'litellm-proxy.log'}")
        for g in gateways:
            warm(g)
        print(f"simulators pid {fleet.pid}; " + "; ".join(f"{g.name} pid {g.pid} at {g.url}" for g in gateways))

        if not args.skip_latency:
            samples, cpu = latency(args, fleet, gateways)
            header("(a) Added latency on POST /v1/responses (one client, sequential)")
            rows = []
            for mode in ("non-stream", "stream"):
                direct = summarize(samples[f"direct/{mode}"])
                for name in ["direct", *(g.name for g in gateways)]:
                    s = summarize(samples[f"{name}/{mode}"])
                    key_name = f"{name}/{mode}"
                    rows.append([key_name, int(s["n"]), ms(s["p50"]), ms(s["p95"]), ms(s["mean"]),
                                 f"{(s['p50'] - direct['p50']) * 1000:+.3f}",
                                 f"{(s['p95'] - direct['p95']) * 1000:+.3f}",
                                 ms(cpu[key_name]) if key_name in cpu else "-"])
            print_table(["target/mode", "n", "p50 ms", "p95 ms", "mean ms", "added p50 ms", "added p95 ms",
                         "gateway cpu ms/req"], rows)
            print("gateway cpu ms/req: the gateway process's CPU time (/proc/PID/stat) per request, sequential")
            for mode in ("non-stream", "stream"):
                added = (summarize(samples[f"tppc/{mode}"])["p50"] - summarize(samples[f"direct/{mode}"])["p50"])
                met = added * 1000 <= GOAL_ADDED_MS
                status |= 0 if met else 1
                print(f"goal, ours {mode}: added p50 {added * 1000:.3f} ms <= {GOAL_ADDED_MS} ms: "
                      f"{'met' if met else 'MISSED'}")

        if not args.skip_soak:
            control: dict[str, SoakResult] = {}
            if args.control_duration > 0:
                for g in gateways:
                    control[g.name] = run_soak(g, fleet, args, args.control_duration)
                header(f"(b0) Control: the same load with no faults, {args.control_duration:g} s per gateway")
                print_soak(control)
            if args.control_duration > 0 and control.get("tppc") is not None and control["tppc"].lost:
                status |= 1
            if args.duration > 0:
                fleet.set_faults("primary", primary_faults)
                fleet.set_faults("backup", backup_faults)
                print(f"\nsoak faults: primary {primary_faults}; backup {backup_faults}")
                results: dict[str, SoakResult] = {}
                for g in gateways:
                    results[g.name] = run_soak(g, fleet, args, args.duration)
                header(f"(b) Soak: {args.clients} concurrent streaming clients, {args.duration:g} s per gateway, "
                       "primary faulting on 30%, backup on 5%")
                print_soak(results)
                if results.get("tppc") is not None and results["tppc"].lost:
                    status |= 1
    finally:
        for g in gateways:
            stop_process(g.proc)
        fleet.close()
    print(f"\ngateway logs in {workdir}; {load_line()}")
    return status


if __name__ == "__main__":
    sys.exit(main())
