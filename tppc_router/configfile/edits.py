"""The provider edits: small functions that change ``tppc.providers`` in the config document.

Each takes the round-trip document (:func:`tppc_router.configfile.document.parse_document`),
edits it in place and returns the paths it changed; :meth:`ConfigStore.propose
<tppc_router.configfile.store.ConfigStore.propose>` runs one and validates the result.
Only the entries and fields a request touches change, so comments, quoting and
key references elsewhere survive. A masked key (as GET shows it) or the stored key
sent back keeps the stored key. Refusals raise config errors with field paths
(:class:`ConfigEditError`, :class:`ConfigNotFoundError`, :class:`ConfigConflictError`,
:class:`ConfigFileError`); the server maps them to HTTP statuses.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from tppc_router.config.schema import DEFAULT_MODEL
from tppc_router.configfile.document import (
    delete_field,
    ensure_section,
    get_field,
    key_in,
    put_tail,
    safe,
    same,
    set_field,
    take_tail,
)
from tppc_router.errors import ConfigConflictError, ConfigEditError, ConfigFileError, ConfigNotFoundError
from tppc_router.masking import FULLY_HIDDEN, mask, mask_url
from tppc_router.config.sanitize import resolve_key

__all__ = [
    "PROVIDER_FIELDS",
    "READ_ONLY_FIELDS",
    "add_provider",
    "find_provider",
    "looks_masked",
    "normalize_fields",
    "patch_provider",
    "remove_provider",
    "replace_providers",
    "set_secret_key",
]

PROVIDER_FIELDS = ("name", "enabled", "base-url", "api-key", "order")
# What GET adds to each provider; a client that sends a GET body back is not refused for them.
READ_ONLY_FIELDS = frozenset({"state", "priority", "api-key-source", "source", "breakers"})
_SEND_FULL_KEY = "send the full key, or leave api-key out to keep the stored one"
_MASKED = re.compile(r"^[\s\S]{4}\.\.\.[\s\S]{4}$")


def looks_masked(value: str) -> bool:
    """``sk-a...5678`` or ``********``: what GET shows instead of a key."""
    return value == FULLY_HIDDEN or bool(_MASKED.match(value))


def _providers(doc: CommentedMap, *, create: bool) -> CommentedSeq:
    tppc = ensure_section(doc, "tppc") if create or key_in(doc, "tppc") else CommentedMap()
    key = key_in(tppc, "providers")
    seq = tppc[key] if key is not None else None
    if seq is None:
        seq = CommentedSeq()
        if create:
            tppc[key or "providers"] = seq
    if not isinstance(seq, CommentedSeq):
        raise ConfigFileError(["tppc.providers: must be a list"],
                              summary="the config file's tppc.providers is not a list; fix it by hand first")
    return seq


def _label(entry: Any, index: int) -> str:
    name = entry.get("name") if isinstance(entry, Mapping) else None
    return f"tppc.providers[{name}]" if isinstance(name, str) and name else f"tppc.providers[{index}]"


def _fold_name(value: Any) -> str | None:
    return value.strip().casefold() if isinstance(value, str) and value.strip() else None


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, list) else "an object"


def type_problems(fields: Mapping[str, Any], where: str) -> list[str]:
    """What is mistyped in ``fields``: ``enabled`` must be a JSON boolean, ``order`` a JSON integer,
    ``name``/``base-url``/``api-key`` strings (``null`` removes a field). ``"yes"``, ``1`` and ``"2"``
    are refused rather than written to the file as they are. Never shows a value."""
    problems: list[str] = []
    for key, value in fields.items():
        if value is None:
            continue
        if key == "enabled" and not isinstance(value, bool):
            problems.append(f"{where}.enabled: must be true or false (a JSON boolean), got {_json_kind(value)}")
        elif key == "order" and (isinstance(value, bool) or not isinstance(value, int)):
            problems.append(f"{where}.order: must be an integer (a JSON number without quotes), "
                            f"got {_json_kind(value)}")
        elif key in ("name", "base-url", "api-key") and not isinstance(value, str):
            problems.append(f"{where}.{key}: must be a string, got {_json_kind(value)}")
    return problems


def normalize_fields(value: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Request keys as the file spells them (``base_url`` -> ``base-url``), read-only GET keys dropped.

    Raises :class:`ConfigEditError` when two spellings of one key are given, or a
    field has the wrong JSON type (:func:`type_problems`).
    """
    out: dict[str, Any] = {}
    for raw_key, item in value.items():
        key = raw_key.replace("_", "-") if isinstance(raw_key, str) else raw_key
        if key in READ_ONLY_FIELDS:
            continue
        if key in out:
            raise ConfigEditError([f"{where}.{key}: given more than once"], summary="invalid request body")
        out[key] = item
    problems = type_problems(out, where)
    if problems:
        raise ConfigEditError(problems, summary="invalid request body")
    return out


