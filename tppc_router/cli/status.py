"""``tppc-router status``: a running server's providers, states and recent error rates.

The server is ``--url`` (or ``TPPC_URL``); without it, the host and port of the config
file (``-c FILE``, ``TPPC_CONFIG``, then ``./config.yaml`` when it exists; the
``TPPC_SERVER__HOST`` / ``TPPC_SERVER__PORT`` overrides apply), else
``http://127.0.0.1:8317``. It reads ``/readyz`` and ``/status`` (public, no key needed), and with a
management key (``--management-key`` or ``TPPC_MANAGEMENT_KEY``) also
``/v0/management/tppc`` for each provider's host, masked key and key source. It
does not import litellm, so it starts at once.

Exit status: 0 ready, 1 reachable but not ready (every provider's breaker open),
2 the server could not be reached or answered something unexpected.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
import httpx

from tppc_router.cli.main import config_option, resolve_config
from tppc_router.errors import ConfigError
from tppc_router.masking import mask, mask_text, mask_url

__all__ = ["DEFAULT_URL", "fetch_status", "status", "url_from_config"]

DEFAULT_URL = "http://127.0.0.1:8317"
MANAGEMENT_PATH = "/v0/management/tppc"
EXIT_READY, EXIT_NOT_READY, EXIT_UNREACHABLE = 0, 1, 2


class StatusError(click.ClickException):
    exit_code = EXIT_UNREACHABLE


def _connect_host(host: str) -> str:
    """Where to reach a server bound to ``host``: a wildcard address means this machine."""
    host = host.strip() or "127.0.0.1"
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "[::]": "::1"}.get(host, host)
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def url_from_config(path: Path, env: dict[str, str] | None = None) -> str:
    """``http://HOST:PORT`` from the config's ``server:`` section and its ``TPPC_SERVER__*`` overrides.

    Only the server section is read (nothing else is validated and litellm is not imported);
    raises :class:`ConfigError` when the file cannot be read or the port is not a port.
    """
    from tppc_router.config.loader import parse_yaml
    from tppc_router.config.schema import ServerSection

    env = dict(os.environ) if env is None else env
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"<file>: {path} does not exist (use -c FILE, TPPC_CONFIG or --url)"],
                          source=str(path)) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError([f"<file>: cannot read {path}: {error}"], source=str(path)) from None
    server = parse_yaml(text, str(path)).get("server") or {}
    if not isinstance(server, dict):
        raise ConfigError(["server: must be a mapping"], source=str(path))
    defaults = ServerSection()
    host = env.get("TPPC_SERVER__HOST") or server.get("host") or defaults.host
    port = env.get("TPPC_SERVER__PORT") or server.get("port", defaults.port)
    try:
        number = int(port)
    except (TypeError, ValueError):
        number = -1
    if isinstance(port, bool) or not 0 < number <= 65535:
        raise ConfigError([f"server.port: must be a port number from 1 to 65535 (got {port!r})"], source=str(path))
    return f"http://{_connect_host(str(host))}:{number}"


def _server_url(url: str | None, config: Path | None) -> str:
    """``--url``/``TPPC_URL``, else the config file's server, else :data:`DEFAULT_URL`."""
    if url:
        return url
    explicit = config is not None or bool(os.environ.get("TPPC_CONFIG"))
    path = resolve_config(config)
    if not explicit and not path.exists():
        return DEFAULT_URL
    try:
        return url_from_config(path)
    except ConfigError as error:
        for problem in error.problems:
            click.echo(f"error: {error.source or path}: {problem}", err=True)
        raise SystemExit(EXIT_UNREACHABLE) from None


def _get(client: httpx.Client, path: str, *, ok: tuple[int, ...] = (200,)) -> dict[str, Any] | None:
    """GET ``path`` as JSON; None for 404 (an older server)."""
    try:
        response = client.get(path)
    except httpx.HTTPError as error:
        raise StatusError(f"cannot reach {mask_url(str(client.base_url))}: {mask_text(str(error)) or type(error).__name__}"
                          ) from None
    if response.status_code == 404:
        return None
    if response.status_code not in ok:
        raise StatusError(f"{path}: HTTP {response.status_code}")
    try:
        data = response.json()
    except ValueError:
        raise StatusError(f"{path}: the answer is not JSON") from None
    if not isinstance(data, dict):
        raise StatusError(f"{path}: the answer is not a JSON object")
    return data


def _management(client: httpx.Client, key: str) -> dict[str, Any]:
    """The management view of the providers, or ``{"error": why}``: it only adds columns, so it never fails."""
    try:
        response = client.get(MANAGEMENT_PATH, headers={"x-management-key": key})
    except httpx.HTTPError as error:
        return {"error": f"management API: {mask_text(str(error)) or type(error).__name__}"}
    if response.status_code in (401, 403):
        return {"error": "the management API refused the key"}
    if response.status_code == 404:
        return {"error": "the management API is off on this server"}
    try:
        data = response.json() if response.status_code == 200 else None
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("tppc"), dict):
        data = data["tppc"]  # GET /v0/management/tppc answers {"tppc": {...}}
    if not isinstance(data, dict) or not isinstance(data.get("providers"), list):
        return {"error": f"management API: unexpected answer (HTTP {response.status_code})"}
    return data


