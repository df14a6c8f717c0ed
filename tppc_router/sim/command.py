"""``tppc-router simulate``: run one fake provider on loopback until Ctrl-C."""

from __future__ import annotations

import threading

import click

from tppc_router.masking import mask
from tppc_router.sim.faults import Fault
from tppc_router.sim.server import ProviderSimulator

__all__ = ["describe", "simulate", "wait_for_interrupt"]


def _faults(ctx: click.Context, param: click.Parameter, specs: tuple[str, ...]) -> list[Fault]:
    try:
        return [Fault.parse(spec) for spec in specs]
    except ValueError as error:
        raise click.BadParameter(str(error), ctx=ctx, param=param) from None


def describe(sim: ProviderSimulator) -> str:
    """One line: name, URL, masked key, models and active faults."""
    key = mask(sim.config.api_key) if sim.config.api_key else "none"
    models = ", ".join(sim.config.models) or "any"
    faults = "; ".join(str(fault) for fault in sim.faults) or "none"
    return f"simulator {sim.name} at {sim.url} (api key: {key}; models: {models}; faults: {faults})"


def wait_for_interrupt() -> None:
    """Block until Ctrl-C."""
    forever = threading.Event()
    while not forever.wait(3600):
        pass


@click.command("simulate")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8400, show_default=True, type=click.IntRange(0, 65535), help="Port (0: any free).")
@click.option("--name", default="primary", show_default=True, help="Provider name, shown in answers and errors.")
@click.option("--api-key", default=None, help="Require this bearer key (default: accept any).")
@click.option("--model", "models", multiple=True, help="Model to serve; repeatable.  [default: gpt-5]")
@click.option(
    "--fault",
    "faults",
    multiple=True,
    callback=_faults,
    metavar="SPEC",
    help="Fault such as status:503, reset, stall:3,seconds=10 or flap,down=30; repeatable, tried in order.",
)
@click.option("--seed", type=int, default=None, help="Seed for faults with a probability p=.")
def simulate(
    host: str,
    port: int,
    name: str,
    api_key: str | None,
    models: tuple[str, ...],
    faults: list[Fault],
    seed: int | None,
) -> None:
    """Serve a fake OpenAI-compatible Codex provider (/v1/responses, /v1/chat/completions,
    /v1/models) with injected faults, until Ctrl-C."""
    sim = ProviderSimulator(name, api_key=api_key, models=models or ("gpt-5",), host=host, port=port, seed=seed)
    sim.set_faults(faults)
    try:
        sim.start()
    except OSError as error:
        raise click.ClickException(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    try:
        click.echo(describe(sim))
        wait_for_interrupt()
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
        click.echo(f"simulator {name} stopped")
