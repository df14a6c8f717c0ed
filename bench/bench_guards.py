"""What the security checks cost: the gateway as ``serve`` runs it vs the same app without them.

Two gateways on the same simulated provider (a child process, see ``_common.SimFleet``), each in
its own process, both built like ``serve`` builds them (``create_app``, ``configure_logging``):

* **guarded**: under ``serving.uvicorn_config`` as ``serve`` runs it (the Guard layer: Host,
  Origin, Content-Type, header and body sizes; the guarded h11 protocol: header timeout,
  connection cap);
* **bare**: the Guard layer removed, under a plain ``uvicorn.Config`` with the same keep-alive.

Requests alternate between the two in blocks (sequential, one client, non-streaming and
streaming ``/v1/responses``), so load drift hits both alike. The request validation
(``server/validation.py``) runs in both; its own cost is measured in-process on a
Codex-sized body (``check_responses`` + ``json_depth``, microseconds per call).

    .venv/bin/python bench/bench_guards.py [--quick] [--n 400] [--block 20]

Exits 0 when the guarded p50 is within ``--budget-ms`` (default 0.3 ms) of the bare one.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from _common import (
    PRIMARY_KEY,
    VENV_PY,
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
    wait_for_port,
)

CHILD = """
import sys, uvicorn
from tppc_router.config.loader import load_settings
from tppc_router.ops.logs import configure_logging
from tppc_router.server import create_app
from tppc_router.server.guards import Guard
from tppc_router.server.serving import KEEP_ALIVE_S, uvicorn_config
configure_logging("WARNING", "text")
settings = load_settings(sys.argv[1])
app = create_app(settings, config_path=sys.argv[1])
port = int(sys.argv[2])
if sys.argv[3] == "guarded":
    config = uvicorn_config(app, settings, host="127.0.0.1", port=port, log_level="warning")
else:
    app.user_middleware = [m for m in app.user_middleware if m.cls is not Guard]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, log_level="warning",
                            timeout_keep_alive=KEEP_ALIVE_S, server_header=False)
