"""``tppc-router``: a click group with one subcommand per job.

``validate``, ``models``, ``export`` and ``migrate`` live here. Any other command
lives in its own module and is listed in :data:`LAZY_COMMANDS` (``"name":
"module:attr"``) with a one-line :data:`LAZY_HELP`: ``--help`` lists it without
importing it, and its module is imported only when the command runs. A command
that needs litellm imports it inside its function, after
``os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")``
(:func:`tppc_router.routing._litellm.load_litellm` does both). Use :func:`config_option`
and :func:`resolve_config` for ``-c/--config``.

A :class:`~tppc_router.errors.ConfigError` from any command prints its problems
on stderr, one per line, and exits with status 2.
"""

from __future__ import annotations

import importlib
import json
import functools
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import click

from tppc_router.errors import ConfigError
from tppc_router.config.loader import config_path

if TYPE_CHECKING:
    from rich.console import Console

    from tppc_router.config.schema import Settings

__all__ = ["LAZY_COMMANDS", "LAZY_HELP", "TppcGroup", "config_option", "main", "resolve_config"]

# Commands implemented in other modules: name -> "module:attr". Extend both dicts together.
LAZY_COMMANDS: dict[str, str] = {
    "demo": "tppc_router.cli.demo:demo",
    "serve": "tppc_router.cli.serve:serve",
    "simulate": "tppc_router.sim.command:simulate",
    "status": "tppc_router.cli.status:status",
}
LAZY_HELP: dict[str, str] = {
    "demo": "Show failover on simulated providers (no keys, no network).",
    "serve": "Run the OpenAI-compatible gateway with failover and the management API.",
    "simulate": "Run one fake provider on loopback until Ctrl-C.",
    "status": "Show a running gateway's providers, breaker states and error rates.",
}

CONFIG_ERROR_EXIT = 2
_F = TypeVar("_F", bound=Callable[..., Any])


def _unavailable(name: str, target: str, error: Exception) -> click.Command:
    """A stand-in for a command whose module can't be imported: it says why and exits 1."""

    def run() -> None:
        raise click.ClickException(f"the {name!r} command is not available ({target}: {error})")

    return click.Command(name, callback=run, help=f"(not available: {error})")


