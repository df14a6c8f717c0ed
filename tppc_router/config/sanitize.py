"""Sanitize, then validate. Both are pure over a :class:`Settings` and an env mapping.

Sanitize trims names, URLs and keys, strips a trailing ``/`` from base-url and
resolves ``os.environ/NAME`` / ``${NAME}`` keys (providers, the legacy block and
``server.api-keys``). Validate collects every problem, one line each, starting
with its field path. No key ever appears in a problem.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from tppc_router.config.litellm_settings import reference_problems
from tppc_router.config.schema import (
    PackycodeConfig,
    ProviderConfig,
    RemoteManagementSection,
    ServerSection,
    Settings,
)
from tppc_router.envref import env_reference, parse_env_reference
from tppc_router.secret import Secret

__all__ = ["BCRYPT_HASH", "MIN_MANAGEMENT_KEY", "is_http_url", "management_key_problem", "resolve_key", "sanitize",
           "validate"]

_EFFORTS = ("low", "medium", "high")


def resolve_key(raw: str, env: Mapping[str, str]) -> tuple[str | None, str, str | None]:
    """Resolve one configured key.

    Returns ``(value, source, missing_var)``: ``source`` is ``"literal"`` or the
    reference as written (``os.environ/NAME``); ``missing_var`` names an unset variable.
    """
    raw = raw.strip()
    var = parse_env_reference(raw)
    if var is None:
        return raw, "literal", None
    value = env.get(var)
    if value is None or not value.strip():
        return None, env_reference(var), var
    return value.strip(), env_reference(var), None


def is_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    try:
        parts.port  # noqa: B018 - raises on a port out of range
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _provider_label(provider: ProviderConfig) -> str:
    name = provider.name if provider.name.isprintable() else provider.name.encode("unicode_escape").decode("ascii")
    return f' (provider "{name}")' if name else ""


def _sanitize_provider(
    provider: ProviderConfig, index: int, env: Mapping[str, str], problems: list[str]
) -> ProviderConfig:
    clean = provider.model_copy(
        update={"name": provider.name.strip(), "base_url": provider.base_url.strip().rstrip("/")}
    )
    if provider.api_key is not None:
        value, source, missing = resolve_key(provider.api_key.get_secret_value(), env)
        clean.api_key = Secret(value) if value is not None else None
        clean.set_key_source(source)
        if missing is not None and clean.enabled:
            problems.append(
                f"tppc.providers[{index}].api-key: environment variable {missing} is not set"
                f"{_provider_label(clean)}"
            )
    return clean


def _sanitize_packycode(block: PackycodeConfig, env: Mapping[str, str], problems: list[str]) -> PackycodeConfig:
    clean = block.model_copy(deep=True)
    clean.base_url = block.base_url.strip().rstrip("/")
    clean.wire_api = block.wire_api.strip()
    clean.defaults.model = block.defaults.model.strip()
    clean.defaults.model_reasoning_effort = block.defaults.model_reasoning_effort.strip().lower()
    key = block.credentials.openai_api_key
    source = "literal"
    if key is None and block.requires_openai_auth and env.get("OPENAI_API_KEY", "").strip():
        key, source = Secret(env["OPENAI_API_KEY"]), env_reference("OPENAI_API_KEY")
    if key is not None:
        value, source, missing = resolve_key(key.get_secret_value(), env) if source == "literal" else (
            key.get_secret_value().strip(), source, None)
        clean.credentials.openai_api_key = Secret(value) if value is not None else None
        if missing is not None and clean.enabled:
            problems.append(f"packycode.credentials.openai-api-key: environment variable {missing} is not set")
    clean.set_key_source(source)
    return clean


def _sanitize_server(server: ServerSection, env: Mapping[str, str], problems: list[str]) -> ServerSection:
    """Resolve ``os.environ/NAME`` in ``server.api-keys``: a reference is never itself a gateway key."""
    keys = []
    for i, key in enumerate(server.api_keys):
        value, _, missing = resolve_key(key.get_secret_value(), env)
        if missing is not None:
            problems.append(f"server.api-keys[{i}]: environment variable {missing} is not set")
        keys.append(Secret(value or ""))
    return server.model_copy(update={"api_keys": keys})


MIN_MANAGEMENT_KEY = 16
BCRYPT_HASH = re.compile(r"^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$")


def management_key_problem(value: str, where: str) -> str | None:
    """Why ``value`` cannot be a management key (too short), or None. A bcrypt hash is fine."""
    if value and not BCRYPT_HASH.match(value) and len(value) < MIN_MANAGEMENT_KEY:
        return f"{where}: a management key must have at least {MIN_MANAGEMENT_KEY} characters (got {len(value)})"
    return None


def _sanitize_management(section: RemoteManagementSection, env: Mapping[str, str],
                         problems: list[str]) -> RemoteManagementSection:
    """Resolve ``os.environ/NAME`` in ``secret-key`` like every other key; refuse a short key."""
    if section.secret_key is None:
        return section
    value, source, missing = resolve_key(section.secret_key.get_secret_value(), env)
    if missing is not None:
        problems.append(f"remote-management.secret-key: environment variable {missing} is not set")
    clean = section.model_copy(update={"secret_key": Secret(value) if value else None})
    clean.set_key_source(source)
    problem = management_key_problem(value or "", "remote-management.secret-key")
    if problem is not None:
        problems.append(problem)
    return clean


def sanitize(settings: Settings, env: Mapping[str, str]) -> tuple[Settings, list[str]]:
    """Return a cleaned copy of ``settings`` and the problems found while resolving keys."""
    problems: list[str] = []
    providers = [_sanitize_provider(p, i, env, problems) for i, p in enumerate(settings.tppc.providers)]
    models = [m.strip() for m in settings.tppc.models]
    tppc = settings.tppc.model_copy(update={"providers": providers, "models": models})
    packycode = _sanitize_packycode(settings.packycode, env, problems)
    server = _sanitize_server(settings.server, env, problems)
    management = _sanitize_management(settings.remote_management, env, problems)
    update = {"tppc": tppc, "packycode": packycode, "server": server, "remote_management": management}
    return settings.model_copy(update=update), problems


def _validate_providers(settings: Settings, problems: list[str]) -> None:
    """Names are unique (case-insensitive) across every provider, enabled or not; a disabled
    provider may be incomplete, but a base-url it has must still be a URL."""
    seen: dict[str, str] = {"packycode": "the packycode legacy block"} if settings.packycode.enabled else {}
    for i, provider in enumerate(settings.tppc.providers):
        path = f"tppc.providers[{i}]"
        label = _provider_label(provider)
        if not provider.name.isprintable():  # newline, ESC, NUL...: never into a log line or a metric label
            problems.append(f"{path}.name: must not contain control characters")
        elif provider.name:
            folded = provider.name.casefold()
            if folded in seen:
                problems.append(f"{path}.name: duplicate name (case-insensitive), already used by {seen[folded]}{label}")
            else:
                seen[folded] = path
        if not provider.enabled:
            if provider.base_url and not is_http_url(provider.base_url):
                problems.append(f"{path}.base-url: must be an http(s) URL with a host, even while disabled{label}")
            continue
        if not provider.name:
            problems.append(f"{path}.name: must not be empty")
        elif "/" in provider.name or any(c.isspace() for c in provider.name):
            problems.append(f"{path}.name: must not contain '/' or whitespace{label}")
        if not is_http_url(provider.base_url):
            problems.append(f"{path}.base-url: must be an http(s) URL with a host{label}")
        no_key = provider.api_key is None or not provider.api_key.get_secret_value()
        if no_key and not any(p.startswith(f"{path}.api-key:") for p in problems):
            problems.append(f"{path}.api-key: must not be empty{label}")


def _validate_packycode(block: PackycodeConfig, problems: list[str]) -> None:
    if not block.enabled:
        return
    if not is_http_url(block.base_url):
        problems.append("packycode.base-url: must be an http(s) URL with a host")
    if block.wire_api != "responses":
        problems.append(f'packycode.wire-api: must be "responses" (got "{block.wire_api}")')
    if block.defaults.model_reasoning_effort not in _EFFORTS:
        problems.append(
            f"packycode.defaults.model-reasoning-effort: must be one of low, medium, high"
            f' (got "{block.defaults.model_reasoning_effort}")'
        )
    if not block.defaults.model:
        problems.append("packycode.defaults.model: must not be empty")
    key = block.credentials.openai_api_key
    missing = block.requires_openai_auth and (key is None or not key.get_secret_value())
    if missing and not any(p.startswith("packycode.credentials.openai-api-key:") for p in problems):
        problems.append(
            "packycode.credentials.openai-api-key: required when requires-openai-auth is true"
            " (or set OPENAI_API_KEY)"
        )


def validate(settings: Settings, problems: list[str] | None = None) -> list[str]:
    """Every problem in a sanitized config, one line each, field path first."""
    found = list(problems or [])
    models = settings.tppc.models
    if not models:
        found.append("tppc.models: must list at least one model")
    for i, model in enumerate(models):
        if not model or "/" in model or not model.isprintable():
            found.append(f"tppc.models[{i}]: must be a non-empty model name without '/'")
    if len({m.casefold() for m in models}) != len(models):
        found.append("tppc.models: duplicate model name")
    _validate_packycode(settings.packycode, found)
    _validate_providers(settings, found)
    if settings.router.state.backend == "redis" and not settings.router.state.url.startswith(("redis://", "rediss://", "unix://")):
        found.append("router.state.url: must be a redis:// or rediss:// URL")
    found.extend(reference_problems(settings.litellm_settings))
    return found
