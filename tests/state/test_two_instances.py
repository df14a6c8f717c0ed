"""Two gateway instances in separate processes share breaker state through one real Redis.

The simulators and instance A run in the test process; instance B is ``driver.py``
in a child process. Both run the same driver code (:class:`driver.Node`) and
share nothing but Redis. Requests are sent one instance at a time (the other
idle), so the primary simulator's request count tells which instance reached it;
for the probe, both send at once.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tppc_router.sim import Fault, ProviderSimulator

from .conftest import RedisServer
from .driver import Node

DRIVER = Path(__file__).with_name("driver.py")
ROOT = Path(__file__).resolve().parents[2]
COOLDOWN = 1.0
KEYS = {"primary": "sk-two-instances-primary-0123456789", "backup": "sk-two-instances-backup-0123456789"}


class Instance:
    """One gateway instance: ``send`` a command, ``receive`` its reply (or ``ask`` both)."""

    name = ""

    def __init__(self) -> None:
        self._replies: queue.Queue[Any] = queue.Queue()

    def send(self, cmd: str, **fields: Any) -> None:
        raise NotImplementedError

    def describe(self) -> str:
        return ""

    def receive(self, timeout: float = 60.0) -> Any:
        try:
            reply = self._replies.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"instance {self.name} did not answer{self.describe()}") from None
        if isinstance(reply, dict) and "error" in reply:
            raise AssertionError(f"instance {self.name}: {reply['error']}")
        return reply

    def ask(self, cmd: str, **fields: Any) -> Any:
        self.send(cmd, **fields)
        return self.receive()

    def call(self, n: int = 1) -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = self.ask("call", n=n)["results"]
        failed = [r["error"] for r in results if "error" in r]
        assert not failed, f"instance {self.name}: failed requests {failed}"
        return results


class ChildInstance(Instance):
    """``driver.py`` in a process of its own."""

    def __init__(self, name: str, log: Path) -> None:
        super().__init__()
        self.name = name
        self.log = log
        env = {**os.environ, "PYTHONPATH": str(ROOT), "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
        self._stderr = log.open("w")
        self.proc = subprocess.Popen([sys.executable, "-u", str(DRIVER)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._stderr, text=True, env=env, cwd=str(ROOT))
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._replies.put(json.loads(line))

    def describe(self) -> str:
        return "; its log:\n" + self.log.read_text()[-3000:]

    def send(self, cmd: str, **fields: Any) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"cmd": cmd, **fields}) + "\n")
        self.proc.stdin.flush()

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self._stderr.close()


class LocalInstance(Instance):
    """The same driver :class:`Node` in the test process (a process apart from the child's),
    on a thread of its own so that both instances serve at the same time."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.node = Node()
        self._commands: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while (command := self._commands.get()) is not None:
            self._replies.put(self.node.handle(command))
        self.node.shutdown()

    def send(self, cmd: str, **fields: Any) -> None:
        self._commands.put({"cmd": cmd, **fields})

    def close(self) -> None:
        self._commands.put(None)
        self._thread.join(10)


@pytest.fixture(scope="module")
def instances(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Instance, Instance]]:
    """Instance A in the test process, instance B in a child process (which imports litellm: seconds)."""
    b = ChildInstance("B", tmp_path_factory.mktemp("instances") / "b.log")
    a = LocalInstance("A")
    assert "ready" in b.receive(timeout=120)
    yield a, b
    a.close()
    b.close()


@pytest.fixture
def sims() -> Iterator[dict[str, ProviderSimulator]]:
    started = {name: ProviderSimulator(name=name, api_key=KEYS[name]).start() for name in KEYS}
    yield started
    for sim in started.values():
        sim.stop()