def find_provider(doc: CommentedMap, *, name: str | None = None, index: int | None = None) -> int:
    """Position of the provider named ``name`` (exact, else case-insensitive) or at ``index``; 404 if none."""
    seq = _providers(doc, create=False)
    if index is not None:
        if 0 <= index < len(seq):
            return index
        raise ConfigNotFoundError([f"tppc.providers[{index}]: no such index (there are {len(seq)})"],
                                  summary=f"no provider at index {index} (there are {len(seq)})")
    names = [get_field(e, "name") if isinstance(e, Mapping) else None for e in seq]
    for i, candidate in enumerate(names):
        if isinstance(candidate, str) and candidate.strip() == (name or "").strip():
            return i
    folded = _fold_name(name)
    for i, candidate in enumerate(names):
        if folded is not None and _fold_name(candidate) == folded:
            return i
    raise ConfigNotFoundError([f"tppc.providers[{name}]: no provider has this name"],
                              summary=f"no provider named {name!r}")


def _keeps_key(entry: Mapping[Any, Any], new: Any, env: Mapping[str, str]) -> bool:
    """True when ``new`` is the stored key again: its mask, its value, or its reference as written."""
    if not isinstance(new, str):
        return False
    stored = get_field(entry, "api-key")
    if stored is None:
        return False
    raw = str(stored).strip()
    resolved = resolve_key(raw, env)[0]
    return new.strip() in {raw, mask(resolved)} or (resolved is not None and new.strip() == resolved)


def _check_not_masked(fields: Mapping[str, Any], where: str) -> None:
    key = fields.get("api-key")
    if isinstance(key, str) and looks_masked(key.strip()):
        raise ConfigEditError([f"{where}.api-key: is a masked value (as GET shows keys); {_SEND_FULL_KEY}"],
                              summary="invalid request body")


def _apply_fields(
    entry: CommentedMap, fields: Mapping[str, Any], *, env: Mapping[str, str], full: bool, label: str
) -> list[str]:
    """Write ``fields`` into ``entry``; ``null`` removes a field. With ``full``, fields not given are
    removed too (except ``api-key``, which a missing value keeps). Returns the changed paths."""
    changed: list[str] = []
    fields = dict(fields)
    if "api-key" in fields and _keeps_key(entry, fields["api-key"], env):
        del fields["api-key"]
    stored_url = get_field(entry, "base-url")
    if isinstance(stored_url, str) and fields.get("base-url") == mask_url(stored_url) != stored_url:
        fields["base-url"] = stored_url  # the masked URL GET showed (credentials in it): keep the stored one
    _check_not_masked(fields, label)
    if full:
        for key in list(entry):
            kebab = str(key).replace("_", "-")
            if kebab not in fields and kebab != "api-key" and delete_field(entry, kebab):
                changed.append(f"{label}.{kebab}")
    for key, value in fields.items():
        if key == "enabled" and value is True and key_in(entry, key) is None:
            continue  # already the default: keep the entry as it is written
        done = delete_field(entry, key) if value is None else set_field(entry, key, value)
        if done:
            changed.append(f"{label}.{key}")
    return changed


def _name_taken(seq: CommentedSeq, name: Any, *, skip: int | None = None) -> bool:
    folded = _fold_name(name)
    if folded is None:
        return False
    return any(
        i != skip and isinstance(e, Mapping) and _fold_name(get_field(e, "name")) == folded for i, e in enumerate(seq)
    )


def patch_provider(
    doc: CommentedMap, value: Mapping[str, Any], env: Mapping[str, str], *, name: str | None = None,
    index: int | None = None,
) -> list[str]:
    """Change the given fields of one provider; a missing or masked ``api-key`` keeps the stored key."""
    seq = _providers(doc, create=False)
    at = find_provider(doc, name=name, index=index)
    entry = seq[at]
    if not isinstance(entry, CommentedMap):
        raise ConfigFileError([f"tppc.providers[{at}]: must be a mapping"],
                              summary=f"the provider at index {at} is not a mapping; fix the file by hand")
    fields = normalize_fields(value, f"tppc.providers[{at}]")
    if "name" in fields and _name_taken(seq, fields["name"], skip=at):
        raise ConfigConflictError([f"tppc.providers[{at}].name: {fields['name']!r} is taken"],
                                  summary=f"a provider named {fields['name']!r} already exists")
    return _apply_fields(entry, fields, env=env, full=False, label=_label(entry, at))


