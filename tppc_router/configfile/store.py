"""The config file as a store: read it, propose an edit, commit it atomically.

:meth:`ConfigStore.propose` runs an edit (a :data:`Mutator`, such as the provider
edits in :mod:`tppc_router.configfile.edits`) on the round-trip document
(:mod:`tppc_router.configfile.document`) and validates the result with
:mod:`tppc_router.config.loader` without writing anything; :meth:`ConfigStore.commit`
writes it (temp file + fsync + rename) and records its hash, so the watcher can
tell our writes from hand edits. A store without a file keeps its document in memory.
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError

from tppc_router.configfile.atomic import atomic_write_text
from tppc_router.config.schema import Settings
from tppc_router.configfile.document import document_from_settings, dump_document, parse_document
from tppc_router.errors import ConfigConflictError, ConfigError, ConfigFileError
from tppc_router.config.loader import load_settings

__all__ = [
    "ConfigStore",
    "Mutator",
    "Proposal",
    "store_for",
    "text_hash",
]

Mutator = Callable[[CommentedMap], list[str]]


def text_hash(text: str | bytes) -> str:
    """SHA-256 of the file content: how the watcher tells our writes from hand edits."""
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()


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

        Raises :class:`ConfigError` (the candidate is invalid, or a subclass: the file is
        broken, the edit conflicts or names nothing).
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
                raise ConfigConflictError(
                    summary="the config file changed on disk while this request was being applied; retry",
                    source=self.source,
                )
            if self.path is None:
                self._memory = text
            else:
                _refuse_read_only(self.path)
                atomic_write_text(self.path, text)
            self.known_hash = text_hash(text)
            if document is not None:
                self._cached = (text, document)


def _refuse_read_only(path: Path) -> None:
    """A file nobody may write (no ``w`` bit, e.g. 0444) is the operator saying "do not change
    this": the rename that replaces it atomically would ignore that, so refuse instead."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    if not mode & 0o222:
        raise ConfigFileError(
            summary=f"{path} is read-only (mode {stat.S_IMODE(mode):04o}); the change was not written "
            "(make the file writable to change it through the API)", source=str(path),
        )


class _RuntimeLike(Protocol):
    config_path: Path | None
    store: ConfigStore | None
    file_settings: Settings | None


def store_for(runtime: _RuntimeLike) -> ConfigStore:
    """The runtime's store (``runtime.store``), made on first use: its config file, or, when
    the app was built from settings alone, an in-memory document made from them."""
    if runtime.store is None:
        if runtime.config_path is not None:
            runtime.store = ConfigStore(runtime.config_path)
        else:
            assert runtime.file_settings is not None
            runtime.store = ConfigStore.for_settings(runtime.file_settings)
    return runtime.store