def configure(pair: tuple[Instance, Instance], sims: dict[str, ProviderSimulator], redis_url: str) -> None:
    text = "\n".join([
        "tppc:",
        "  models: [gpt-5]",
        "  providers:",
        f'    - {{name: primary, base-url: "{sims["primary"].url}", api-key: {KEYS["primary"]}, order: 1}}',
        f'    - {{name: backup, base-url: "{sims["backup"].url}", api-key: {KEYS["backup"]}, order: 2}}',
        "router:",
        "  failure-threshold: 1",
        "  same-provider-retries: 0",
        f"  cooldown: {COOLDOWN}",
        "  state:",
        "    backend: redis",
        f'    url: "{redis_url}"',
        f"    prefix: t{uuid.uuid4().hex[:8]}",
        "    op-timeout: 0.05",
    ]) + "\n"
    for instance in pair:
        instance.ask("configure", config=text)


def calls(sim: ProviderSimulator) -> int:
    return sum(1 for r in sim.requests if r.path.endswith(("/responses", "/chat/completions")))


def providers(results: list[dict[str, Any]]) -> list[str]:
    return [r["provider"] for r in results]


def test_an_outage_one_instance_saw_is_skipped_by_the_other_and_one_probe_goes_out(
        instances: tuple[Instance, Instance], sims: dict[str, ProviderSimulator], redis_server: RedisServer) -> None:
    """A opens the primary's breaker; B goes straight to the backup; after the cooldown exactly one probe
    reaches the primary across both instances, and once it succeeds both return to the primary."""
    a, b = instances
    primary = sims["primary"]
    configure(instances, sims, redis_server.url)
    assert providers(a.call()) == ["primary"] and providers(b.call()) == ["primary"]

    primary.set_fault(Fault.parse("status:500"))
    before = calls(primary)
    assert providers(a.call()) == ["backup"]
    assert calls(primary) == before + 1  # A's one attempt opened the breaker
    result_b = b.call()[0]
    assert result_b["provider"] == "backup"
    assert result_b["attempts"][0] == ["primary", "skipped"]
    assert calls(primary) == before + 1  # nothing from B reached the primary

    time.sleep(COOLDOWN + 0.1)
    primary.set_fault(Fault.parse("slow-first-token:0.8"))  # recovered, but the probe takes a while
    before = calls(primary)
    a.send("call", n=3)
    b.send("call", n=3)
    burst = a.receive()["results"] + b.receive()["results"]
    assert not [r for r in burst if "error" in r]
    assert sorted(providers(burst)) == ["backup"] * 5 + ["primary"]
    assert calls(primary) == before + 1  # exactly one probe

    primary.clear_faults()
    assert providers(a.call()) == ["primary"] and providers(b.call()) == ["primary"]


def test_redis_killed_mid_run_fails_no_request_and_sharing_resumes_after_restart(
        instances: tuple[Instance, Instance], sims: dict[str, ProviderSimulator], redis_server: RedisServer) -> None:
    """With Redis killed both instances keep answering, even through a primary failure; once it is back on the
    same port they share again: A's next outage is B's next skip."""
    a, b = instances
    primary = sims["primary"]
    configure(instances, sims, redis_server.url)
    assert providers(a.call(2)) == ["primary"] * 2 and providers(b.call(2)) == ["primary"] * 2

    redis_server.kill()
    assert providers(a.call(3)) == ["primary"] * 3
    assert providers(b.call(3)) == ["primary"] * 3
    primary.set_fault(Fault.parse("status:500"))
    assert providers(a.call()) == ["backup"]
    assert providers(b.call()) == ["backup"]  # B tried the primary itself: nothing is shared now
    assert a.ask("info")["reachable"] is False and b.ask("info")["reachable"] is False
    primary.clear_faults()

    redis_server.start()
    deadline = time.monotonic() + 5
    while not (a.ask("info")["reachable"] and b.ask("info")["reachable"]):
        assert time.monotonic() < deadline, "the instances did not reconnect within 5 s"
        time.sleep(0.05)
    time.sleep(COOLDOWN)  # the breakers opened during the outage have cooled down
    assert providers(a.call()) == ["primary"] and providers(b.call()) == ["primary"]

    primary.set_fault(Fault.parse("status:500"))
    assert providers(a.call()) == ["backup"]
    before = calls(primary)
    assert providers(b.call()) == ["backup"]
    assert calls(primary) == before
