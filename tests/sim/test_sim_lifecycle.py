"""Starting, stopping and loading the simulator."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import pytest
from sim_helpers import CHAT_BODY, RESPONSES_BODY, event_types

from tppc_router.sim import ProviderSimulator


def test_start_binds_free_port_and_url() -> None:
    """``port=0`` binds a free port; ``url`` is the ``/v1`` base URL on loopback."""
    sim = ProviderSimulator("a").start()
    try:
        assert sim.port > 0
        assert sim.url == f"http://127.0.0.1:{sim.port}/v1"
        assert sim.running and "running" not in repr(sim) and sim.url in repr(sim)
    finally:
        sim.stop()
    assert not sim.running
    sim.stop()  # idempotent


def test_start_twice_is_an_error() -> None:
    """Starting a running simulator raises instead of leaking a second server."""
    with ProviderSimulator() as sim, pytest.raises(RuntimeError, match="already started"):
        sim.start()


def test_port_in_use_raises_oserror() -> None:
    """A second simulator on a taken port fails in ``start()`` with ``OSError``."""
    with ProviderSimulator() as first, pytest.raises(OSError):
        ProviderSimulator(port=first.port).start()


def test_restart_on_same_port() -> None:
    """A stopped simulator can start again on the same port (a provider coming back)."""
    sim = ProviderSimulator().start()
    port = sim.port
    sim.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{sim.url}/models")
    sim.start()
    try:
        assert sim.port == port
        assert httpx.get(f"{sim.url}/models").status_code == 200
    finally:
        sim.stop()


def test_bad_constructor_arguments() -> None:
    """Unknown scenarios and negative delays are rejected at construction."""
    with pytest.raises(ValueError, match="scenario"):
        ProviderSimulator(scenario="dance")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="delta_delay"):
        ProviderSimulator(delta_delay=-1)


@pytest.mark.parametrize("fault", ["no-response", "stall:1"])
def test_stop_is_prompt_with_hung_connection(fault: str) -> None:
    """``stop()`` returns promptly and drops connections that are hung by a fault."""
    sim = ProviderSimulator(faults=[]).start()
    sim.set_fault(fault)
    errors: list[BaseException] = []

    def call() -> None:
        try:
            httpx.post(f"{sim.url}/responses", json=RESPONSES_BODY, timeout=30).read()
        except httpx.HTTPError as error:
            errors.append(error)

    caller = threading.Thread(target=call)
    caller.start()
    deadline = time.monotonic() + 5
    while not sim.requests and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)
    started = time.perf_counter()
    sim.stop()
    assert time.perf_counter() - started < 1.0
    caller.join(5)
    assert not caller.is_alive()
    assert errors and isinstance(errors[0], httpx.TransportError)


def test_thread_safe_fault_changes_under_load() -> None:
    """Changing faults from another thread while requests run never breaks the server."""
    with ProviderSimulator() as sim, httpx.Client(base_url=sim.url) as http:
        stop = threading.Event()

        def flip() -> None:
            while not stop.wait(0.001):
                sim.set_fault("status:503")
                sim.clear_faults()

        flipper = threading.Thread(target=flip)
        flipper.start()
        try:
            statuses = {http.post("/chat/completions", json=CHAT_BODY).status_code for _ in range(50)}
        finally:
            stop.set()
            flipper.join()
        assert statuses <= {200, 503}


async def test_many_concurrent_streams() -> None:
    """64 concurrent streaming requests (with paced deltas) all complete."""
    with ProviderSimulator(delta_delay=0.005) as sim:
        limits = httpx.Limits(max_connections=100)
        async with httpx.AsyncClient(base_url=sim.url, limits=limits, timeout=10) as http:

            async def one(i: int) -> list[str]:
                response = await http.post("/responses", json={**RESPONSES_BODY, "input": f"n{i}"})
                return event_types(response.text)

            started = time.perf_counter()
            results = await asyncio.gather(*(one(i) for i in range(64)))
            elapsed = time.perf_counter() - started
        assert all(types[-1] == "response.completed" for types in results)
        assert len(sim.requests) == 64
        assert elapsed < 5