def add_provider(doc: CommentedMap, value: Mapping[str, Any], env: Mapping[str, str]) -> list[str]:
    """Append one provider; 409 when its name is taken (case-insensitive)."""
    seq = _providers(doc, create=True)
    fields = {k: v for k, v in normalize_fields(value, f"tppc.providers[{len(seq)}]").items() if v is not None}
    if _name_taken(seq, fields.get("name")):
        raise ConfigConflictError([f"tppc.providers[{len(seq)}].name: {fields.get('name')!r} is taken"],
                                  summary=f"a provider named {fields.get('name')!r} already exists")
    _check_not_masked(fields, f"tppc.providers[{len(seq)}]")
    if not seq:
        seq.fa.set_block_style()
    tail = take_tail(seq)
    seq.append(CommentedMap(safe(fields)))
    put_tail(seq, tail)
    return [f"{_label(fields, len(seq) - 1)} (added)"]


def remove_provider(doc: CommentedMap, *, name: str | None = None, index: int | None = None) -> list[str]:
    """Remove one provider; 404 when unknown."""
    seq = _providers(doc, create=False)
    at = find_provider(doc, name=name, index=index)
    label = _label(seq[at], at)
    tail = take_tail(seq)
    del seq[at]
    put_tail(seq, tail)
    return [f"{label} (removed)"]


def replace_providers(
    doc: CommentedMap, providers: Sequence[Any], env: Mapping[str, str], *, models: Any = None,
    set_models: bool = False,
) -> list[str]:
    """Replace the provider list (and ``tppc.models`` when ``set_models``).

    An entry whose name matches a stored provider (case-insensitive) is edited in place,
    so its comments stay and its key is kept when ``api-key`` is missing or masked.
    """
    seq = _providers(doc, create=True)
    was_empty = not seq
    tail = take_tail(seq)
    changed: list[str] = []
    unused = list(range(len(seq)))
    new_entries: list[Any] = []
    for i, item in enumerate(providers):
        if not isinstance(item, Mapping):
            new_entries.append(safe(item))  # the loader names the problem
            changed.append(f"tppc.providers[{i}]")
            continue
        fields = normalize_fields(item, f"tppc.providers[{i}]")
        folded = _fold_name(fields.get("name"))
        match = next(
            (j for j in unused if isinstance(seq[j], CommentedMap) and _fold_name(get_field(seq[j], "name")) == folded),
            None,
        ) if folded is not None else None
        if match is None:
            kept = {k: v for k, v in fields.items() if v is not None}
            _check_not_masked(kept, f"tppc.providers[{i}]")
            new_entries.append(CommentedMap(safe(kept)))
            changed.append(f"{_label(kept, i)} (added)")
            continue
        unused.remove(match)
        entry = seq[match]
        changed += _apply_fields(entry, fields, env=env, full=True, label=_label(entry, i))
        if match != i:
            changed.append(f"{_label(entry, i)} (moved)")
        new_entries.append(entry)
    changed += [f"{_label(seq[j], j)} (removed)" for j in unused]
    if len(new_entries) != len(seq) or any(a is not b for a, b in zip(new_entries, seq, strict=False)):
        del seq[:]
        if was_empty:
            seq.fa.set_block_style()
        seq.extend(new_entries)
    put_tail(seq, tail)
    if set_models:
        changed += _replace_models(doc, models)
    return changed


def _replace_models(doc: CommentedMap, models: Any) -> list[str]:
    tppc = ensure_section(doc, "tppc")
    key = key_in(tppc, "models")
    current = tppc[key] if key is not None else None
    if models is None:
        return ["tppc.models"] if key is not None and delete_field(tppc, "models") else []
    if key is None and models == [DEFAULT_MODEL]:
        return []  # what the file already means by leaving models out (a GET body sent back)
    if isinstance(current, CommentedSeq) and isinstance(models, list):
        if list(current) == models:
            return []
        del current[:]
        current.extend(safe(models))
    elif key is not None and same(current, models):
        return []
    else:
        tppc[key or "models"] = safe(models)
    return ["tppc.models"]


def set_secret_key(doc: CommentedMap, value: str) -> list[str]:
    """Set ``remote-management.secret-key`` (keeping its quoting)."""
    section = ensure_section(doc, "remote-management")
    return ["remote-management.secret-key"] if set_field(section, "secret-key", value) else []
