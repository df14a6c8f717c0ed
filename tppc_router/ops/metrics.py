"""Prometheus metrics for one router, in its own ``CollectorRegistry``.

A :class:`Metrics` is an engine observer (``on_attempt``, ``on_failover``) and a
breaker listener; :meth:`Metrics.attach` hooks it to a :class:`TppcRouter`. The
gauges that describe the configuration (providers by state, breaker states, model
groups, state backend) are computed from the router at scrape time, so they are
never stale. Nothing is registered in prometheus-client's global default registry:
two routers (or two tests) never share a metric.

Label values are provider names, model and model group names, and outcomes
(``ok`` or a failure kind), never keys or URLs; every label value also goes through
:func:`~tppc_router.masking.mask_text`.

=============================================  =======  ==================================================
metric                                         type     labels
=============================================  =======  ==================================================
``tppc_providers``                             gauge    ``state``: closed, half_open, open, disabled
``tppc_provider_enabled``                      gauge    ``provider``
``tppc_breaker_state``                         gauge    ``provider``, ``model``: 0 closed, 1 half-open, 2 open
``tppc_breaker_transitions_total``             counter  ``provider``, ``model``, ``to_state``
``tppc_model_groups``                          gauge    (failover groups; pinned ones in ``tppc_pinned_groups``)
``tppc_model_group_providers``                 gauge    ``group``
``tppc_provider_requests_total``               counter  ``provider``, ``outcome``
``tppc_provider_request_duration_seconds``     histo    ``provider``
``tppc_stream_first_token_seconds``            histo    ``provider``
``tppc_failovers_total``                       counter  ``from_provider``, ``to_provider`` (``none``), ``reason``
``tppc_tokens_total``                          counter  ``provider``, ``model``, ``kind``: input, output, reasoning
``tppc_credential_resolutions_total``          counter  ``provider``, ``source``, ``outcome``
``tppc_management_writes_total``               counter  ``outcome``
``tppc_probes_total``                          counter  ``provider``, ``outcome``
``tppc_state_backend_info``                    gauge    ``backend``: memory, redis
``tppc_state_backend_reachable``               gauge    (1 or 0; absent while unknown)
=============================================  =======  ==================================================
"""

from __future__ import annotations

import threading
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from tppc_router.envref import parse_env_reference
from tppc_router.clock import Clock, monotonic
from tppc_router.errors import Attempt, Outcome
from tppc_router.ops.logs import credential_resolutions
from tppc_router.routing.litellm_logging import token_counts
from tppc_router.masking import mask_text

if TYPE_CHECKING:
    from tppc_router.routing.breaker import BreakerState, CircuitBreaker
    from tppc_router.config.schema import Settings
    from tppc_router.routing.router import TppcRouter

__all__ = ["BREAKER_STATE_VALUES", "PROVIDER_STATES", "Metrics"]

PROVIDER_STATES: tuple[str, ...] = ("closed", "half_open", "open", "disabled")
BREAKER_STATE_VALUES: dict[str, int] = {"closed": 0, "half_open": 1, "open": 2}
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
TTFT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0)
_SOURCES = frozenset({"literal", "env", "none", "explicit"})


def _label(value: object) -> str:
    """A label value: masked, and short."""
    return mask_text(str(value))[:120]


class _ProbeResult(Protocol):
    @property
    def provider(self) -> str: ...

    @property
    def outcome(self) -> Outcome: ...


