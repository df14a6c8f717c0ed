"""The config file as a document: read it, edit it in place, validate, write it atomically.

Edits go through ruamel.yaml's round-trip mode, so comments, key order, quoting,
indentation and ``os.environ/NAME`` / ``${NAME}`` key references survive: only
the entries and fields a request touches change. :meth:`ConfigStore.propose`
runs an edit and validates the result with :mod:`tppc_router.loader` without
writing anything; :meth:`ConfigStore.commit` writes it (temp file + fsync +
rename). A store without a file keeps its document in memory.

The provider edits are small functions over the document (``patch_provider`` and
friends); they raise :class:`ManagementError` with the HTTP status a route answers.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import os
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml as pyyaml
from pydantic import SecretStr
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark, YAMLError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString
from ruamel.yaml.tokens import CommentToken

from .atomic import atomic_write_text
from .config import Settings
from .errors import ConfigError, ManagementError
from .loader import load_settings
from .masking import FULLY_HIDDEN, mask
from .sanitize import resolve_key

__all__ = [
    "PROVIDER_FIELDS",
    "READ_ONLY_FIELDS",
    "ConfigStore",
    "Proposal",
    "add_provider",
    "document_from_settings",
    "find_provider",
    "looks_masked",
    "patch_provider",
    "remove_provider",
    "replace_providers",
    "set_secret_key",
    "store_for",
    "text_hash",
]

Mutator = Callable[[CommentedMap], list[str]]

PROVIDER_FIELDS = ("name", "enabled", "base-url", "api-key", "order")
# What GET adds to each provider; a client that sends a GET body back is not refused for them.
READ_ONLY_FIELDS = frozenset({"state", "priority", "api-key-source", "source", "breakers"})
_SEND_FULL_KEY = "send the full key, or leave api-key out to keep the stored one"
_MASKED = re.compile(r"^[\s\S]{4}\.\.\.[\s\S]{4}$")


def text_hash(text: str | bytes) -> str:
    """SHA-256 of the file content: how the watcher tells our writes from hand edits."""
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()


def looks_masked(value: str) -> bool:
    """``sk-a...5678`` or ``********``: what GET shows instead of a key."""
    return value == FULLY_HIDDEN or bool(_MASKED.match(value))


# -- the document: parse and dump, keeping the file's layout ---------------------------


@dataclass(frozen=True, slots=True)
class _Layout:
    mapping: int = 2
    sequence: int = 2
    offset: int = 0
    explicit_start: bool = False


def _indent_of(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _guess_layout(text: str) -> _Layout:
    """Indentation of nested mappings and of ``- `` items, as this file writes them."""
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#") and ln.strip() != "---"]
    mapping: int | None = None
    sequence: int | None = None
    offset: int | None = None
    for prev, line in itertools.pairwise(lines):
        if not prev.rstrip().endswith(":"):
            continue
        parent, child = _indent_of(prev), _indent_of(line)
        body = line.lstrip(" ")
        if body.startswith("- ") and offset is None:
            offset = max(child - parent, 0)
            dash = re.match(r"-\s+", body)
            sequence = offset + (dash.end() if dash else 2)
        elif not body.startswith("-") and mapping is None and child > parent:
            mapping = child - parent
    offset = offset or 0
    return _Layout(
        mapping=mapping or 2,
        sequence=max(sequence or offset + 2, offset + 2),
        offset=offset,
        explicit_start=text.lstrip().startswith("---"),
    )


def _yaml(layout: _Layout) -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=layout.mapping, sequence=layout.sequence, offset=layout.offset)
    yaml.explicit_start = layout.explicit_start
    return yaml


def parse_document(text: str) -> CommentedMap:
    """The round-trip document; an empty file is an empty mapping.

    Raises :class:`ManagementError` (409) when the file on disk is not a YAML mapping:
    a hand edit broke it, and an API write must not build on it.
    """
    try:
        data = _yaml(_guess_layout(text)).load(text)
    except (YAMLError, ValueError, RecursionError) as exc:
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise ManagementError(
            "the config file on disk is not valid YAML; fix it by hand first",
            status_code=409,
            problems=[f"<yaml>: {problem}"],
        ) from None
    if data is None:
        return CommentedMap()
    if not isinstance(data, CommentedMap):
        raise ManagementError(
            "the config file on disk is not a mapping of sections; fix it by hand first",
            status_code=409,
            problems=[f"<root>: must be a mapping of sections, got {type(data).__name__}"],
        )
    return data


def dump_document(doc: CommentedMap, original: str) -> str:
    """``doc`` as text, laid out like ``original``. A file that held only comments keeps them."""
    if not doc and not _has_content(original):
        return original
    out = io.StringIO()
    _yaml(_guess_layout(original)).dump(doc, out)
    text = out.getvalue()
    if not original.strip() or _has_content(original):
        return text
    return original.rstrip("\n") + "\n" + text


def _has_content(text: str) -> bool:
    return any(ln.strip() and not ln.lstrip().startswith("#") for ln in text.splitlines())


def document_from_settings(settings: Settings) -> str:
    """A YAML document for settings that came from no file (kept in memory only).

    Keys are written as configured: a key that came from ``os.environ/NAME`` stays that reference.
    """
    data: dict[str, Any] = settings.model_dump(by_alias=True, mode="python")
    for raw, provider in zip(data["tppc"]["providers"], settings.tppc.providers, strict=True):
        if provider.key_source != "literal":
            raw["api-key"] = provider.key_source
    if settings.packycode.key_source != "literal" and settings.packycode.credentials.openai_api_key is not None:
        data["packycode"]["credentials"]["openai-api-key"] = settings.packycode.key_source
    out = io.StringIO()
    _yaml(_Layout(mapping=2, sequence=4, offset=2)).dump(_reveal(data), out)
    return out.getvalue()


def _reveal(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, dict):
        return {k: _reveal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_reveal(v) for v in value]
    return value


# -- the store ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Proposal:
    """An edit, validated but not written: the texts before and after, and what they mean."""

    old_text: str = field(repr=False)  # the texts hold keys: never in a repr
    new_text: str = field(repr=False)
    settings: Settings | None  # None when the edit changed nothing
    changed: tuple[str, ...]
    document: CommentedMap | None = field(default=None, repr=False, compare=False)  # new_text, parsed

    @property
    def unchanged(self) -> bool:
        return self.old_text == self.new_text


class ConfigStore:
    """The config file (or, without one, an in-memory document) that management writes edit.

    Not itself locked against concurrent writers: callers hold ``Runtime.write_lock``.
    """

    def __init__(self, path: str | os.PathLike[str] | None, *, text: str = "", env: Mapping[str, str] | None = None):
        self.path = Path(path) if path is not None else None
        self._memory = text
        self._env = env
        self._lock = threading.Lock()
        # The document of the last commit: the next write skips parsing when the file still holds it.
        self._cached: tuple[str, CommentedMap] | None = None
        # Hash of the content we last wrote or accepted: the watcher skips it.
        self.known_hash: str | None = None

    def __repr__(self) -> str:
        where = str(self.path) if self.path is not None else "<memory>"
        return f"ConfigStore({where!r})"

    @classmethod
    def for_settings(cls, settings: Settings, *, env: Mapping[str, str] | None = None) -> ConfigStore:
        """A file-less store whose document is ``settings``."""
        store = cls(None, text=document_from_settings(settings), env=env)
        store.known_hash = text_hash(store._memory)
        return store

    @property
    def persistent(self) -> bool:
        """True when commits reach a file; False when they stay in memory."""
        return self.path is not None

    @property
    def source(self) -> str:
        return str(self.path) if self.path is not None else "<memory>"

    def read(self) -> str:
        """The document's current text (the file as it is on disk now)."""
        if self.path is None:
            return self._memory
        return self.path.read_text(encoding="utf-8")

    def validate(self, text: str) -> Settings:
        """Sanitize and validate ``text`` as a whole config; raises :class:`ConfigError`."""
        return load_settings(self.path, text=text, env=self._env)

    def propose(self, mutator: Mutator) -> Proposal:
        """Run ``mutator`` on the current document and validate the result. Writes nothing.

        Raises :class:`ConfigError` (the candidate is invalid) or :class:`ManagementError`.
        """
        old = self.read()
        cached, self._cached = self._cached, None  # a failed edit must not leave a half-edited cache
        doc = cached[1] if cached is not None and cached[0] == old else parse_document(old)
        try:
            changed = mutator(doc)
        except RecursionError:
            raise ConfigError(["<body>: a value is nested too deeply"], source=self.source) from None
        try:
            new = dump_document(doc, old)
            new.encode("utf-8")
        except (YAMLError, ValueError, TypeError, RecursionError, UnicodeError):
            raise ConfigError(["<body>: a value cannot be written to YAML"], source=self.source) from None
        if new == old:
            self._cached = (old, doc)
            return Proposal(old, new, None, ())
        return Proposal(old, new, self.validate(new), tuple(changed), doc)

    def commit(self, text: str, *, expected: str | None = None, document: CommentedMap | None = None) -> None:
        """Write ``text`` atomically (or keep it in memory). With ``expected``, refuse (409)
        when the document changed since it was read: a hand edit landed in between.
        ``document`` is ``text`` parsed (``Proposal.document``), kept for the next edit."""
        with self._lock:
            self._cached = None
            if expected is not None and self.read() != expected:
                raise ManagementError(
                    "the config file changed on disk while this request was being applied; retry",
                    status_code=409,
                )
            if self.path is None:
                self._memory = text
            else:
                atomic_write_text(self.path, text)
            self.known_hash = text_hash(text)
            if document is not None:
                self._cached = (text, document)


