"""``tppc-router serve``: load the config, say what will be served, run the gateway.

Exit status 2 when the config is invalid (each problem on its own line on stderr).
"""

from __future__ import annotations

import errno
import os
import socket
import sys
from pathlib import Path
from urllib.parse import urlsplit

import click

from tppc_router.cli.main import CONFIG_ERROR_EXIT, config_option, resolve_config
from tppc_router.config.sanitize import management_key_problem
from tppc_router.config.schema import Settings
from tppc_router.config.deployments import credential_chain
from tppc_router.config.warnings import config_warnings
from tppc_router.config.litellm_settings import apply_litellm_settings
from tppc_router.errors import ConfigError
from tppc_router.config.loader import load_settings, parse_yaml, settings_from_data
from tppc_router.ops.logs import attach, configure_logging, log_credentials
from tppc_router.masking import get_logger

__all__ = ["PORT_IN_USE_EXIT", "bind", "load_for_serving", "serve", "startup_lines"]

logger = get_logger("tppc_router.cli.serve")

MANAGEMENT_PATH = "/v0/management/tppc"
MANAGEMENT_KEY_ENV = "TPPC_MANAGEMENT_KEY"
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")
PORT_IN_USE_EXIT = 2


def load_for_serving(path: Path, tppc: bool | None) -> tuple[Settings, list[str]]:
    """The settings to serve, and the problems set aside.

    With ``--no-tppc`` (``tppc`` False) the tppc section is not validated: when it is the only
    part with problems, the rest of the file is served without it (the rollback switch must
    start precisely when the tppc section is broken) and its problems are returned as
    warnings. Any other problem raises :class:`ConfigError` as usual.
    """
    try:
        return load_settings(path), []
    except ConfigError as exc:
        tppc_only = [p for p in exc.problems if p.startswith(("tppc.", "tppc:"))]
        if tppc is not False or not tppc_only or len(tppc_only) != len(exc.problems):
            raise
        data = dict(parse_yaml(path.read_text(encoding="utf-8"), str(path)))
        data.pop("tppc", None)
        return settings_from_data(data, source=str(path)), tppc_only