class Metrics:
    """Counters, histograms and scrape-time gauges of one router.

    ``Metrics()`` makes its own ``CollectorRegistry``; pass ``registry=`` to share one
    deliberately. ``render()`` gives the Prometheus text format.
    """

    def __init__(self, registry: CollectorRegistry | None = None, *, clock: Clock = monotonic) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=False)
        self.clock = clock
        self._router: TppcRouter | None = None
        self._lock = threading.Lock()
        self._backend_reachable: bool | None = None
        self._reachable_check: Callable[[], bool | None] | None = None
        r = self.registry
        self.requests = Counter("tppc_provider_requests", "Attempts against a provider, by outcome (ok or failure kind).",
                                ["provider", "outcome"], registry=r)
        self.latency = Histogram("tppc_provider_request_duration_seconds",
                                 "Duration of each attempt (streams: until the first content).", ["provider"],
                                 buckets=LATENCY_BUCKETS, registry=r)
        self.ttft = Histogram("tppc_stream_first_token_seconds",
                              "Time to first token of a stream, from the serving provider's attempt start.",
                              ["provider"], buckets=TTFT_BUCKETS, registry=r)
        self.failovers = Counter("tppc_failovers", "Failovers from one provider to the next (to_provider none: "
                                 "no provider left).", ["from_provider", "to_provider", "reason"], registry=r)
        self.tokens = Counter("tppc_tokens", "Tokens of answered calls, by provider, model and kind (input, output, "
                              "reasoning; reasoning is part of output).", ["provider", "model", "kind"], registry=r)
        self.breaker_transitions = Counter("tppc_breaker_transitions", "Breaker state changes.",
                                           ["provider", "model", "to_state"], registry=r)
        self.credentials = Counter("tppc_credential_resolutions", "Provider key resolutions, by source and outcome.",
                                   ["provider", "source", "outcome"], registry=r)
        self.management_writes = Counter("tppc_management_writes", "Management API writes, by outcome.", ["outcome"],
                                         registry=r)
        self.probes = Counter("tppc_probes", "Active health-check probes, by provider and outcome.",
                              ["provider", "outcome"], registry=r)
        r.register(_RouterCollector(self))

    def forget_providers(self, names: Iterable[str]) -> None:
        """Drop every series labelled with one of ``names`` (providers no longer configured), so
        deleted providers do not stay in /metrics forever."""
        gone = set(names)
        if not gone:
            return
        labelled = ((self.requests, ("provider", "outcome")), (self.latency, ("provider",)),
                    (self.ttft, ("provider",)), (self.failovers, ("from_provider", "to_provider", "reason")),
                    (self.tokens, ("provider", "model", "kind")),
                    (self.breaker_transitions, ("provider", "model", "to_state")),
                    (self.credentials, ("provider", "source", "outcome")), (self.probes, ("provider", "outcome")))
        for metric, names_ in labelled:
            series = {tuple(sample.labels[n] for n in names_) for family in metric.collect()
                      for sample in family.samples if all(n in sample.labels for n in names_)}
            for values in series:
                if gone & {v for n, v in zip(names_, values, strict=True) if "provider" in n}:
                    metric.remove(*values)

    # -- wiring ---------------------------------------------------------------------

    @property
    def router(self) -> TppcRouter | None:
        return self._router

    def attach(self, router: TppcRouter) -> Metrics:
        """Observe ``router``'s engine and breakers, count its credential resolutions,
        and describe it at scrape time. A Metrics serves one router."""
        if self._router is router:
            return self
        if self._router is not None:
            raise ValueError("this Metrics is already attached to another router")
        self._router = router
        self.clock = router.clock
        router.observer.add(self)
        router.breakers.add_listener(self.on_breaker_change)
        self.record_credentials(router.tppc_settings)
        return self

    def render(self) -> bytes:
        """The Prometheus text exposition of this registry."""
        return generate_latest(self.registry)

    # -- engine observer --------------------------------------------------------------

    def on_attempt(self, attempt: Attempt) -> None:
        if attempt.outcome is Outcome.SKIPPED:
            return
        provider = _label(attempt.provider)
        self.requests.labels(provider, _label(attempt.outcome.value)).inc()
        self.latency.labels(provider).observe(max(0.0, attempt.duration_s))

    def on_failover(self, group: str, from_provider: str, to_provider: str | None, reason: str, seconds: float) -> None:
        to = "none" if to_provider is None else to_provider
        self.failovers.labels(_label(from_provider), _label(to), _label(reason)).inc()

    def on_stream_start(self, provider: str, group: str, seconds: float) -> None:
        """A stream's first content arrived ``seconds`` after its provider was asked."""
        self.ttft.labels(_label(provider)).observe(max(0.0, seconds))

    def on_call_done(self, record: Any) -> None:
        """A logical call is over: count the tokens its provider reported (every path: raw
        Responses, litellm chat, streams, library)."""
        provider = getattr(record, "provider", None)
        usage = getattr(record, "usage", None)
        if not provider or usage is None:
            return
        model = getattr(record, "model", None)
        if not model and self._router is not None:
            targets = self._router.targets(record.group)
            model = targets[0].model if targets else None
        counts = token_counts(usage)
        for kind, count in zip(("input", "output", "reasoning"), counts, strict=True):
            if count:
                self.tokens.labels(_label(provider), _label(model or record.group), kind).inc(count)

    # -- breaker listener -------------------------------------------------------------

    def on_breaker_change(self, breaker: CircuitBreaker, old: BreakerState, new: BreakerState) -> None:
        self.breaker_transitions.labels(_label(breaker.provider), _label(breaker.model), new.value).inc()

    # -- other events -----------------------------------------------------------------

    def record_credential_resolution(self, provider: str, source: str, outcome: str) -> None:
        """One key resolution: ``source`` literal/env/none/explicit (an ``os.environ/NAME``
        reference counts as ``env``); ``outcome`` resolved/missing/none."""
        if parse_env_reference(source) is not None:
            source = "env"
        self.credentials.labels(_label(provider), source if source in _SOURCES else "other", _label(outcome)).inc()

    def record_credentials(self, settings: Settings) -> None:
        """Count every provider's key resolution in freshly loaded ``settings``."""
        for row in credential_resolutions(settings):
            self.record_credential_resolution(row.provider, row.source, row.outcome)

    def record_management_write(self, outcome: str) -> None:
        """One management write: ``ok``, ``invalid``, ``unauthorized``, ``conflict``, ``error``..."""
        self.management_writes.labels(_label(outcome)).inc()

    def record_probe(self, result: _ProbeResult) -> None:
        """One active health-check probe (a :class:`tppc_router.ops.probes.ProbeResult`)."""
        self.probes.labels(_label(result.provider), _label(result.outcome.value)).inc()

    def set_state_backend_reachable(self, reachable: bool | None) -> None:
        """Report whether the shared state backend (redis) answers; ``None``: unknown."""
        with self._lock:
            self._backend_reachable = reachable

    def set_state_backend_check(self, check: Callable[[], bool | None] | None) -> None:
        """A quick, non-blocking check called at scrape time instead of the stored value."""
        with self._lock:
            self._reachable_check = check

    def state_backend(self) -> tuple[str, bool | None]:
        """(backend, reachable): a check set here wins, then what the router's breaker
        registry reports (``TppcRouter.state_backend_info()``); memory is always reachable."""
        router = self._router
        backend = router.tppc_settings.router.state.backend if router is not None else "memory"
        with self._lock:
            check, reachable = self._reachable_check, self._backend_reachable
        if check is not None:
            try:
                return backend, check()
            except Exception:  # noqa: BLE001 - a failing check means "not reachable"
                return backend, False
        info = getattr(router, "state_backend_info", None)
        if callable(info):
            try:
                reported = info()
                return str(reported.get("backend", backend)), reported.get("reachable")
            except Exception:  # noqa: BLE001 - a metrics scrape must not fail on it
                return backend, None
        return backend, True if backend == "memory" else reachable