class _RuntimeLike(Protocol):
    config_path: Path | None
    extras: dict[str, Any]
    file_settings: Settings | None


STORE_KEY = "config_store"


def store_for(runtime: _RuntimeLike) -> ConfigStore:
    """The runtime's store (``runtime.extras["config_store"]``): its config file, or, when the
    app was built from settings alone, an in-memory document made from them."""
    store = runtime.extras.get(STORE_KEY)
    if not isinstance(store, ConfigStore):
        if runtime.config_path is not None:
            store = ConfigStore(runtime.config_path)
        else:
            assert runtime.file_settings is not None
            store = ConfigStore.for_settings(runtime.file_settings)
        runtime.extras[STORE_KEY] = store
    return store


# -- provider edits: pure functions over the document --------------------------------------


def _last_scalar(node: Any) -> tuple[dict[Any, Any], Any, int] | None:
    """Where ruamel keeps the comment lines that follow ``node``: on its last scalar."""
    if isinstance(node, CommentedMap) and node:
        key = list(node)[-1]
        return _last_scalar(node[key]) or (node.ca.items, key, 2)
    if isinstance(node, CommentedSeq) and node:
        return _last_scalar(node[-1]) or (node.ca.items, len(node) - 1, 0)
    return None


def _take_tail(node: Any) -> str:
    """Detach the blank and comment lines after ``node`` (not its own inline comment)."""
    where = _last_scalar(node)
    slots = where[0].get(where[1]) if where else None
    token = slots[where[2]] if where and slots and len(slots) > where[2] else None
    if where is None or slots is None or not isinstance(token, CommentToken):
        return ""
    head, newline, tail = str(token.value).partition("\n")
    if not tail:
        return ""
    if head.strip():
        token.value = head + newline
    else:
        slots[where[2]] = None
    return tail


