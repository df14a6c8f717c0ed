"""Write a file so that a reader sees the old content or the new, never half of either.

The text goes to a temporary file in the same directory, is flushed and fsync'd,
takes the old file's mode, then replaces the old file with ``os.replace``. A
symlink is followed: the file it points to is replaced, the link stays.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

__all__ = ["NEW_FILE_MODE", "atomic_write_bytes", "atomic_write_text", "backup_path"]

# A new file may hold keys, so only its owner reads it.
NEW_FILE_MODE = 0o600


def backup_path(path: str | os.PathLike[str]) -> Path:
    """Where :func:`atomic_write_text` keeps the previous content: ``<name>.bak``."""
    target = Path(path)
    return target.with_name(target.name + ".bak")


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable; not every platform can open a directory."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, mode: int | None = None) -> None:
    """Replace ``path`` with ``data`` atomically; keep its mode (or use ``mode``)."""
    target = Path(os.path.realpath(path))
    try:
        info: os.stat_result | None = target.stat()
    except FileNotFoundError:
        info = None
    if mode is None:
        mode = stat.S_IMODE(info.st_mode) if info is not None else NEW_FILE_MODE
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        if info is not None and hasattr(os, "chown"):
            with contextlib.suppress(OSError):  # only root may give a file away; keep going
                os.chown(tmp, info.st_uid, info.st_gid)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(target.parent)


def atomic_write_text(path: str | os.PathLike[str], text: str, *, backup: bool = False) -> Path | None:
    """Replace ``path`` with ``text`` (UTF-8) atomically, keeping its mode.

    With ``backup=True`` the current content is first saved, also atomically and
    with the same mode, as ``<name>.bak`` next to the file (next to the file a
    symlink points to). Returns that backup's path, or ``None`` when nothing was
    saved (no backup asked, or no file yet).
    """
    target = Path(os.path.realpath(path))
    saved: Path | None = None
    if backup:
        try:
            old = target.read_bytes()
        except FileNotFoundError:
            pass
        else:
            saved = backup_path(target)
            atomic_write_bytes(saved, old, mode=stat.S_IMODE(target.stat().st_mode))
    atomic_write_bytes(target, text.encode("utf-8"))
    return saved