class _RouterCollector(Collector):
    """Scrape-time gauges computed from the attached router."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def describe(self) -> Iterable[Any]:
        return []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        metrics = self.metrics
        router = metrics.router
        backend, reachable = metrics.state_backend()
        info = GaugeMetricFamily("tppc_state_backend_info", "The breaker state backend in use.", labels=["backend"])
        info.add_metric([backend], 1)
        yield info
        if reachable is not None:
            yield GaugeMetricFamily("tppc_state_backend_reachable", "1 when the state backend answers.",
                                    value=1 if reachable else 0)
        if router is None:
            return
        yield from _provider_gauges(router)
        yield from _group_gauges(router)


def _provider_gauges(router: TppcRouter) -> Iterator[GaugeMetricFamily]:
    by_state: Tally[str] = Tally()
    enabled = GaugeMetricFamily("tppc_provider_enabled", "1 when a configured provider is enabled.",
                                labels=["provider"])
    breaker = GaugeMetricFamily("tppc_breaker_state", "Breaker state: 0 closed, 1 half-open, 2 open.",
                                labels=["provider", "model"])
    for row in router.provider_states():
        name = _label(row.name)
        by_state[row.state] += 1
        enabled.add_metric([name], 1 if row.enabled else 0)
        for b in row.breakers:
            breaker.add_metric([name, _label(b.model)], BREAKER_STATE_VALUES.get(b.state.value, 0))
    providers = GaugeMetricFamily("tppc_providers", "Configured providers by state (breaker state, or disabled).",
                                  labels=["state"])
    for state in PROVIDER_STATES:
        providers.add_metric([state], by_state.get(state, 0))
    yield providers
    yield enabled
    yield breaker


def _group_gauges(router: TppcRouter) -> Iterator[GaugeMetricFamily]:
    shared = GaugeMetricFamily("tppc_model_group_providers", "Providers serving each failover model group.",
                               labels=["group"])
    count = pinned = 0
    for group in router.model_groups():
        targets = router.targets(group)
        if targets and all(t.call_group == group for t in targets):
            pinned += 1
            continue
        count += 1
        shared.add_metric([_label(group)], len({t.provider for t in targets}))
    yield GaugeMetricFamily("tppc_model_groups", "Registered failover model groups.", value=count)
    yield GaugeMetricFamily("tppc_pinned_groups", "Registered pinned groups (<provider>/<model>).", value=pinned)
    yield shared