def _put_tail(node: Any, tail: str) -> None:
    """Attach ``tail`` (from :func:`_take_tail`) after ``node``."""
    where = _last_scalar(node)
    if not tail or where is None:
        return
    items, key, slot = where
    slots = items.setdefault(key, [None] * (4 if slot == 2 else 2))
    token = slots[slot]
    if isinstance(token, CommentToken):
        value = str(token.value)
        token.value = value + ("" if value.endswith("\n") else "\n") + tail
    else:
        slots[slot] = CommentToken("\n" + tail, CommentMark(0), None)


def _key_in(entry: Mapping[Any, Any], field: str) -> str | None:
    """The key as this entry spells it: ``base-url`` or ``base_url``."""
    for spelling in (field, field.replace("-", "_")):
        if spelling in entry:
            return spelling
    return None


def _get(entry: Mapping[Any, Any], field: str) -> Any:
    key = _key_in(entry, field)
    return entry[key] if key is not None else None


_YAML11 = pyyaml.resolver.Resolver()
_STR_TAG = "tag:yaml.org,2002:str"


def _safe(value: Any) -> Any:
    """``value`` ready for the document: a string the loader (PyYAML, YAML 1.1) would read as
    something else when written plain (``yes``, ``on``, ``1:20``) or that holds a character it
    treats as a line break is double-quoted, so what is read back is what was sent."""
    if isinstance(value, str):
        if any("\ud800" <= c <= "\udfff" for c in value):
            raise ManagementError("invalid request body", status_code=422,
                                  problems=["<body>: a string holds a lone UTF-16 surrogate"])
        tag = _YAML11.resolve(pyyaml.nodes.ScalarNode, value, (True, False))  # type: ignore[no-untyped-call]
        plain = tag == _STR_TAG
        if plain and value.isprintable() and not any(c in value for c in "\x85\u2028\u2029"):
            return value
        return DoubleQuotedScalarString(value)
    if isinstance(value, dict):
        return {_safe(k): _safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_safe(v) for v in value]
    return value


