"""Active health checks (``router.health-check``, off by default).

Every ``interval`` seconds, each (provider, model) the router serves gets one tiny
streamed Responses request::

    POST {base-url}/responses   Authorization: Bearer <key>
    {"model": M, "input": "ping", "stream": true, "store": false,
     "max_output_tokens": 16, "reasoning": {"effort": "low"}}

The probe passes when the provider answers 2xx and its first event is not an
error; the connection is closed right after that first event. ``GET /models`` was
not chosen: many relays do not implement it, and it says nothing about whether
the model answers. The probe costs one tiny request per (provider, model) and
interval.

What a probe does to the breaker of that (provider, model):

* closed, probe fails: opens at once (``record_failure(open_now=True)``) for the
  cooldown the failure calls for (``router.cooldown``; ``auth-cooldown`` for 401/403;
  Retry-After when given), so a dead primary is benched before a user's request
  reaches it;
* open: not probed until its cooldown ends (the breaker could not close anyway);
* half-open: the probe takes the half-open lease; success closes the breaker,
  failure opens it again. If a user's request holds the lease, the probe waits;
* a 400/413/422 answer means the relay refused the probe's body but is up: it is
  logged and counts as a success.
"""

from __future__ import annotations

import asyncio
import math
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from tppc_router.routing.breaker import BreakerState
from tppc_router.clock import Clock, monotonic
from tppc_router.config.schema import HealthCheckSection, Settings
from tppc_router.errors import Outcome, ProviderError
from tppc_router.routing.failover import FailureKind, classify, decide
from tppc_router.routing.upstream import Upstream
from tppc_router.masking import get_logger

if TYPE_CHECKING:
    from tppc_router.routing.engine import Target
    from tppc_router.routing.router import TppcRouter

__all__ = [
    "IDLE_RECHECK_S",
    "PROBE_BODY",
    "ProbeResult",
    "Prober",
    "probe_once",
    "probe_targets",
    "prober_for",
    "start_probes",
    "stop_probes",
]

logger = get_logger("tppc_router.ops.probes")

PROBE_BODY: dict[str, Any] = {
    "input": "ping",
    "stream": True,
    "store": False,
    "max_output_tokens": 16,
    "reasoning": {"effort": "low"},
}
_ERROR_EVENTS = frozenset({"error", "response.failed"})
IDLE_RECHECK_S = 5.0  # while health checks are off: how often the live settings are read again

OnResult = Callable[["ProbeResult"], None]
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """One probe: ``outcome`` is ``ok``, ``skipped`` or a failure kind (``server_error``...)."""

    provider: str
    model: str
    outcome: Outcome
    status: int | None = None
    reason: str = ""
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.OK


def probe_targets(router: TppcRouter) -> list[Target]:
    """One target per (provider, model) the router serves, in priority order."""
    seen: dict[tuple[str, str], Target] = {}
    for group in router.model_groups():
        for target in router.targets(group):
            seen.setdefault((target.provider, target.model), target)
    return sorted(seen.values(), key=lambda t: (t.priority, t.provider, t.model))


async def _request(upstream: Upstream, target: Target, timeout: float) -> None:
    """Send the probe and read its first event; raise on any failure."""
    events = await upstream.open_sse(target, "/responses", {**PROBE_BODY, "model": target.model}, timeout=timeout)
    try:
        first = await events.__anext__()
    except StopAsyncIteration:
        raise ProviderError(f"{target.provider}: the probe stream ended before any event", provider=target.provider,
                            kind=FailureKind.STREAM_BROKEN.value, status_code=502) from None
    finally:
        closer = getattr(events, "aclose", None)
        if closer is not None:
            await closer()
    if first.type in _ERROR_EVENTS:
        raise ProviderError(f"{target.provider}: the probe got a {first.type} event", provider=target.provider,
                            kind=FailureKind.SERVER.value, status_code=502)