def _host(url: object) -> str:
    try:
        parts = urlsplit(str(url))
    except ValueError:
        return "-"
    if not parts.hostname:
        return "-"
    return f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname


def _shown_key(value: object) -> str:
    """A key as the management API gave it, masked again in case it was not."""
    if not isinstance(value, str) or not value:
        return "-"
    return value if "..." in value or set(value) == {"*"} else mask(value)


def fetch_status(url: str, *, management_key: str | None = None, timeout: float = 5.0) -> dict[str, Any]:
    """Everything ``status`` shows, as one JSON-able dict (no keys, no URLs with credentials)."""
    with httpx.Client(base_url=url.rstrip("/"), timeout=timeout, follow_redirects=False) as client:
        ready = _get(client, "/readyz", ok=(200, 503))
        if ready is None:
            raise StatusError(f"{mask_url(url)} has no /readyz: is it a tppc-router gateway?")
        public = _get(client, "/status") or {}
        management = _management(client, management_key) if management_key else None
    providers: dict[str, dict[str, Any]] = {}
    for row in public.get("providers", []):
        if isinstance(row, dict) and "name" in row:
            providers[str(row["name"])] = dict(row)
    for row in (management or {}).get("providers", []):
        if not isinstance(row, dict) or "name" not in row:
            continue
        merged = providers.setdefault(str(row["name"]), {"name": row["name"], "enabled": row.get("enabled")})
        merged.setdefault("state", row.get("state"))
        merged.setdefault("priority", row.get("priority"))
        merged["host"] = _host(row.get("base-url") or row.get("base_url") or "")
        merged["key"] = _shown_key(row.get("api-key") or row.get("api_key"))
        merged["key_source"] = row.get("api-key-source") or row.get("api_key_source") or "-"
    out: dict[str, Any] = {
        "url": mask_url(url),
        "ready": ready.get("status") == "ready",
        "readyz": ready,
        "providers": list(providers.values()),
        "model_groups": public.get("model_groups", []),
        "state_backend": public.get("state_backend"),
        "health_check": public.get("health_check"),
    }
    if management is not None and "error" in management:
        out["management_error"] = management["error"]
    return out


def _cell(value: object, suffix: str = "") -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}{suffix}"
    return f"{value}{suffix}"


def _print(data: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(markup=False, highlight=False, emoji=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = 160
    readyz = data["readyz"]
    if data["ready"]:
        console.print(f"{data['url']}: ready ({', '.join(readyz.get('available', [])) or '-'} available)")
    else:
        console.print(f"{data['url']}: NOT READY: {readyz.get('reason', 'unknown reason')}")
    with_keys = any("key" in p for p in data["providers"])
    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    columns = ["provider", "enabled", "priority", "state", "requests", "error rate", "last latency", "failovers",
               "next try"]
    if with_keys:
        columns += ["host", "key", "key source"]
    for column in columns:
        table.add_column(column, no_wrap=True)
    for p in data["providers"]:
        rate = p.get("error_rate")
        row = [
            _cell(p.get("name")),
            _cell(p.get("enabled")),
            _cell(p.get("priority")),
            _cell(p.get("state")),
            _cell(p.get("requests")),
            "-" if rate is None else f"{float(rate) * 100:.1f}%",
            _cell(p.get("last_latency_ms"), " ms"),
            _cell(p.get("failovers")),
            _cell(p.get("next_probe_in_s"), " s"),
        ]
        if with_keys:
            row += [_cell(p.get("host")), _cell(p.get("key")), _cell(p.get("key_source"))]
        table.add_row(*row)
    console.print(table)
    groups = data.get("model_groups") or []
    if groups:
        console.print("models: " + "; ".join(f"{g['group']} -> {', '.join(g['providers'])}" for g in groups))
    backend = data.get("state_backend")
    if isinstance(backend, dict):
        reach = backend.get("reachable")
        shown = "unknown" if reach is None else ("reachable" if reach else "UNREACHABLE")
        console.print(f"state backend: {backend.get('backend')} ({shown})")
    if data.get("management_error"):
        console.print(f"management: {data['management_error']}")


@click.command("status")
@config_option
@click.option("--url", default=None, envvar="TPPC_URL",
              help="The gateway's base URL (env TPPC_URL). Default: server.host and server.port of the config "
                   f"file, else {DEFAULT_URL}.")
@click.option("--management-key", default=None, envvar="TPPC_MANAGEMENT_KEY", show_envvar=True,
              help="Also show hosts, masked keys and key sources from the management API.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--timeout", default=5.0, show_default=True, type=click.FloatRange(min=0.1), help="Seconds per request.")
def status(config: Path | None, url: str | None, management_key: str | None, as_json: bool, timeout: float) -> None:
    """Show a running server's providers, breaker states and recent error rates.

    Exits 0 when the server is ready, 1 when every provider's breaker is open, 2 when
    it cannot be reached (or the config file cannot be read).
    """
    url = _server_url(url, config)
    data = fetch_status(url, management_key=management_key, timeout=timeout)
    if as_json:
        click.echo(json.dumps(data, indent=2))
    else:
        _print(data)
    if not data["ready"]:
        click.get_current_context().exit(EXIT_NOT_READY)
