"""Shared helpers for the benchmark scripts in ``bench/``.

* :func:`percentile`, :func:`summarize`, :func:`ratio`: statistics over latency samples (seconds).
* :class:`SimFleet`: simulated providers (:class:`tppc_router.sim.ProviderSimulator`) served by a
  *separate process*, so the code under test and the providers never share one GIL. Faults are
  changed while it runs (``fleet.set_faults("primary", ["status:500"])``).
* :func:`free_port`, :func:`closed_port_url`: loopback ports.
* :func:`rss_kb`, :func:`tree_rss_kb`: resident memory of a process (and its children) from ``/proc``.
* :func:`print_table`, :func:`header`: plain-text output.

Run as a script, this module *is* the simulator process (``python bench/_common.py serve-sims JSON``);
:class:`SimFleet` starts it for you.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import platform
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Self

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
VENV_PY = ROOT / ".venv" / "bin" / "python"

# litellm fetches its model cost map from GitHub at import unless told not to; there is no internet here.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_LOG", "ERROR")

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PRIMARY_KEY = "sk-bench-primary-0123456789"
BACKUP_KEY = "sk-bench-backup-9876543210"
ANSWER_TEXT = "Benchmark answer: the quick brown fox jumps over the lazy dog."


# --------------------------------------------------------------------------- statistics


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0-100), linear interpolation between closest ranks."""
    if not values:
        return math.nan
    data = sorted(values)
    if len(data) == 1:
        return data[0]
    rank = (p / 100.0) * (len(data) - 1)
    low = math.floor(rank)
    high = math.ceil(rank)
    return data[low] + (data[high] - data[low]) * (rank - low)


def summarize(values: Sequence[float]) -> dict[str, float]:
    """n, p50, p95, p99, mean, min, max of ``values`` (seconds)."""
    return {
        "n": float(len(values)),
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "p99": percentile(values, 99),
        "mean": sum(values) / len(values) if values else math.nan,
        "min": min(values) if values else math.nan,
        "max": max(values) if values else math.nan,
    }


def ratio(a: float, b: float) -> float:
    return a / b if b else math.nan


def ms(seconds: float) -> str:
    """Seconds as milliseconds text, 3 significant decimals for small values."""
    if math.isnan(seconds):
        return "n/a"
    value = seconds * 1000.0
    return f"{value:.3f}" if value < 10 else f"{value:.2f}" if value < 1000 else f"{value:.0f}"


def fmt_ratio(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.3f}x"


# --------------------------------------------------------------------------- output


def header(title: str) -> None:
    print()
    print(title)
    print("=" * len(title))


def environment_line() -> str:
    """One line naming the date, machine and versions, for the record."""
    try:
        from importlib.metadata import version

        litellm_version = version("litellm")
        openai_version = version("openai")
    except Exception:  # noqa: BLE001
        litellm_version = openai_version = "?"
    return (
        f"{_dt.datetime.now().isoformat(timespec='seconds')}  python {platform.python_version()}  "
        f"litellm {litellm_version}  openai {openai_version}  cores {os.cpu_count()}  {platform.machine()}  "
        f"{load_line()}"
    )


def load_line() -> str:
    """The 1/5/15-minute load averages: other work on this machine skews absolute numbers."""
    one, five, fifteen = os.getloadavg()
    return f"loadavg {one:.2f} {five:.2f} {fifteen:.2f}"