class TppcGroup(click.Group):
    """A group that imports :data:`LAZY_COMMANDS` on use and turns a ConfigError into exit 2."""

    def __init__(
        self,
        *args: Any,
        lazy_commands: Mapping[str, str] | None = None,
        lazy_help: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands: Mapping[str, str] = LAZY_COMMANDS if lazy_commands is None else lazy_commands
        self.lazy_help: Mapping[str, str] = LAZY_HELP if lazy_help is None else lazy_help

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None or cmd_name not in self.lazy_commands:
            return command
        target = self.lazy_commands[cmd_name]
        module_name, _, attr = target.partition(":")
        try:
            loaded = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as error:
            return _unavailable(cmd_name, target, error)
        if not isinstance(loaded, click.Command):
            return _unavailable(cmd_name, target, TypeError(f"{attr} is not a click command"))
        return loaded

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List every command; lazy ones by :data:`LAZY_HELP`, so nothing is imported."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            command = self.commands.get(name)
            if command is None:
                rows.append((name, self.lazy_help.get(name, "")))
            elif not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as error:
            _report(error)
            ctx.exit(CONFIG_ERROR_EXIT)


def _report(error: ConfigError) -> None:
    where = f" ({error.source})" if error.source else ""
    click.echo(f"error: invalid config{where}:", err=True)
    for problem in error.problems:
        click.echo(problem, err=True)


def config_option(function: _F) -> _F:
    """``-c/--config FILE`` on a subcommand; resolve it with :func:`resolve_config`."""
    option = click.option(
        "-c",
        "--config",
        "config",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Config file (default: $TPPC_CONFIG, then ./config.yaml).",
    )
    return option(function)


def config_file_argument(function: _F) -> _F:
    """``-c FILE`` plus an optional positional ``FILE`` (``tppc-router validate config.yaml``)."""

    @functools.wraps(function)
    def wrapper(*args: Any, file: Path | None = None, config: Path | None = None, **kwargs: Any) -> Any:
        if file is not None and config is not None and file != config:
            raise click.UsageError("give the config file either as FILE or with -c, not both")
        return function(*args, config=file or config, **kwargs)

    argument = click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
    return config_option(argument(wrapper))  # type: ignore[return-value]


def resolve_config(value: str | os.PathLike[str] | None = None) -> Path:
    """The config path: the subcommand's ``-c``, the group's ``-c``, ``TPPC_CONFIG``, ``./config.yaml``."""
    if value is None:
        ctx = click.get_current_context(silent=True)
        if ctx is not None:
            value = ctx.find_root().params.get("config")
    return config_path(value)


@click.group(cls=TppcGroup, context_settings={"help_option_names": ["-h", "--help"]})
@config_option
@click.version_option(package_name="tppc-router")
def main(config: Path | None) -> None:
    """Several OpenAI-Responses providers behind one name, with priority failover."""


def _console() -> Console:
    from rich.console import Console

    console = Console(markup=False, highlight=False, emoji=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = 160  # piped output is read whole: don't cut it to 80 columns
    return console


def _load(config: Path | None) -> Settings:
    from tppc_router.config.loader import load_settings

    return load_settings(resolve_config(config))


def _host(url: str) -> str:
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        return f"{host}:{parts.port}" if host and parts.port else host or "-"
    except ValueError:
        return "-"


def _provider_rows(settings: Settings) -> list[tuple[str, ...]]:
    """priority, provider, enabled, source, host, masked key, key source: enabled ones by priority first."""
    from tppc_router.config.deployments import credential_chain

    rows: list[tuple[str, ...]] = [
        (str(c.priority), c.provider, "yes", c.source, _host(c.base_url), c.api_key.masked, c.key_source)
        for c in credential_chain(settings)
    ]
    legacy = settings.packycode
    if not legacy.enabled:
        legacy_key = legacy.credentials.openai_api_key
        masked = legacy_key.masked if legacy_key else "-"
        rows.append(("-", "packycode", "no", "packycode", _host(legacy.base_url), masked, "-"))
    for provider in settings.tppc.providers:
        if not provider.enabled:
            masked = provider.api_key.masked if provider.api_key else "-"
            source = provider.key_source if provider.api_key or provider.key_source != "literal" else "-"
            rows.append(("-", provider.name or "-", "no", "tppc", _host(provider.base_url), masked, source))
    return rows


@main.command()
@config_file_argument
@click.option("--strict", is_flag=True, help="Treat warnings as errors (exit 2).")
def validate(config: Path | None, strict: bool) -> None:
    """Check a config file and show its providers in priority order.

    Warnings (a literal key that looks like an environment reference, a base-url without a
    version path such as /v1, no enabled provider) go to stderr; the exit status stays 0
    unless --strict.
    """
    from rich.table import Table

    from tppc_router.config.warnings import config_warnings

    path = resolve_config(config)
    settings = _load(path)
    warnings = config_warnings(settings)
    if strict and warnings:
        raise ConfigError([*warnings, "--strict: warnings are errors"], source=str(path))
    for warning in warnings:
        click.secho(f"WARNING: {warning}", err=True, fg="yellow", bold=True)
    console = _console()
    console.print(f"{path}: valid" + (f" with {len(warnings)} warning(s) (see stderr)" if warnings else ""))
    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    for column in ("priority", "provider", "enabled", "source", "host", "key", "key source"):
        table.add_column(column, no_wrap=True)
    for row in _provider_rows(settings):
        table.add_row(*row)
    console.print(table)
    console.print("models: " + ", ".join(settings.tppc.models))


def _groups(settings: Settings) -> dict[str, Any]:
    from tppc_router.config.deployments import build_model_list

    groups: dict[str, list[dict[str, Any]]] = {}
    pinned: list[dict[str, Any]] = []
    for deployment in build_model_list(settings, include_secrets=False):
        info = deployment["model_info"]
        if info["tppc_pinned"]:
            pinned.append(
                {"group": deployment["model_name"], "provider": info["tppc_provider"], "model": info["tppc_model"]}
            )
            continue
        groups.setdefault(deployment["model_name"], []).append(
            {
                "provider": info["tppc_provider"],
                "priority": info["tppc_priority"],
                "source": info["tppc_source"],
                "host": _host(deployment["litellm_params"]["api_base"]),
            }
        )
    return {"models": [{"group": g, "providers": p} for g, p in groups.items()], "pinned": pinned}


@main.command()
@config_file_argument
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def models(config: Path | None, as_json: bool) -> None:
    """List each model group with its providers in priority order, and the pinned groups."""
    listing = _groups(_load(config))
    if as_json:
        click.echo(json.dumps(listing, indent=2))
        return
    for group in listing["models"]:
        click.echo(group["group"])
        for p in group["providers"]:
            click.echo(f"  {p['priority']:>3}  {p['provider']}  ({p['source']}, {p['host']})")
    if listing["pinned"]:
        click.echo("pinned groups (one provider each):")
        for pin in listing["pinned"]:
            click.echo(f"  {pin['group']}")


@main.command()
@config_file_argument
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["litellm", "litellm-proxy"]),
    default="litellm",
    show_default=True,
    help="litellm: plain deployments LiteLLM routes itself; litellm-proxy: a complete proxy config whose tppc "
    "groups go through `tppc-router serve` (docs/litellm-proxy.md).",
)
@click.option("--include-secrets", is_flag=True, help="Write literal keys as they are (references stay references).")
def export(config: Path | None, fmt: str, include_secrets: bool) -> None:
    """Print a LiteLLM proxy config for this config."""
    from tppc_router.config.export import litellm_config, litellm_proxy_config

    path = resolve_config(config)
    settings = _load(path)
    if fmt == "litellm-proxy":
        result = litellm_proxy_config(settings)
        header = (f"LiteLLM proxy config exported by tppc-router from {path}\n"
                  f"Run beside it: tppc-router serve -c {path}\n"
                  "Then: LITELLM_MASTER_KEY=sk-... litellm --config THIS_FILE")
    else:
        result = litellm_config(settings, include_secrets=include_secrets)
        header = f"LiteLLM proxy config exported by tppc-router from {path}"
    click.echo(result.to_yaml(header), nl=False)
    if fmt == "litellm-proxy":
        click.echo("note: the proxy's master key is read from LITELLM_MASTER_KEY", err=True)
        for var in result.env_vars:
            click.echo(f"note: set {var.name} for the proxy to one of the gateway's server.api-keys", err=True)
    elif result.env_vars:
        click.echo("note: literal keys were replaced by environment references; set these variables:", err=True)
        for var in result.env_vars:
            click.echo(f"  {var.name}  (key of provider {var.provider})", err=True)
    if include_secrets and fmt == "litellm":
        click.echo("note: the output contains keys; keep it private", err=True)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"<file>: {path} does not exist (use -c FILE or TPPC_CONFIG)"], source=str(path)) from None
    except OSError as error:
        raise ConfigError([f"<file>: cannot read {path}: {error.strerror}"], source=str(path)) from None
    except UnicodeDecodeError as error:
        raise ConfigError(
            [f"<file>: {path} is not UTF-8 text (at byte offset {error.start})"], source=str(path)
        ) from None