def bind(host: str, port: int) -> socket.socket:
    """A listening-ready socket on ``host:port``; exits 2 naming the port when it is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        shown = f"[{host}]" if ":" in host else host
        if exc.errno == errno.EADDRINUSE:
            reason = "is already in use (another tppc-router or program listens there)"
        elif exc.errno == errno.EACCES:
            reason = "needs privileges this user does not have"
        else:
            reason = f"cannot be bound ({exc.strerror or exc})"
        click.echo(f"error: port {port} on {shown} {reason}; choose another port with --port "
                   "or server.port in the config", err=True)
        sys.exit(PORT_IN_USE_EXIT)
    sock.set_inheritable(True)
    return sock


def _host(url: str) -> str:
    """The host (and port) of ``url``; credentials in its userinfo are never shown."""
    return urlsplit(url).netloc.rpartition("@")[2] or "-"


def startup_lines(settings: Settings, host: str, port: int, *, env: dict[str, str] | None = None) -> list[str]:
    """What the startup log says: each provider, the models, where the management API is."""
    env = dict(os.environ) if env is None else env
    priorities = {c.provider: c.priority for c in credential_chain(settings)}
    lines: list[str] = []
    legacy = settings.packycode
    if legacy.enabled or legacy.base_url:
        key = legacy.credentials.openai_api_key
        lines.append(f"provider packycode (legacy): {'enabled' if legacy.enabled else 'disabled'}, "
                     f"host {_host(legacy.base_url)}, key {key.masked if key else '-'}, "
                     f"priority {priorities.get('packycode', '-')}")
    for p in settings.tppc.providers:
        serving = p.name in priorities and p.enabled
        lines.append(f"provider {p.name or '<unnamed>'}: {'enabled' if serving else 'disabled'}, "
                     f"host {_host(p.base_url)}, key {p.api_key.masked if p.api_key else '-'}, "
                     f"priority {priorities.get(p.name, '-') if serving else '-'}")
    if not priorities:
        lines.append("no provider is enabled: every model request will fail")
    groups = sorted({m for c in credential_chain(settings) for m in c.models})
    pinned = [f"{c.provider}/{m}" for c in credential_chain(settings) for m in c.models]
    lines.append(f"models: {', '.join(groups + pinned) or 'none'}")
    shown = f"[{host}]" if ":" in host else host
    keys = "required" if settings.server.api_keys else "not required"
    lines.append(f"gateway: http://{shown}:{port}/v1 (api key {keys})")
    if settings.remote_management.secret_key is not None or env.get(MANAGEMENT_KEY_ENV):
        lines.append(f"management API: http://{shown}:{port}{MANAGEMENT_PATH}")
    else:
        lines.append(f"management API: disabled (set remote-management.secret-key or {MANAGEMENT_KEY_ENV})")
    return lines


@click.command("serve")
@config_option
@click.option("--host", default=None, help="Address to bind. Default: server.host (127.0.0.1).")
@click.option("--port", type=click.IntRange(0, 65535), default=None, help="Port. Default: server.port (8317).")
@click.option("--tppc/--no-tppc", "tppc", default=None,
              help="--no-tppc: serve no tppc provider and do not check the tppc section (the rollback switch: "
                   "packycode keeps serving). --tppc: serve the enabled tppc providers (never a disabled one). "
                   "Default: as in the file.")
@click.option("--log-level", type=click.Choice(LOG_LEVELS, case_sensitive=False), default="info", show_default=True)
@click.option("--log-format", type=click.Choice(("text", "json")), default="text", show_default=True)
@click.option("--litellm-log-level", type=click.Choice(LOG_LEVELS, case_sensitive=False), default="warning",
              show_default=True, help="Level of LiteLLM's own loggers (LiteLLM, LiteLLM Router, LiteLLM Proxy).")
def serve(config: Path | None, host: str | None, port: int | None, tppc: bool | None, log_level: str,
          log_format: str, litellm_log_level: str) -> None:
    """Run the OpenAI-compatible gateway (/v1) with failover across the configured providers."""
    import uvicorn

    from tppc_router.server.app import create_app
    from tppc_router.server.serving import uvicorn_config

    configure_logging(log_level.upper(), "json" if log_format == "json" else "text",
                      litellm_level=litellm_log_level.upper())
    path = resolve_config(config)
    try:
        settings, set_aside = load_for_serving(path, tppc)
    except ConfigError as exc:
        click.echo(f"error: invalid config ({exc.source or path}):", err=True)
        for problem in exc.problems:
            click.echo(problem, err=True)
        sys.exit(CONFIG_ERROR_EXIT)
    short = management_key_problem(os.environ.get(MANAGEMENT_KEY_ENV, "").strip(), MANAGEMENT_KEY_ENV)
    if short is not None:
        click.echo(f"error: {short}", err=True)
        sys.exit(CONFIG_ERROR_EXIT)
    try:  # LiteLLM callbacks and options: imported and applied once, here (never on a live reload)
        applied = apply_litellm_settings(settings.litellm_settings, base=path.parent if path else None)
    except ConfigError as exc:
        click.echo(f"error: invalid config ({path}):", err=True)
        for problem in exc.problems:
            click.echo(problem, err=True)
        sys.exit(CONFIG_ERROR_EXIT)
    host = host or settings.server.host
    port = settings.server.port if port is None else port
    sock = bind(host, port)  # before anything else starts: a port in use is a clear exit 2
    port = sock.getsockname()[1]
    for problem in set_aside:
        logger.warning("--no-tppc: the tppc section is not served and not checked: %s", problem)
    for warning in config_warnings(settings):
        logger.warning("config: %s", warning)
    app = create_app(settings, config_path=path, tppc_override=tppc)
    runtime = app.state.runtime
    log_credentials(runtime.settings)
    for line in startup_lines(runtime.settings, host, port):
        logger.info(line)
    for line in applied:
        logger.info("litellm-settings: %s", line)
    attach(runtime.router, log_now=False)  # breaker changes are logged from now on
    server = uvicorn.Server(uvicorn_config(app, runtime.settings, host=host, port=port, log_level=log_level))
    logger.info("listening on http://%s:%d", f"[{host}]" if ":" in host else host, port)
    server.run(sockets=[sock])
