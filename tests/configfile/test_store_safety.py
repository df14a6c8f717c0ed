"""The config store never loses a hand edit and never replaces a read-only file."""

from __future__ import annotations

from pathlib import Path

import pytest

from tppc_router.configfile.edits import patch_provider
from tppc_router.configfile.store import ConfigStore
from tppc_router.errors import ConfigConflictError, ConfigFileError

KEY = "sk-canary-store-safe-1a2b3c4d"
CONFIG = f"""\
tppc:
  models: [gpt-5]
  providers:
    - name: alpha
      base-url: https://alpha.invalid/v1
      api-key: {KEY}
"""


def test_hand_edit_landing_during_a_write_is_kept(tmp_path: Path) -> None:
    """A hand edit appended after the API read the file makes its commit a conflict; the edit stays in the file."""
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG)
    store = ConfigStore(path, env={})
    proposal = store.propose(lambda doc: patch_provider(doc, {"order": 5}, {}, name="alpha"))
    with path.open("a") as handle:
        handle.write("# hand edit\n")
    with pytest.raises(ConfigConflictError):
        store.commit(proposal.new_text, expected=proposal.old_text)
    assert path.read_text() == CONFIG + "# hand edit\n"


def test_read_only_file_is_not_replaced(tmp_path: Path) -> None:
    """A 0444 file is refused (an error naming the mode), even for a user the rename would let through."""
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG)
    path.chmod(0o444)
    store = ConfigStore(path, env={})
    proposal = store.propose(lambda doc: patch_provider(doc, {"order": 5}, {}, name="alpha"))
    with pytest.raises(ConfigFileError, match=r"read-only \(mode 0444\)"):
        store.commit(proposal.new_text, expected=proposal.old_text)
    assert path.read_text() == CONFIG