@main.command()
@config_file_argument
@click.option("--write", is_flag=True, help="Rewrite the file (keeping <file>.bak) instead of printing a diff.")
def migrate(config: Path | None, write: bool) -> None:
    """Turn the legacy packycode: block into the first tppc provider."""
    from tppc_router.configfile.atomic import atomic_write_text
    from tppc_router.configfile.migrate import equivalence_problems, migrate_text, redact, secret_literals, unified_diff

    path = resolve_config(config)
    text = _read(path)
    result = migrate_text(text, source=str(path))
    if not result.changed:
        click.echo("nothing to migrate: " + "; ".join(result.notes))
        return
    problems = equivalence_problems(text, result.text, os.environ, source=str(path))
    if problems:
        raise ConfigError([*problems, "migrate: the file was not changed"], source=str(path))
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
    if not write:
        secrets = secret_literals(text) | secret_literals(result.text)
        click.echo(redact(unified_diff(text, result.text, str(path)), secrets), nl=False)
        click.echo("dry run: nothing written; run again with --write to apply", err=True)
        return
    try:
        backup = atomic_write_text(path, result.text, backup=True)
    except OSError as error:
        raise click.ClickException(f"cannot write {path}: {error.strerror or error}") from None
    click.echo(f"migrated {path}" + (f" (original kept as {backup})" if backup else ""))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