def _restyled(old: Any, new: Any) -> Any:
    """``new`` made safe, and quoted the way ``old`` was when it was quoted."""
    new = _safe(new)
    if isinstance(new, str) and not isinstance(new, DoubleQuotedScalarString):
        if isinstance(old, DoubleQuotedScalarString):
            return DoubleQuotedScalarString(new)
        if isinstance(old, SingleQuotedScalarString):
            return SingleQuotedScalarString(new)
    return new


def _same(old: Any, new: Any) -> bool:
    return type(old) is type(new) and bool(old == new) or (
        isinstance(old, str) and isinstance(new, str) and str(old) == new
    )


def _set(entry: CommentedMap, field: str, value: Any) -> bool:
    key = _key_in(entry, field)
    if key is not None and _same(entry[key], value):
        return False
    if key is None:
        tail = _take_tail(entry)
        entry[_safe(field)] = _safe(value)
        _put_tail(entry, tail)
    else:
        entry[key] = _restyled(entry[key], value)
    return True


def _delete(entry: CommentedMap, field: str) -> bool:
    key = _key_in(entry, field)
    if key is None:
        return False
    tail = _take_tail(entry) if list(entry)[-1] == key else ""
    del entry[key]
    _put_tail(entry, tail)
    return True


def _section(doc: CommentedMap, name: str) -> CommentedMap:
    key = _key_in(doc, name)
    if key is None or doc[key] is None:
        doc[key or name] = CommentedMap()
        key = key or name
    section = doc[key]
    if not isinstance(section, CommentedMap):
        raise ManagementError(
            f"the config file's {name} section is not a mapping; fix it by hand first", status_code=409
        )
    return section