uvicorn.Server(config).run()
"""

BODY = {"model": "gpt-5", "input": "Say something short.", "store": False}


def codex_body(items: int = 60) -> dict[str, object]:
    """A body shaped like a Codex turn: instructions, tools with JSON schemas, many input items."""
    tool = {"type": "function", "name": "shell", "description": "run a command", "strict": False,
            "parameters": {"type": "object", "properties": {"command": {"type": "array", "items": {"type": "string"}},
                                                             "workdir": {"type": "string"}},
                           "required": ["command"], "additionalProperties": False}}
    inputs: list[object] = []
    for i in range(items):
        inputs.append({"type": "message", "role": "user", "content": [{"type": "input_text", "text": f"step {i}"}]})
        inputs.append({"type": "function_call", "name": "shell", "arguments": '{"command":["ls"]}', "call_id": f"c{i}"})
        inputs.append({"type": "function_call_output", "call_id": f"c{i}", "output": "file.txt\n" * 20})
    return {"model": "gpt-5", "instructions": "You are Codex." * 50, "input": inputs, "tools": [tool] * 8,
            "tool_choice": "auto", "parallel_tool_calls": False, "reasoning": {"effort": "high", "summary": "auto"},
            "store": False, "stream": True, "include": ["reasoning.encrypted_content"], "prompt_cache_key": "abc"}


def validation_cost(rounds: int) -> tuple[float, int]:
    """Microseconds per ``check_responses`` + ``json_depth`` on :func:`codex_body`, and its container count."""
    from tppc_router.server.validation import check_responses, json_depth

    body = codex_body()
    start = time.perf_counter()
    for _ in range(rounds):
        check_responses(body)
        json_depth(body, 64)
    per_call = (time.perf_counter() - start) / rounds * 1e6
    return per_call, len(body["input"])  # type: ignore[arg-type]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer requests (n=120)")
    parser.add_argument("--n", type=int, default=400, help="timed requests per variant and mode")
    parser.add_argument("--block", type=int, default=20, help="requests per block before switching variant")
    parser.add_argument("--budget-ms", type=float, default=0.3, help="allowed p50 difference (non-streaming)")
    parser.add_argument("--aa", action="store_true", help="A/A run: both gateways bare (the noise floor)")
    args = parser.parse_args()
    n = 120 if args.quick else args.n
    header("Security checks: the gateway as serve runs it vs the same app without the Guard layer")
    print(environment_line())
    per_call, items = validation_cost(200 if args.quick else 1000)
    print(f"request validation on a Codex-sized body ({items} input items, 8 tools): {per_call:.1f} us per request")

    with SimFleet({"primary": {"api_key": PRIMARY_KEY}}) as fleet, tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "config.yaml"
        cfg.write_text(tppc_yaml(fleet.url("primary"), fleet.url("primary").replace("127.0.0.1", "localhost")))
        env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
        guarded_port, bare_port = free_port(), free_port()
        guarded = subprocess.Popen([str(VENV_PY), "-c", CHILD, str(cfg), str(guarded_port), "bare" if args.aa else "guarded"], env=env,
                                   cwd=tmp, start_new_session=True)
        bare = subprocess.Popen([str(VENV_PY), "-c", CHILD, str(cfg), str(bare_port), "bare"], env=env, cwd=tmp,
                                start_new_session=True)
        try:
            wait_for_port(guarded_port, proc=guarded)
            wait_for_port(bare_port, proc=bare)
            variants = {"guarded": f"http://127.0.0.1:{guarded_port}/v1", "bare": f"http://127.0.0.1:{bare_port}/v1"}
            clients = {name: httpx.Client(base_url=url, timeout=30) for name, url in variants.items()}
            samples: dict[tuple[str, bool], list[float]] = {(v, s): [] for v in variants for s in (False, True)}
            pids = {"guarded": guarded.pid, "bare": bare.pid}
            cpu: dict[tuple[str, bool], float] = {key: 0.0 for key in samples}

            def one(name: str, stream: bool) -> float:
                start = time.perf_counter()
                if stream:
                    with clients[name].stream("POST", "/responses", json={**BODY, "stream": True}) as response:
                        assert response.status_code == 200
                        for _ in response.iter_bytes():
                            pass
                else:
                    response = clients[name].post("/responses", json=BODY)
                    assert response.status_code == 200, response.text
                return time.perf_counter() - start

            for name in variants:  # warm-up
                for stream in (False, True):
                    for _ in range(20):
                        one(name, stream)
            for stream in (False, True):
                done = 0
                while done < n:
                    for name in variants:
                        before = tree_cpu_seconds(pids[name])
                        samples[(name, stream)] += [one(name, stream) for _ in range(args.block)]
                        cpu[(name, stream)] += tree_cpu_seconds(pids[name]) - before
                    done += args.block
            for client in clients.values():
                client.close()
        finally:
            stop_process(guarded)
            stop_process(bare)

    rows = []
    diffs: dict[bool, float] = {}
    for stream in (False, True):
        g, b = summarize(samples[("guarded", stream)]), summarize(samples[("bare", stream)])
        diffs[stream] = g["p50"] - b["p50"]
        cpu_g = cpu[("guarded", stream)] / len(samples[("guarded", stream)])
        cpu_b = cpu[("bare", stream)] / len(samples[("bare", stream)])
        rows.append(["stream" if stream else "non-stream", ms(b["p50"]), ms(g["p50"]), f"{diffs[stream] * 1e3:+.3f} ms",
                     f"{g['p50'] / b['p50']:.3f}x", ms(b["p95"]), ms(g["p95"]), ms(cpu_b), ms(cpu_g)])
    print_table(["mode", "bare p50", "guarded p50", "diff p50", "ratio", "bare p95", "guarded p95",
                 "bare cpu/req", "guarded cpu/req"], rows)
    print(load_line())
    ok = diffs[False] * 1e3 <= args.budget_ms
    print(f"goal: guarded p50 within {args.budget_ms} ms of bare (non-streaming): {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