def print_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """A left-aligned first column, right-aligned others."""
    text_rows = [[str(cell) for cell in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in text_rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(cells))

    print(line(list(headers)))
    print("  ".join("-" * w for w in widths))
    for row in text_rows:
        print(line(row))


# --------------------------------------------------------------------------- ports and memory


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def closed_port_url() -> str:
    """A base-url whose port refuses connections (nothing listens there)."""
    return f"http://127.0.0.1:{free_port()}/v1"


def wait_for_port(port: int, timeout: float = 60.0, proc: subprocess.Popen[Any] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout:g} s")


def rss_kb(pid: int) -> int | None:
    """VmRSS of ``pid`` in kB (None if the process is gone)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return 0


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            out.append(int(entry))
    return out


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    seen = [pid]
    i = 0
    while i < len(seen):
        seen.extend(_children(seen[i]))
        i += 1
    return seen


def tree_rss_kb(pid: int) -> int:
    """Summed VmRSS of ``pid`` and its descendants, in kB."""
    return sum(r for p in process_tree(pid) if (r := rss_kb(p)) is not None)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds ``pid`` has used so far (0.0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of ``pid`` and its live descendants."""
    return sum(cpu_seconds(p) for p in process_tree(pid))


def stop_process(proc: subprocess.Popen[Any], timeout: float = 10.0) -> None:
    """SIGTERM the process (it was started by us, in its own session), then SIGKILL if needed."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, 15)
    except (ProcessLookupError, PermissionError):
        proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, 9)
        except (ProcessLookupError, PermissionError):
            proc.kill()
        proc.wait(timeout)


# --------------------------------------------------------------------------- simulated providers


class SimFleet:
    """Simulated providers in a child process, controlled over its stdin/stdout.

    ``SimFleet({"primary": {"api_key": ...}, "backup": {...}})``; each value takes
    :class:`ProviderSimulator` keyword arguments (``api_key``, ``seed``, ``text``,
    ``delta_delay``, ``faults`` as spec strings).
    """

    def __init__(self, sims: dict[str, dict[str, Any]]) -> None:
        self._lock = threading.Lock()
        self.proc = subprocess.Popen(
            [str(VENV_PY), "-u", str(Path(__file__).resolve()), "serve-sims", json.dumps(sims)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, start_new_session=True, cwd=str(ROOT),
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the simulator process failed to start")
        self.urls: dict[str, str] = json.loads(line)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def url(self, name: str) -> str:
        return self.urls[name]

    def _ask(self, *words: str) -> Any:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        with self._lock:
            self.proc.stdin.write(json.dumps(list(words)) + "\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the simulator process went away")
        reply = json.loads(line)
        if isinstance(reply, dict) and "error" in reply:
            raise RuntimeError(reply["error"])
        return reply

    def set_faults(self, name: str, specs: Sequence[str]) -> None:
        """Replace ``name``'s faults (spec strings, tried in order); ``[]`` makes it healthy."""
        self._ask("faults", name, *specs)

    def outcomes(self, name: str, clear: bool = True) -> dict[str, int]:
        """Model requests ``name`` received since the last clear, by outcome (``ok``, ``status``, ...)."""
        return dict(self._ask("outcomes", name, "clear" if clear else "keep"))

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.close()
                self.proc.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                stop_process(self.proc)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _serve_sims(config: dict[str, dict[str, Any]]) -> None:
    from tppc_router.sim import Fault, ProviderSimulator

    sims: dict[str, ProviderSimulator] = {}
    for name, kwargs in config.items():
        kwargs = dict(kwargs)
        faults = [Fault.parse(s) for s in kwargs.pop("faults", [])]
        sims[name] = ProviderSimulator(name=name, faults=faults, max_requests=kwargs.pop("max_requests", 2000),
                                       **kwargs).start()
    print(json.dumps({name: sim.url for name, sim in sims.items()}), flush=True)
    for line in sys.stdin:
        try:
            words = json.loads(line)
            command, name, *args = words
            sim = sims[name]
            if command == "faults":
                sim.set_faults(args)
                reply: Any = "ok"
            elif command == "outcomes":
                counts: dict[str, int] = {}
                for request in sim.requests:
                    if request.path.endswith(("/responses", "/chat/completions")):
                        counts[request.outcome] = counts.get(request.outcome, 0) + 1
                reply = counts
                if args and args[0] == "clear":
                    sim.clear_requests()
            else:
                reply = {"error": f"unknown command {command!r}"}
        except Exception as error:  # noqa: BLE001 - report it to the parent, keep serving
            reply = {"error": f"{type(error).__name__}: {error}"}
        print(json.dumps(reply), flush=True)
    for sim in sims.values():
        sim.stop()


# --------------------------------------------------------------------------- configs


def tppc_yaml(primary_url: str, backup_url: str, router: dict[str, Any] | None = None,
              server: dict[str, Any] | None = None) -> str:
    """A tppc-router config with providers ``primary`` (order 1) and ``backup`` (order 2)."""
    lines = [
        "tppc:",
        "  models: [gpt-5]",
        "  providers:",
        f'    - {{name: primary, base-url: "{primary_url}", api-key: {PRIMARY_KEY}, order: 1}}',
        f'    - {{name: backup, base-url: "{backup_url}", api-key: {BACKUP_KEY}, order: 2}}',
    ]
    for section, values in (("router", router), ("server", server)):
        if values:
            lines.append(f"{section}:")
            lines += [f"  {k}: {json.dumps(v)}" for k, v in values.items()]
    return "\n".join(lines) + "\n"


def load_tppc_settings(primary_url: str, backup_url: str, router: dict[str, Any] | None = None) -> Any:
    from tppc_router.config.loader import load_settings

    return load_settings(text=tppc_yaml(primary_url, backup_url, router))


def quiet_litellm() -> Any:
    """Import litellm with its chatter off; returns the module."""
    import logging
    import warnings

    import litellm

    # litellm's own pydantic models warn on its usage objects ("Expected `ResponseAPIUsage`"): noise here.
    warnings.filterwarnings("ignore", category=UserWarning, module="pydantic")

    litellm.suppress_debug_info = True
    litellm.set_verbose = False
    for name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy", "litellm", "httpx", "tppc_router"):
        logging.getLogger(name).setLevel(logging.ERROR)
    return litellm


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "serve-sims":
        _serve_sims(json.loads(sys.argv[2]))
    else:
        print("usage: python bench/_common.py serve-sims JSON", file=sys.stderr)
        sys.exit(2)
