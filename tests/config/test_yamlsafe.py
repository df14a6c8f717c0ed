"""Config YAML: duplicate keys refused as the writer refuses them, alias bombs and recursion bounded."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tppc_router.config.loader import load_settings, parse_yaml
from tppc_router.configfile.document import parse_document
from tppc_router.errors import ConfigError, ConfigFileError

BOMB = "a: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]\n" + "".join(
    f"{n}: &{n} [{','.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True)
)


def test_duplicate_keys_are_refused_by_loader_and_writer_alike() -> None:
    """A key given twice is an error for the loader (naming its line), as it is for the round-trip writer."""
    text = "tppc:\n  models: [gpt-5]\n  models: [other]\n"
    with pytest.raises(ConfigError, match=r"duplicate key at line 3, column 3"):
        parse_yaml(text)
    with pytest.raises(ConfigFileError, match="duplicate key"):
        parse_document(text)


def test_alias_bomb_is_refused_quickly() -> None:
    """A few hundred bytes expanding to 9**9 values is refused before anything walks the expansion."""
    assert len(BOMB) < 500
    with pytest.raises(ConfigError, match="expands to more than"):
        parse_yaml(BOMB)


def test_recursive_alias_is_refused() -> None:
    """An alias inside the node it names is refused, not followed forever."""
    with pytest.raises(ConfigError, match="contains it"):
        parse_yaml("a: &a [1, *a]\n")


def test_deep_nesting_is_a_problem_not_a_crash() -> None:
    """YAML nested deeper than Python's recursion limit is a ConfigError."""
    with pytest.raises(ConfigError, match="nested too deeply"):
        parse_yaml("a: " + "[" * 50_000 + "]" * 50_000 + "\n")


def test_ordinary_aliases_still_work() -> None:
    """A config that shares a value through an alias loads as written."""
    text = ("tppc:\n  models: &m [gpt-5]\n  providers:\n"
            "    - {name: a, base-url: 'https://a.invalid/v1', api-key: sk-alias-test-abcdefgh}\n"
            "x-shared: *m\n")
    assert parse_yaml(text)["x_shared"] == ["gpt-5"]
    with pytest.raises(ConfigError):  # x-shared is no config key, but the aliases parsed fine
        load_settings(text=text, env={})


def test_validate_refuses_the_bomb(tmp_path: Path) -> None:
    """``tppc-router validate`` on an alias bomb exits 2 with one clear line, without eating memory."""
    path = tmp_path / "bomb.yaml"
    path.write_text(BOMB)
    done = subprocess.run([sys.executable, "-m", "tppc_router.cli.main", "validate", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "the document expands to more than" in done.stderr
