"""What a simulator is configured with and what it remembers, shared across threads.

The test thread sets faults and reads recorded requests while the server's event
loop thread picks faults and records requests; :class:`SimState` guards both with
one lock.
"""

from __future__ import annotations

import random
import threading
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from tppc_router.clock import Clock
from tppc_router.sim.faults import Fault

__all__ = ["SCENARIOS", "RecordedRequest", "Scenario", "SimConfig", "SimState"]

Scenario = Literal["text", "function_call"]
SCENARIOS: tuple[Scenario, ...] = ("text", "function_call")


@dataclass(frozen=True, slots=True)
class SimConfig:
    """How one simulated provider behaves when nothing goes wrong."""

    name: str
    api_key: str | None = field(default=None, repr=False)
    models: tuple[str, ...] = ("gpt-5",)  # empty: accept any model
    text: str | None = None  # fixed answer text instead of "Hello from <name>. You said: ..."
    scenario: Scenario = "text"
    delta_delay: float = 0.0  # seconds before each streamed delta


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request the simulator received, and what it did about it.

    ``outcome`` is ``"ok"``, the kind of the fault applied (``"status"``, ``"reset"``,
    ``"flap"``, ...), or ``"unauthorized"``, ``"not_found"``, ``"bad_request"``.
    ``headers`` has lower-case names; its ``authorization`` value is masked.
    """

    time: float
    method: str
    path: str
    model: str | None
    stream: bool
    api_key: str | None = field(repr=False)
    body: dict[str, Any] | None = field(repr=False)
    headers: dict[str, str] = field(repr=False)
    outcome: str


@dataclass(frozen=True, slots=True)
class _Active:
    fault: Fault
    since: float  # clock value when it was set; ``flap`` counts from here


class SimState:
    """Faults (with when each was set), a seedable random source, and the request log."""

    def __init__(self, clock: Clock, *, seed: int | None = None, max_requests: int = 10_000) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        self._faults: list[_Active] = []
        self._requests: deque[RecordedRequest] = deque(maxlen=max_requests)

    @property
    def faults(self) -> list[Fault]:
        with self._lock:
            return [active.fault for active in self._faults]

    def set_faults(self, faults: Iterable[Fault]) -> None:
        """Replace the faults; each ``flap`` starts its down phase now."""
        now = self.clock()
        active = [_Active(fault, now) for fault in faults]
        with self._lock:
            self._faults = active

    def pick(self, first: Sequence[Fault] = ()) -> Fault | None:
        """The fault for the next request: ``first`` (per-request) then the set ones, in
        order; a ``flap`` that is up is skipped, and each fault fires with chance ``p``."""
        now = self.clock()
        with self._lock:
            candidates = [_Active(fault, now) for fault in first] + self._faults
            for active in candidates:
                if active.fault.kind == "flap" and not active.fault.is_down(now - active.since):
                    continue
                if active.fault.p < 1.0 and self._random.random() >= active.fault.p:
                    continue
                return active.fault
        return None

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()
