"""Move the legacy ``packycode:`` block into ``tppc.providers``: text in, new text and notes out.

:func:`migrate_text` turns an enabled ``packycode:`` block into the first tppc
provider (name ``packycode``, its base-url, its key as written) and sets the
block's ``enabled: false``, keeping it for rollback. Comments, key order, quotes
and indentation survive (ruamel.yaml round trip). A second run finds the block
disabled and changes nothing. :func:`equivalence_problems` checks that the
providers, their keys and their priority order are the same before and after.
"""

from __future__ import annotations

import difflib
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import YAMLError
from ruamel.yaml.tokens import CommentToken

from tppc_router.config.schema import DEFAULT_REASONING_EFFORT, PackycodeConfig, TppcSection, kebab
from tppc_router.config.deployments import credential_chain
from tppc_router.configfile.document import key_in, round_trip_yaml
from tppc_router.envref import env_reference, find_env_references
from tppc_router.errors import ConfigError
from tppc_router.config.loader import load_settings, parse_yaml
from tppc_router.masking import mask
from tppc_router.config.sanitize import resolve_key

__all__ = [
    "LEGACY_NAME",
    "Migration",
    "equivalence_problems",
    "migrate_text",
    "redact",
    "secret_literals",
    "unified_diff",
]

LEGACY_NAME = "packycode"
OPENAI_FALLBACK = env_reference("OPENAI_API_KEY")
_SECRET_FIELDS = frozenset({"api_key", "openai_api_key", "secret_key"})
_SECRET_LISTS = frozenset({"api_keys"})
_M = TypeVar("_M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Migration:
    """The result of :func:`migrate_text`. ``text`` equals the input when nothing changed."""

    text: str
    changed: bool
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


def _loc(loc: Iterable[int | str]) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{kebab(part)}" for part in loc)


def _typed(model: type[_M], data: Any, section: str, source: str) -> _M:
    try:
        return model.model_validate({} if data is None else data)
    except ValidationError as exc:
        problems = [
            f"{section}{_loc(item['loc'])}: {item['msg']}"
            for item in exc.errors(include_input=False, include_url=False)
        ]
        raise ConfigError(problems, source=source) from None


def _section(doc: CommentedMap, name: str, *, before: str) -> CommentedMap:
    key = key_in(doc, name)
    found = doc[key] if key is not None else None
    if isinstance(found, CommentedMap):
        return found
    section = CommentedMap()
    if key is not None:
        doc[key] = section
    else:
        doc.insert(list(doc).index(before), name, section)
    return section


def _sequence(section: CommentedMap, name: str) -> CommentedSeq:
    key = key_in(section, name)
    found = section[key] if key is not None else None
    if isinstance(found, CommentedSeq):
        return found
    seq = CommentedSeq()
    section[key or name] = seq
    return seq


def _legacy_key(block: CommentedMap, legacy: PackycodeConfig, notes: list[str], source: str) -> Any:
    credentials = block.get(key_in(block, "credentials") or "credentials")
    written = credentials.get(key_in(credentials, "openai-api-key") or "openai-api-key") if credentials else None
    if written is not None and str(written).strip():
        return written
    if legacy.requires_openai_auth:
        notes.append(f"the packycode block had no key and used OPENAI_API_KEY; the new provider says {OPENAI_FALLBACK}")
        return OPENAI_FALLBACK
    raise ConfigError(
        [
            (
                "packycode.credentials.openai-api-key: the block has no key, and a tppc provider needs one;"
                " add it (or an os.environ/NAME reference), then run migrate again"
            )
        ],
        source=source,
    )


def _insert_after_name(entry: CommentedMap, key: str, value: Any) -> None:
    """Insert after ``name`` (never last, where the comments that follow an entry hang)."""
    keys = list(entry)
    name = key_in(entry, "name")
    position = keys.index(name) + 1 if name is not None else 0
    entry.insert(position if position < len(keys) else max(len(keys) - 1, 0), key, value)


def _append(seq: CommentedSeq, value: Any) -> None:
    """Append, moving the comment lines that followed the old last item below the new one."""
    last = len(seq) - 1
    seq.append(value)
    entry = seq.ca.items.get(last)
    token = entry[0] if entry else None
    if not isinstance(token, CommentToken) or "\n" not in token.value:
        return
    head, rest = token.value.split("\n", 1)
    if not rest:
        return
    seq.ca.items[last + 1] = [CommentToken("\n" + rest, token.start_mark, None), None, None, None]
    if head.strip():
        token.value = head + "\n"
    else:
        entry[0] = None


def _first_order(providers: CommentedSeq, typed: TppcSection, notes: list[str]) -> int | None:
    """The ``order`` that puts packycode first, pinning positional orders it would shift."""
    orders = [p.order for p in typed.providers]
    if all(order is None for order in orders):
        return None  # every priority is the list position: inserting at 0 shifts them all alike
    effective = [order if order is not None else i + 1 for i, order in enumerate(orders)]
    pinned = []
    for i, order in enumerate(orders):
        if order is None:
            _insert_after_name(providers[i], "order", i + 1)
            pinned.append(typed.providers[i].name.strip() or f"#{i}")
    first = min(effective) - 1
    notes.append(f"packycode gets order {first}, lower than every other provider's, so it stays first")
    if pinned:
        notes.append(
            "set order to the list position for "
            + ", ".join(pinned)
            + " so that inserting packycode does not shift them"
        )
    return first


def _add_model(section: CommentedMap, typed: TppcSection, model: str, notes: list[str]) -> None:
    models = [m.strip() for m in typed.models]
    if not model or model in models:
        return
    key = key_in(section, "models")
    if key is not None and isinstance(section[key], CommentedSeq):
        _append(section[key], model)
    else:
        seq = CommentedSeq([*models, model])
        seq.fa.set_flow_style()
        if key is not None:
            section[key] = seq
        else:
            section.insert(0, "models", seq)
    notes.append(f'added "{model}" to tppc.models: the packycode block served it (now every tppc provider does)')


def _warnings(legacy: PackycodeConfig) -> list[str]:
    found = []
    effort = legacy.defaults.model_reasoning_effort.strip().lower()
    if effort != DEFAULT_REASONING_EFFORT:
        found.append(
            f'packycode.defaults.model-reasoning-effort is "{effort}", but tppc providers use the hard-coded'
            f' default "{DEFAULT_REASONING_EFFORT}" (a request may still set its own)'
        )
    if not legacy.privacy.disable_response_storage:
        found.append(
            "packycode.privacy.disable-response-storage is false, but tppc providers use the hard-coded"
            " default store: false (a request's store: true too, unless router.allow-client-store is true)"
        )
    return found


def migrate_text(text: str, *, source: str = "<string>") -> Migration:
    """Migrate an enabled ``packycode:`` block in ``text``; raise :class:`ConfigError` when it can't."""
    data = parse_yaml(text, source)
    if data.get("packycode") is None:
        return Migration(text, False, ("there is no packycode block",))
    legacy = _typed(PackycodeConfig, data["packycode"], "packycode", source)
    if not legacy.enabled:
        return Migration(text, False, ("the packycode block is already disabled",))
    typed = _typed(TppcSection, data.get("tppc"), "tppc", source)
    for i, provider in enumerate(typed.providers):
        if provider.name.strip().casefold() == LEGACY_NAME:
            raise ConfigError(
                [
                    (
                        f'tppc.providers[{i}].name: a provider named "{provider.name.strip()}" already exists;'
                        " rename or remove it, then run migrate again"
                    )
                ],
                source=source,
            )
    if not legacy.base_url.strip():
        raise ConfigError(["packycode.base-url: must not be empty to migrate the block"], source=source)

    yaml = round_trip_yaml(text)
    try:
        doc = yaml.load(text)
    except YAMLError as exc:  # never echo the YAML's problem text: it may quote a key
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        kind = "duplicate key" if isinstance(exc, DuplicateKeyError) else "cannot round-trip this YAML"
        raise ConfigError([f"<yaml>: {kind}{where}"], source=source) from None
    block = doc[key_in(doc, "packycode")]
    notes: list[str] = []
    entry = CommentedMap()
    entry["name"] = LEGACY_NAME
    entry["enabled"] = True
    entry["base-url"] = block[key_in(block, "base-url")]
    entry["api-key"] = _legacy_key(block, legacy, notes, source)
    section = _section(doc, "tppc", before=key_in(doc, "packycode") or "packycode")
    providers = _sequence(section, "providers")
    order = _first_order(providers, typed, notes)
    if order is not None:
        entry["order"] = order
    providers.insert(0, entry)
    notes.insert(
        0, 'added provider "packycode" first in tppc.providers, with the base-url and key of the packycode block'
    )
    _add_model(section, typed, legacy.defaults.model.strip(), notes)
    block[key_in(block, "enabled")] = False
    notes.append("set packycode.enabled to false; the block stays for rollback")
    out = io.StringIO()
    yaml.dump(doc, out)
    return Migration(out.getvalue(), True, tuple(notes), tuple(_warnings(legacy)))


def _chain(text: str, env: Mapping[str, str], source: str) -> list[tuple[str, str, str, int]]:
    settings = load_settings(source, text=text, env=env)
    return [(c.provider, c.base_url, c.api_key.get_secret_value(), c.priority) for c in credential_chain(settings)]


def equivalence_problems(old: str, new: str, env: Mapping[str, str], *, source: str = "<string>") -> list[str]:
    """Problems if ``old`` and ``new`` don't load to the same providers (name, base-url, key, priority).

    Variables the texts reference but ``env`` lacks get placeholders, so this works
    without the real keys. Raises :class:`ConfigError` when either text is invalid.
    """
    full = dict(env)
    for var in find_env_references(old + "\n" + new):
        if not full.get(var, "").strip():
            full[var] = f"tppc-migrate-check-{var}"
    if not full.get("OPENAI_API_KEY", "").strip():
        full["OPENAI_API_KEY"] = "tppc-migrate-check-OPENAI_API_KEY"
    before = _chain(old, full, source)
    try:
        after = _chain(new, full, source)
    except ConfigError as exc:
        raise ConfigError(exc.problems, source=f"{source}, after migration") from None
    if before == after:
        return []

    def describe(chain: list[tuple[str, str, str, int]]) -> str:
        return ", ".join(f"{name} (priority {priority})" for name, _, _, priority in chain) or "none"

    return [f"migrate: the providers would change (before: {describe(before)}; after: {describe(after)})"]


def secret_literals(text: str) -> frozenset[str]:
    """Every literal key written in ``text`` (references such as ``os.environ/NAME`` are not keys)."""
    try:
        data = parse_yaml(text)
    except ConfigError:
        return frozenset()
    found: set[str] = set()

    def add(value: Any) -> None:
        if isinstance(value, str) and value.strip() and resolve_key(value, {})[1] == "literal":
            found.add(value.strip())

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in _SECRET_FIELDS:
                    add(value)
                elif key in _SECRET_LISTS and isinstance(value, list):
                    for item in value:
                        add(item)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(data)
    return frozenset(found)


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with each of ``secrets`` replaced by its mask, longest first."""
    for secret in sorted(set(secrets), key=len, reverse=True):
        text = text.replace(secret, mask(secret))
    return text


def unified_diff(old: str, new: str, path: str) -> str:
    """A unified diff from ``old`` to ``new``, labelled with ``path``."""

    def lines(text: str) -> list[str]:
        return [line if line.endswith("\n") else line + "\n" for line in text.splitlines(keepends=True)]

    return "".join(difflib.unified_diff(lines(old), lines(new), fromfile=path, tofile=f"{path} (migrated)"))
