"""Warnings: what is valid but almost certainly a mistake. Pure over a sanitized :class:`Settings`.

``tppc-router validate`` prints them (exit 0; ``--strict`` makes them errors, exit 2) and
``serve`` logs them at startup. Each line starts with its field path, like a problem, and
never shows a key.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from tppc_router.config.schema import Settings
from tppc_router.envref import looks_like_env_reference
from tppc_router.secret import Secret

__all__ = ["config_warnings"]

_VERSION_SEGMENT = re.compile(r"^v\d+[a-z0-9]*$", re.IGNORECASE)  # v1, v2, v1beta


def _has_version_path(url: str) -> bool:
    try:
        path = urlsplit(url).path
    except ValueError:
        return True  # not a URL at all: validation reports that
    return any(_VERSION_SEGMENT.match(segment) for segment in path.split("/"))


def _key_warning(path: str, key: Secret | None, key_source: str, label: str) -> list[str]:
    if key is None or key_source != "literal" or not looks_like_env_reference(key.get_secret_value()):
        return []
    return [f"{path}: looks like an environment reference but is not one, so it would be sent as the key itself"
            f"{label}; write os.environ/NAME (or ${{NAME}})"]


def _url_warning(path: str, url: str, label: str) -> list[str]:
    if not url or _has_version_path(url):
        return []
    return [f"{path}: has no version path such as /v1{label}; most providers answer 404 (Invalid URL) without it"]


def config_warnings(settings: Settings) -> list[str]:
    """Every warning for a sanitized, valid config, one line each, field path first."""
    found: list[str] = []
    legacy = settings.packycode
    if legacy.enabled:
        found += _key_warning("packycode.credentials.openai-api-key", legacy.credentials.openai_api_key,
                              legacy.key_source, "")
        found += _url_warning("packycode.base-url", legacy.base_url, "")
    for i, provider in enumerate(settings.tppc.providers):
        label = f' (provider "{provider.name}")' if provider.name else ""
        found += _key_warning(f"tppc.providers[{i}].api-key", provider.api_key, provider.key_source, label)
        if provider.enabled:
            found += _url_warning(f"tppc.providers[{i}].base-url", provider.base_url, label)
    if not legacy.enabled and not any(p.enabled for p in settings.tppc.providers):
        found.append("tppc.providers: no provider is enabled (and packycode is off): every model request will fail")
    return found
