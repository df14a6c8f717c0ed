"""``tppc-router validate`` warns (exit 0, loud, on stderr) about what is valid but almost surely a mistake;
``--strict`` makes the warnings errors (exit 2)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from canaries import CANARY_PRIMARY

WriteConfig = Callable[..., Path]


def validate(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """The real CLI in a subprocess."""
    command = [sys.executable, "-c", "from tppc_router.cli import main; main()", "validate", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize("key", ["$BACKUP_API_KEY", "env/BACKUP_API_KEY", "os.environ.BACKUP_API_KEY",
                                 "${BACKUP_API_KEY:-x}", "%BACKUP_API_KEY%"])
def test_a_literal_key_that_looks_like_an_env_reference_warns(write_config: WriteConfig, key: str) -> None:
    """``api-key: $BACKUP_API_KEY`` (and kin) is a literal key: validate says so on stderr and still exits 0."""
    path = write_config(f"""
        tppc:
          providers:
            - name: primary
              base-url: https://primary.example/v1
              api-key: {CANARY_PRIMARY}
            - name: backup
              base-url: https://backup.example/v1
              api-key: "{key}"
    """)
    done = validate("-c", path)
    assert done.returncode == 0, done.stderr
    assert ("WARNING: tppc.providers[1].api-key: looks like an environment reference but is not one"
            in done.stderr)
    assert key not in done.stderr and "warning(s)" in done.stdout
    strict = validate("-c", path, "--strict")
    assert strict.returncode == 2
    assert "tppc.providers[1].api-key: looks like an environment reference" in strict.stderr


def test_a_base_url_without_a_version_path_warns(write_config: WriteConfig) -> None:
    """A base-url without ``/v1`` is valid but warned about; ``--strict`` refuses it."""
    path = write_config(f"""
        tppc:
          providers:
            - name: primary
              base-url: https://primary.example
              api-key: {CANARY_PRIMARY}
    """)
    done = validate(path)
    assert done.returncode == 0, done.stderr
    assert 'WARNING: tppc.providers[0].base-url: has no version path such as /v1 (provider "primary")' \
        in done.stderr
    assert validate(path, "--strict").returncode == 2


def test_no_enabled_provider_warns(write_config: WriteConfig) -> None:
    """A file with every provider disabled is not silently "valid"."""
    path = write_config("""
        tppc:
          providers:
            - name: primary
              enabled: false
    """)
    done = validate(path)
    assert done.returncode == 0
    assert "WARNING: tppc.providers: no provider is enabled" in done.stderr
    strict = validate(path, "--strict")
    assert strict.returncode == 2 and "no provider is enabled" in strict.stderr


def test_a_clean_config_has_no_warnings(write_config: WriteConfig) -> None:
    """A config with a reference, a /v1 base-url and an enabled provider prints no warning, even with --strict."""
    path = write_config(f"""
        tppc:
          providers:
            - name: primary
              base-url: https://primary.example/api/v1
              api-key: {CANARY_PRIMARY}
    """)
    done = validate(path, "--strict")
    assert done.returncode == 0, done.stderr
    assert "WARNING" not in done.stderr
    first = done.stdout.split("\n\n")[0].replace("\n", "")  # rich may wrap a long path
    assert first.startswith(f"{path}: valid") and "warning(s)" not in done.stdout
