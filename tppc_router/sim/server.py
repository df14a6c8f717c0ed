"""``ProviderSimulator``: a real HTTP server on loopback that plays a third-party Codex relay.

It runs its own asyncio event loop in a daemon thread, so sync tests, async tests
(on another loop), benchmarks and the CLI all use it the same way::

    with ProviderSimulator(name="primary", api_key="sk-test") as sim:
        sim.set_fault(Fault.parse("status:503"))
        client = openai.OpenAI(base_url=sim.url, api_key="sk-test")

Every method may be called from any thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Iterable
from types import TracebackType
from typing import Self

from tppc_router.clock import Clock, monotonic
from tppc_router.sim.faults import Fault
from tppc_router.sim.handler import Session
from tppc_router.sim.state import SCENARIOS, RecordedRequest, Scenario, SimConfig, SimState

__all__ = ["ProviderSimulator"]

_READ_LIMIT = 256 * 1024
_STOP_TIMEOUT = 5.0


class ProviderSimulator:
    """An OpenAI-compatible provider (``/v1/responses``, ``/v1/chat/completions``,
    ``/v1/models``) with fault injection. See :mod:`tppc_router.sim.faults`.

    ``models=()`` accepts any model. ``scenario="function_call"`` adds a function call
    to every answer (also per request: header ``x-sim-scenario: function_call``).
    ``seed`` seeds the draws for faults with ``p < 1``. ``delta_delay`` paces streams.
    ``clock`` stamps recorded requests and times ``flap``; waits use real time.
    ``requests`` keeps the last ``max_requests`` requests.
    """

    def __init__(
        self,
        name: str = "primary",
        *,
        api_key: str | None = None,
        models: Iterable[str] = ("gpt-5",),
        host: str = "127.0.0.1",
        port: int = 0,
        text: str | None = None,
        clock: Clock = monotonic,
        seed: int | None = None,
        scenario: Scenario = "text",
        faults: Iterable[Fault] = (),
        delta_delay: float = 0.0,
        max_requests: int = 10_000,
    ) -> None:
        if scenario not in SCENARIOS:
            raise ValueError(f"scenario must be one of {', '.join(SCENARIOS)}, not {scenario!r}")
        if delta_delay < 0:
            raise ValueError("delta_delay must be >= 0")
        self.config = SimConfig(
            name=name, api_key=api_key, models=tuple(models), text=text, scenario=scenario, delta_delay=delta_delay
        )
        self.host = host
        self._port = port
        self._state = SimState(clock, seed=seed, max_requests=max_requests)
        self._state.set_faults(faults)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._sessions: dict[asyncio.Task[None], asyncio.StreamWriter] = {}

    def __repr__(self) -> str:
        where = self.url if self.running else "stopped"
        return f"<ProviderSimulator {self.name!r} {where}>"

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def port(self) -> int:
        """The bound port (the real one once started with ``port=0``)."""
        return self._port

    @property
    def url(self) -> str:
        """The base URL a client uses: ``http://127.0.0.1:PORT/v1``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self._port}/v1"

    @property
    def running(self) -> bool:
        return self._server is not None

    # --- faults and records -------------------------------------------------------

    @property
    def faults(self) -> list[Fault]:
        """The faults set on the simulator, in the order they are tried."""
        return self._state.faults

    def set_fault(self, fault: Fault | str) -> None:
        """Make ``fault`` (a :class:`Fault` or a spec string) the only fault."""
        self.set_faults([fault])

    def set_faults(self, faults: Iterable[Fault | str]) -> None:
        """Replace the faults; for each request they are tried in order, the first that fires applies."""
        self._state.set_faults([Fault.parse(f) if isinstance(f, str) else f for f in faults])

    def clear_faults(self) -> None:
        self._state.set_faults([])

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of the requests received so far, oldest first."""
        return self._state.requests

    def clear_requests(self) -> None:
        self._state.clear_requests()

    # --- lifecycle ----------------------------------------------------------------

    def start(self) -> Self:
        """Bind and serve in a background thread; returns ``self``. Raises ``OSError`` if the port is taken."""
        with self._lock:
            if self._thread is not None:
                raise RuntimeError(f"simulator {self.name!r} is already started")
            loop = asyncio.new_event_loop()
            ready: concurrent.futures.Future[asyncio.Server] = concurrent.futures.Future()
            thread = threading.Thread(target=self._run, args=(loop, ready), name=f"sim-{self.name}", daemon=True)
            thread.start()
            try:
                server = ready.result(timeout=_STOP_TIMEOUT)
            except BaseException:
                thread.join(_STOP_TIMEOUT)
                raise
            self._loop, self._thread, self._server = loop, thread, server
            self._port = server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        """Close the server and every open connection (hung ones too); wait for the thread."""
        with self._lock:
            loop, thread = self._loop, self._thread
            if loop is None or thread is None:
                return
            try:
                asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(_STOP_TIMEOUT)
            except (concurrent.futures.TimeoutError, RuntimeError):
                pass
            loop.call_soon_threadsafe(loop.stop)
            thread.join(_STOP_TIMEOUT)
            self._loop = self._thread = self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    def _run(self, loop: asyncio.AbstractEventLoop, ready: concurrent.futures.Future[asyncio.Server]) -> None:
        asyncio.set_event_loop(loop)
        try:
            start = asyncio.start_server(self._serve, self.host, self._port, limit=_READ_LIMIT, backlog=1024)
            server = loop.run_until_complete(start)
        except BaseException as error:  # noqa: BLE001 - handed to the thread that called start()
            ready.set_exception(error)
            loop.close()
            return
        ready.set_result(server)
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._sessions[task] = writer
        try:
            await Session(reader, writer, self.config, self._state).run()
        except asyncio.CancelledError:
            # stop() cancelled us. End normally: Python 3.11's start_server callback
            # calls task.exception() on a finished task, which raises if it was cancelled.
            if self._server is not None and self._server.is_serving():
                raise
        finally:
            self._sessions.pop(task, None)

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        sessions = dict(self._sessions)
        for task, writer in sessions.items():
            writer.transport.abort()
            task.cancel()
        if sessions:
            await asyncio.wait(sessions, timeout=_STOP_TIMEOUT)