def _providers(doc: CommentedMap, *, create: bool) -> CommentedSeq:
    tppc = _section(doc, "tppc") if create or _key_in(doc, "tppc") else CommentedMap()
    key = _key_in(tppc, "providers")
    seq = tppc[key] if key is not None else None
    if seq is None:
        seq = CommentedSeq()
        if create:
            tppc[key or "providers"] = seq
    if not isinstance(seq, CommentedSeq):
        raise ManagementError("the config file's tppc.providers is not a list; fix it by hand first", status_code=409)
    return seq


def _label(entry: Any, index: int) -> str:
    name = entry.get("name") if isinstance(entry, Mapping) else None
    return f"tppc.providers[{name}]" if isinstance(name, str) and name else f"tppc.providers[{index}]"


def _fold_name(value: Any) -> str | None:
    return value.strip().casefold() if isinstance(value, str) and value.strip() else None


def normalize_fields(value: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Request keys as the file spells them (``base_url`` -> ``base-url``), read-only GET keys dropped.

    Raises :class:`ManagementError` (422) when two spellings of one key are given.
    """
    out: dict[str, Any] = {}
    for raw_key, item in value.items():
        key = raw_key.replace("_", "-") if isinstance(raw_key, str) else raw_key
        if key in READ_ONLY_FIELDS:
            continue
        if key in out:
            raise ManagementError(
                "invalid request body", status_code=422, problems=[f"{where}.{key}: given more than once"]
            )
        out[key] = item
    return out


def find_provider(doc: CommentedMap, *, name: str | None = None, index: int | None = None) -> int:
    """Position of the provider named ``name`` (exact, else case-insensitive) or at ``index``; 404 if none."""
    seq = _providers(doc, create=False)
    if index is not None:
        if 0 <= index < len(seq):
            return index
        raise ManagementError(f"no provider at index {index} (there are {len(seq)})", status_code=404)
    names = [_get(e, "name") if isinstance(e, Mapping) else None for e in seq]
    for i, candidate in enumerate(names):
        if isinstance(candidate, str) and candidate.strip() == (name or "").strip():
            return i
    folded = _fold_name(name)
    for i, candidate in enumerate(names):
        if folded is not None and _fold_name(candidate) == folded:
            return i
    raise ManagementError(f"no provider named {name!r}", status_code=404)


def _keeps_key(entry: Mapping[Any, Any], new: Any, env: Mapping[str, str]) -> bool:
    """True when ``new`` is the stored key again: its mask, its value, or its reference as written."""
    if not isinstance(new, str):
        return False
    stored = _get(entry, "api-key")
    if stored is None:
        return False
    raw = str(stored).strip()
    resolved = resolve_key(raw, env)[0]
    return new.strip() in {raw, mask(resolved)} or (resolved is not None and new.strip() == resolved)


def _check_not_masked(fields: Mapping[str, Any], where: str) -> None:
    key = fields.get("api-key")
    if isinstance(key, str) and looks_masked(key.strip()):
        raise ManagementError(
            "invalid request body",
            status_code=422,
            problems=[f"{where}.api-key: is a masked value (as GET shows keys); {_SEND_FULL_KEY}"],
        )


def _apply_fields(
    entry: CommentedMap, fields: Mapping[str, Any], *, env: Mapping[str, str], full: bool, label: str
) -> list[str]:
    """Write ``fields`` into ``entry``; ``null`` removes a field. With ``full``, fields not given are
    removed too (except ``api-key``, which a missing value keeps). Returns the changed paths."""
    changed: list[str] = []
    fields = dict(fields)
    if "api-key" in fields and _keeps_key(entry, fields["api-key"], env):
        del fields["api-key"]
    _check_not_masked(fields, label)
    if full:
        for key in list(entry):
            kebab = str(key).replace("_", "-")
            if kebab not in fields and kebab != "api-key" and _delete(entry, kebab):
                changed.append(f"{label}.{kebab}")
    for key, value in fields.items():
        if key == "enabled" and value is True and _key_in(entry, key) is None:
            continue  # already the default: keep the entry as it is written
        done = _delete(entry, key) if value is None else _set(entry, key, value)
        if done:
            changed.append(f"{label}.{key}")
    return changed


def _name_taken(seq: CommentedSeq, name: Any, *, skip: int | None = None) -> bool:
    folded = _fold_name(name)
    if folded is None:
        return False
    return any(
        i != skip and isinstance(e, Mapping) and _fold_name(_get(e, "name")) == folded for i, e in enumerate(seq)
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
        raise ManagementError(f"the provider at index {at} is not a mapping; fix the file by hand", status_code=409)
    fields = normalize_fields(value, f"tppc.providers[{at}]")
    if "name" in fields and _name_taken(seq, fields["name"], skip=at):
        raise ManagementError(f"a provider named {fields['name']!r} already exists", status_code=409)
    return _apply_fields(entry, fields, env=env, full=False, label=_label(entry, at))


def add_provider(doc: CommentedMap, value: Mapping[str, Any], env: Mapping[str, str]) -> list[str]:
    """Append one provider; 409 when its name is taken (case-insensitive)."""
    seq = _providers(doc, create=True)
    fields = {k: v for k, v in normalize_fields(value, f"tppc.providers[{len(seq)}]").items() if v is not None}
    if _name_taken(seq, fields.get("name")):
        raise ManagementError(f"a provider named {fields.get('name')!r} already exists", status_code=409)
    _check_not_masked(fields, f"tppc.providers[{len(seq)}]")
    if not seq:
        seq.fa.set_block_style()
    tail = _take_tail(seq)
    seq.append(CommentedMap(_safe(fields)))
    _put_tail(seq, tail)
    return [f"{_label(fields, len(seq) - 1)} (added)"]


def remove_provider(doc: CommentedMap, *, name: str | None = None, index: int | None = None) -> list[str]:
    """Remove one provider; 404 when unknown."""
    seq = _providers(doc, create=False)
    at = find_provider(doc, name=name, index=index)
    label = _label(seq[at], at)
    tail = _take_tail(seq)
    del seq[at]
    _put_tail(seq, tail)
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
    tail = _take_tail(seq)
    changed: list[str] = []
    unused = list(range(len(seq)))
    new_entries: list[Any] = []
    for i, item in enumerate(providers):
        if not isinstance(item, Mapping):
            new_entries.append(_safe(item))  # the loader names the problem
            changed.append(f"tppc.providers[{i}]")
            continue
        fields = normalize_fields(item, f"tppc.providers[{i}]")
        folded = _fold_name(fields.get("name"))
        match = next(
            (j for j in unused if isinstance(seq[j], CommentedMap) and _fold_name(_get(seq[j], "name")) == folded),
            None,
        ) if folded is not None else None
        if match is None:
            kept = {k: v for k, v in fields.items() if v is not None}
            _check_not_masked(kept, f"tppc.providers[{i}]")
            new_entries.append(CommentedMap(_safe(kept)))
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
    _put_tail(seq, tail)
    if set_models:
        changed += _replace_models(doc, models)
    return changed


def _replace_models(doc: CommentedMap, models: Any) -> list[str]:
    tppc = _section(doc, "tppc")
    key = _key_in(tppc, "models")
    current = tppc[key] if key is not None else None
    if models is None:
        return ["tppc.models"] if key is not None and _delete(tppc, "models") else []
    if isinstance(current, CommentedSeq) and isinstance(models, list):
        if list(current) == models:
            return []
        del current[:]
        current.extend(_safe(models))
    elif key is not None and _same(current, models):
        return []
    else:
        tppc[key or "models"] = _safe(models)
    return ["tppc.models"]


def set_secret_key(doc: CommentedMap, value: str) -> list[str]:
    """Set ``remote-management.secret-key`` (keeping its quoting)."""
    section = _section(doc, "remote-management")
    return ["remote-management.secret-key"] if _set(section, "secret-key", value) else []