class Prober:
    """Probes a router's providers; :meth:`run` repeats :meth:`probe_once` forever.

    ``settings`` fixes the health-check section; without it the router's live
    settings are read on every round (a reload may change interval and timeout).
    """

    def __init__(
        self,
        router: TppcRouter,
        settings: HealthCheckSection | None = None,
        *,
        clock: Clock = monotonic,
        client: httpx.AsyncClient | None = None,
        on_result: OnResult | None = None,
    ) -> None:
        self.router = router
        self._settings = settings
        self.clock = clock
        self._client = client
        self._own_client = client is None
        self.on_result = on_result
        self.next_run_at: float | None = None
        self.last_results: list[ProbeResult] = []

    @property
    def health(self) -> HealthCheckSection:
        return self._settings if self._settings is not None else self.router.tppc_settings.router.health_check

    def _upstream(self) -> Upstream:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=httpx.Timeout(self.health.timeout), follow_redirects=False)
        return Upstream(self._client)

    async def aclose(self) -> None:
        if self._own_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    def next_probe_in(self, retry_in_s: float | None) -> float | None:
        """Seconds until an open breaker that may be tried again in ``retry_in_s`` is
        next probed: the first round at or after that moment."""
        if retry_in_s is None or self.next_run_at is None:
            return retry_in_s
        now = self.clock()
        first = max(0.0, self.next_run_at - now)
        if first >= retry_in_s:
            return first
        interval = self.health.interval
        return first + math.ceil((retry_in_s - first) / interval) * interval

    async def probe_once(self) -> list[ProbeResult]:
        """Probe every (provider, model) once, concurrently; apply the outcomes."""
        upstream = self._upstream()
        targets = probe_targets(self.router)
        results = await asyncio.gather(*(self._probe(upstream, t) for t in targets))
        self.last_results = list(results)
        return self.last_results

    async def _probe(self, upstream: Upstream, target: Target) -> ProbeResult:
        breaker = self.router.breakers.get(target.provider, target.model)
        state = breaker.state
        if state is BreakerState.OPEN or (state is BreakerState.HALF_OPEN and not breaker.allow()):
            return self._done(ProbeResult(target.provider, target.model, Outcome.SKIPPED, reason=f"breaker {state.value}"))
        started = self.clock()
        timeout = self.health.timeout
        try:
            await asyncio.wait_for(_request(upstream, target, timeout), timeout)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - every probe failure is classified
            failure = classify(exc)
            took = self.clock() - started
            if failure.kind is FailureKind.INVALID_REQUEST:
                logger.warning("probe of %s (%s) was refused as invalid (%s): %s; the provider answered, so it "
                               "counts as up", target.provider, target.model, failure.status, failure.message)
                if state is BreakerState.HALF_OPEN:
                    breaker.record_success()
                return self._done(ProbeResult(target.provider, target.model, Outcome.OK, failure.status, failure.message,
                                              took))
            decision = decide(failure, attempt_on_provider=1 + self.router.policy.same_provider_retries,
                              policy=self.router.policy)
            breaker.record_failure(open_now=True, cooldown_s=decision.cooldown_s)
            logger.warning("probe of %s (%s) failed: %s%s: %s (%.0f ms)", target.provider, target.model,
                           failure.kind.value, f" {failure.status}" if failure.status else "", failure.message,
                           took * 1000)
            return self._done(ProbeResult(target.provider, target.model, Outcome.of(failure.kind), failure.status,
                                          failure.message, took))
        if state is BreakerState.HALF_OPEN:
            breaker.record_success()
            logger.info("probe of %s (%s) succeeded; provider is back", target.provider, target.model)
        else:
            logger.debug("probe of %s (%s) succeeded", target.provider, target.model)
        return self._done(ProbeResult(target.provider, target.model, Outcome.OK, duration_s=self.clock() - started))

    def _done(self, result: ProbeResult) -> ProbeResult:
        if self.on_result is not None:
            try:
                self.on_result(result)
            except Exception:  # a metrics bug must not stop the probes
                logger.exception("probe result callback failed")
        return result

    async def run(self, sleep: Sleep = asyncio.sleep) -> None:
        """Probe at once, then every ``interval`` seconds, until cancelled. While the
        (live) health-check section is disabled, look again every ``IDLE_RECHECK_S``."""
        try:
            while True:
                health = self.health
                if not health.enabled:
                    self.next_run_at = None
                    await self.aclose()
                    await sleep(IDLE_RECHECK_S)
                    continue
                try:
                    await self.probe_once()
                except asyncio.CancelledError:
                    raise
                except Exception:  # a probe round must never end the loop
                    logger.exception("probe round failed")
                self.next_run_at = self.clock() + health.interval
                await sleep(health.interval)
        finally:
            self.next_run_at = None
            await self.aclose()


_probers: weakref.WeakKeyDictionary[Any, Prober] = weakref.WeakKeyDictionary()


def prober_for(router: TppcRouter) -> Prober | None:
    """The running :class:`Prober` of ``router``, if :func:`start_probes` started one."""
    return _probers.get(router)


async def probe_once(
    router: TppcRouter,
    *,
    timeout: float | None = None,
    client: httpx.AsyncClient | None = None,
    on_result: OnResult | None = None,
) -> list[ProbeResult]:
    """Probe every (provider, model) of ``router`` once and apply the outcomes."""
    settings = router.tppc_settings.router.health_check
    if timeout is not None:
        settings = settings.model_copy(update={"timeout": timeout})
    prober = Prober(router, settings, client=client, on_result=on_result, clock=router.clock)
    try:
        return await prober.probe_once()
    finally:
        await prober.aclose()


def start_probes(
    router: TppcRouter,
    settings: Settings | HealthCheckSection | None = None,
    *,
    clock: Clock = monotonic,
    sleep: Sleep = asyncio.sleep,
    client: httpx.AsyncClient | None = None,
    on_result: OnResult | None = None,
) -> asyncio.Task[None] | None:
    """Start the background probes; cancel the task (or ``await stop_probes(task)``) to stop.

    Without ``settings`` the router's live ``router.health-check`` is read every round:
    the task always starts, and probes only while the section is enabled, so a config
    reload can turn them on or off. With ``settings`` (a whole ``Settings`` or the
    section) the schedule is fixed, and nothing starts (``None``) if it is disabled.
    Must be called with a running event loop.
    """
    section: HealthCheckSection | None = None
    if settings is not None:
        section = settings.router.health_check if isinstance(settings, Settings) else settings
        if not section.enabled:
            return None
    prober = Prober(router, section, clock=clock, client=client, on_result=on_result)
    _probers[router] = prober
    task = asyncio.get_running_loop().create_task(prober.run(sleep), name="tppc-router-probes")

    def forget(_: asyncio.Task[None]) -> None:
        if _probers.get(router) is prober:
            del _probers[router]

    task.add_done_callback(forget)
    return task


async def stop_probes(task: asyncio.Task[None] | None) -> None:
    """Cancel a task from :func:`start_probes` and wait for it to finish."""
    if task is None:
        return
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass

