"""Which environment variables a management write may reference, and the other write limits.

A provider key written as ``os.environ/NAME`` is resolved by the server, so without a
rule a management client could read any variable of the server process: add a
provider with ``api-key: os.environ/AWS_SECRET_ACCESS_KEY`` and a base-url of its own,
and the secret arrives there as a Bearer token. So a write may reference only:

* the variables the config file referenced when the server started (the operator's
  own choices), and
* those listed in ``remote-management.allowed-env``;

and never a variable of ours: ``TPPC_*`` (the management key among them), the one
``remote-management.secret-key`` references, ``REDIS_URL``. A reference a provider
already had before the write is kept as it is. Hand edits of the file are the
operator's and are not restricted. The check runs on the edited document before it is
validated, so the answer is the same whether the variable is set or not.

The same place checks the size limits of a write: ``server.limits.max-providers`` and
``server.limits.max-field-length``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ruamel.yaml.comments import CommentedMap

from tppc_router.config.schema import Settings
from tppc_router.configfile.store import Mutator
from tppc_router.envref import parse_env_reference
from tppc_router.errors import ConfigEditError

__all__ = ["OURS_PREFIX", "allowed_env", "env_guard", "referenced_env", "write_problems"]

OURS_PREFIX = "TPPC_"
_NEVER = frozenset({"REDIS_URL", "TPPC_MANAGEMENT_KEY"})


def _variable(source: str) -> str | None:
    return parse_env_reference(source) if source != "literal" else None


def referenced_env(settings: Settings) -> set[str]:
    """The variables ``settings``' keys were read from (providers, packycode, management key)."""
    sources = [p.key_source for p in settings.tppc.providers]
    sources += [settings.packycode.key_source, settings.remote_management.key_source]
    return {name for name in map(_variable, sources) if name is not None}


def _ours(settings: Settings) -> set[str]:
    own = {_variable(settings.remote_management.key_source)} - {None}
    return {str(name) for name in own} | set(_NEVER)


def allowed_env(startup: Settings, current: Settings | None = None) -> frozenset[str]:
    """What a write may reference: ``startup``'s references plus ``allowed-env`` (of ``current``, else
    ``startup``), minus the variables of ours."""
    listed = (current or startup).remote_management.allowed_env
    names = referenced_env(startup) | {n.strip() for n in listed}
    never = _ours(startup) | (_ours(current) if current is not None else set())
    return frozenset(n for n in names if n and n not in never and not n.upper().startswith(OURS_PREFIX))


def _doc_references(doc: Mapping[Any, Any]) -> list[tuple[int, str, str]]:
    """``(index, provider name, variable)`` for each provider key in ``doc`` that is a reference."""
    section = doc.get("tppc")
    providers = section.get("providers") if isinstance(section, Mapping) else None
    found = []
    for i, entry in enumerate(providers if isinstance(providers, list) else ()):
        if not isinstance(entry, Mapping):
            continue
        raw = entry.get("api-key", entry.get("api_key"))
        variable = parse_env_reference(raw) if isinstance(raw, str) else None
        if variable is not None:
            found.append((i, str(entry.get("name", "")), variable))
    return found


def env_guard(mutator: Mutator, allowed: Iterable[str]) -> Mutator:
    """``mutator``, refusing (:class:`ConfigEditError`, 422) a result that references a variable not ``allowed``, unless that
    provider referenced it before the edit. Runs before validation, so an unset variable and a set one
    are refused alike: the answer never tells whether a variable exists."""
    allowed = frozenset(allowed)

    def guarded(doc: CommentedMap) -> list[str]:
        before = {(name, variable) for _, name, variable in _doc_references(doc)}
        changed = mutator(doc)
        problems = [
            f"tppc.providers[{i}].api-key: os.environ/{variable} is not a variable the management API may use "
            "(allowed: those the config file referenced at start-up and remote-management.allowed-env)"
            for i, name, variable in _doc_references(doc)
            if variable not in allowed and (name, variable) not in before
        ]
        if problems:
            raise ConfigEditError(problems, summary="the change was not applied")
        return changed

    return guarded


def write_problems(new: Settings) -> list[str]:
    """Why a management write leaving ``new`` is refused for its size (empty: it is not)."""
    limits = new.server.limits
    problems: list[str] = []
    providers = new.tppc.providers
    if len(providers) > limits.max_providers:
        problems.append(f"tppc.providers: {len(providers)} providers, more than server.limits.max-providers "
                        f"({limits.max_providers})")
    for i, provider in enumerate(providers):
        key = provider.api_key.get_secret_value() if provider.api_key is not None else ""
        for field, value in (("name", provider.name), ("base-url", provider.base_url), ("api-key", key)):
            if len(value) > limits.max_field_length:
                problems.append(f"tppc.providers[{i}].{field}: longer than server.limits.max-field-length "
                                f"({limits.max_field_length} characters)")
    return problems
