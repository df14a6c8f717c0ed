"""``tppc-router demo``: failover on simulated providers, no keys, no network.

Three simulated providers run on loopback behind a :class:`TppcRouter` built
from an embedded config. The primary then fails in several ways while requests
keep flowing; each line shows who answered, what was tried, the breaker states
and the latency.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from tppc_router.errors import StreamInterruptedError, TppcRouterError
from tppc_router.config.loader import load_settings
from tppc_router.sim import Fault, ProviderSimulator

__all__ = ["demo", "run_demo"]

DEMO_KEYS = {"primary": "sk-demo-primary-0001", "backup": "sk-demo-backup-0002", "tertiary": "sk-demo-tertiary-0003"}
MESSAGES = [{"role": "user", "content": "Say hello"}]


def demo_config(sims: dict[str, ProviderSimulator]) -> str:
    providers = "\n".join(
        f'    - {{name: {name}, base-url: "{sim.url}", api-key: {DEMO_KEYS[name]}}}' for name, sim in sims.items()
    )
    return f"""
tppc:
  models: [gpt-5]
  providers:
{providers}
router:
  failure-threshold: 2
  cooldown: 2
  first-byte-timeout: 1
  stream-idle-timeout: 2
"""


@dataclass(frozen=True)
class Step:
    phase: str
    fault: str | None  # applied to the primary before the step; None clears it
    call: str  # "chat", "responses", "chat-stream", "responses-stream"
    pause: float = 0.0  # seconds to wait before the step


STEPS: tuple[Step, ...] = (
    Step("all healthy", None, "chat"),
    Step("all healthy", None, "responses-stream"),
    Step("primary returns 500", "status:500", "chat"),
    Step("breaker open: primary skipped", "status:500", "responses"),
    Step("breaker open: primary skipped", "status:500", "chat-stream"),
    Step("primary recovers, cooldown over: probe", None, "chat", pause=2.2),
    Step("back on the primary", None, "responses"),
    Step("primary resets connections", "reset", "responses-stream"),
    Step("primary silent (first-byte timeout 1 s)", "no-response", "chat-stream", pause=2.2),
    Step("primary 429 with Retry-After: 30", "status:429,retry-after=30", "responses", pause=2.2),
    Step("primary rate-limited: skipped", None, "chat"),
    Step("backup cut mid-stream after content", None, "backup-cut"),
)


def _call(router: Any, kind: str) -> tuple[str, str, list[dict[str, Any]]]:
    """Run one request; return (provider, answer snippet, attempts)."""
    if kind == "chat":
        result = router.completion(model="gpt-5", messages=MESSAGES)
        return result._hidden_params["tppc_provider"], result.choices[0].message.content, \
            result._hidden_params["tppc_attempts"]
    if kind == "responses":
        result = router.responses(model="gpt-5", input="Say hello")
        return result._hidden_params["tppc_provider"], result.output_text, result._hidden_params["tppc_attempts"]
    if kind == "chat-stream":
        stream = router.completion(model="gpt-5", messages=MESSAGES, stream=True)
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        return stream.provider, text, [a.as_dict() for a in stream.attempts]
    stream = router.responses(model="gpt-5", input="Say hello", stream=True)
    text = "".join(getattr(e, "delta", "") or "" for e in stream if "output_text.delta" in str(e.type))
    return stream.provider, text, [a.as_dict() for a in stream.attempts]


def _attempts_text(attempts: list[dict[str, Any]]) -> str:
    return " → ".join(f"{a['provider']}:{a['outcome']}" for a in attempts)


def run_demo(console: Console, *, on_step: Callable[[int], None] | None = None) -> int:
    """Run every step; return the number of requests that got no answer (expected: 1, the cut stream)."""
    import logging
    import warnings

    from tppc_router.routing.failover import set_testing
    from tppc_router.routing.router import TppcRouter

    set_testing(False)
    warnings.filterwarnings("ignore", category=UserWarning)  # litellm's pydantic serializer chatter
    logging.getLogger("tppc_router").setLevel(logging.ERROR)  # the table shows every failover
    sims = {name: ProviderSimulator(name=name, api_key=key).start() for name, key in DEMO_KEYS.items()}
    try:
        router = TppcRouter(load_settings(text=demo_config(sims)))
        table = Table(title="tppc-router demo: three simulated providers, the primary failing on purpose")
        for column in ("#", "what happens", "request", "answered by", "attempts", "breakers (p/b/t)", "ms"):
            table.add_column(column)
        failures = 0
        for number, step in enumerate(STEPS, start=1):
            if step.pause:
                time.sleep(step.pause)
            if step.call == "backup-cut":
                sims["primary"].set_fault(Fault.parse("status:500"))
                sims["backup"].set_fault(Fault.parse("cut-after:22"))
                kind = "responses-stream"
            else:
                if step.fault is None:
                    sims["primary"].clear_faults()
                else:
                    sims["primary"].set_fault(Fault.parse(step.fault))
                kind = step.call
            started = time.perf_counter()
            try:
                provider, _text, attempts = _call(router, kind)
                answered = f"[green]{provider}[/green]"
            except StreamInterruptedError as exc:
                failures += 1
                provider, attempts = exc.provider, []
                answered = f"[red]interrupted[/red] ({exc.provider}, {len(exc.text)} chars delivered)"
            except TppcRouterError as exc:
                failures += 1
                attempts = []
                answered = f"[red]{type(exc).__name__}[/red]"
            elapsed = (time.perf_counter() - started) * 1000
            states = "/".join(s.state for s in router.provider_states())
            table.add_row(str(number), step.phase, kind, answered, _attempts_text(attempts), states, f"{elapsed:.0f}")
            if on_step is not None:
                on_step(number)
        console.print(table)
        console.print(
            "Every request but the last was answered. The last shows a stream cut after content reached the "
            "caller: it ends with StreamInterruptedError, never as if it were complete."
        )
        router.close()
        return failures
    finally:
        for sim in sims.values():
            sim.stop()


@click.command()
def demo() -> None:
    """Show failover on simulated providers (no keys, no network, under a minute)."""
    console = Console()
    if not console.is_terminal:  # piped or captured: keep the table readable, not squeezed into 80 columns
        console = Console(width=160)
    failures = run_demo(console)
    if failures != 1:
        raise SystemExit(1)
