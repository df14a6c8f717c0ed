"""The tppc-router command line, through click's runner: output, exit codes, no keys, no litellm."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from canaries import CANARY_BACKUP, CANARY_LEGACY, CANARY_PRIMARY, assert_no_canary
from click.testing import CliRunner, Result

from tppc_router import cli
from tppc_router.config.deployments import credential_chain
from tppc_router.config.loader import load_settings

WriteConfig = Callable[..., Path]
EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.yaml"

CONFIG = f"""
# providers, best first
tppc:
  models: [gpt-5]
  providers:
    - name: primary
      base-url: https://primary.example/v1
      api-key: os.environ/PRIMARY_API_KEY
    - name: backup
      base-url: https://backup.example:8443/v1
      api-key: {CANARY_BACKUP}
    - name: spare
      enabled: false
      base-url: https://spare.example/v1

# the old way
packycode:
  enabled: true   # served first
  base-url: https://packy.example/v1
  credentials:
    openai-api-key: {CANARY_LEGACY}
"""


@pytest.fixture(autouse=True)
def _keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRIMARY_API_KEY", CANARY_PRIMARY)
    monkeypatch.setenv("BACKUP_API_KEY", CANARY_BACKUP)


def run(*args: str | Path) -> Result:
    result = CliRunner().invoke(cli.main, [str(a) for a in args])
    assert_no_canary(result.output, result.stderr)
    assert "Traceback" not in result.output
    return result


# ------------------------------------------------------------------ group, help, lazy commands


def test_help_lists_every_command() -> None:
    """--help lists the built-in commands and the lazily loaded ones with their short help."""
    result = run("--help")
    assert result.exit_code == 0
    listed = re.findall(r"^  (\S+)", result.stdout.split("Commands:")[1], flags=re.MULTILINE)
    assert listed == sorted({"export", "migrate", "models", "validate", "simulate", *cli.LAZY_COMMANDS})
    assert cli.LAZY_HELP["simulate"] in result.stdout


def test_no_litellm_import() -> None:
    """Importing the CLI and running --help, validate, models, export and migrate never imports litellm."""
    script = textwrap.dedent(
        f"""
        import os, sys
        from click.testing import CliRunner
        import tppc_router, tppc_router.cli as cli
        os.environ.update(PRIMARY_API_KEY="k-primary-123456", BACKUP_API_KEY="k-backup-123456")
        for args in (["--help"], ["validate", "-c", {str(EXAMPLE)!r}], ["models", "-c", {str(EXAMPLE)!r}],
                     ["export", "-c", {str(EXAMPLE)!r}], ["migrate", "-c", {str(EXAMPLE)!r}]):
            result = CliRunner().invoke(cli.main, args)
            assert result.exit_code == 0, (args, result.output)
        assert "litellm" not in sys.modules, "litellm was imported"
        assert not [m for m in sys.modules if m.startswith("tppc_router.sim")], "a lazy command was imported"
        print("ok")
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_lazy_command_runs_when_called(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A LAZY_COMMANDS entry is imported only when its command runs."""
    (tmp_path / "tppc_lazy_hello.py").write_text(
        "import click\n\n@click.command()\ndef hello() -> None:\n    click.echo('hello from lazy')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(cli.LAZY_COMMANDS, "hello", "tppc_lazy_hello:hello")
    monkeypatch.setitem(cli.LAZY_HELP, "hello", "Say hello.")
    assert "Say hello." in run("--help").stdout
    assert "tppc_lazy_hello" not in sys.modules
    result = run("hello")
    assert (result.exit_code, result.stdout) == (0, "hello from lazy\n")
    monkeypatch.delitem(sys.modules, "tppc_lazy_hello")


def test_unavailable_lazy_command_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    """A lazy command whose module is missing fails with a one-line reason, not a traceback."""
    monkeypatch.setitem(cli.LAZY_COMMANDS, "ghost", "tppc_router.no_such_module:ghost")
    result = run("ghost")
    assert result.exit_code == 1
    assert "the 'ghost' command is not available" in result.stderr
    assert "no_such_module" in result.stderr


def test_config_error_from_any_command_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A ConfigError raised by a lazily loaded command also prints its problems and exits 2."""
    (tmp_path / "tppc_lazy_broken.py").write_text(
        "import click\nfrom tppc_router.errors import ConfigError\n\n@click.command()\ndef broken() -> None:\n"
        "    raise ConfigError(['router.cooldown: must be >= 0', 'server.port: too big'], source='x.yaml')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(cli.LAZY_COMMANDS, "broken", "tppc_lazy_broken:broken")
    result = run("broken")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "error: invalid config (x.yaml):",
        "router.cooldown: must be >= 0",
        "server.port: too big",
    ]
    monkeypatch.delitem(sys.modules, "tppc_lazy_broken")


# ------------------------------------------------------------------ validate


def test_validate_shows_providers_in_priority_order(write_config: WriteConfig) -> None:
    """validate exits 0 and lists providers by priority: source, host, masked key, key source."""
    path = write_config(CONFIG)
    result = run("validate", "-c", path)
    assert result.exit_code == 0, result.output
    rows = [line.split() for line in result.stdout.splitlines()[2:-1]]
    assert rows == [
        ["1", "packycode", "yes", "packycode", "packy.example", "sk-c...9b1d", "literal"],
        ["2", "primary", "yes", "tppc", "primary.example", "sk-c...1e5b", "os.environ/PRIMARY_API_KEY"],
        ["3", "backup", "yes", "tppc", "backup.example:8443", "sk-c...8a0c", "literal"],
        ["-", "spare", "no", "tppc", "spare.example", "-", "-"],
    ]
    assert result.stdout.splitlines()[0] == f"{path}: valid"
    assert result.stdout.splitlines()[-1] == "models: gpt-5"


def test_validate_invalid_prints_each_problem_and_exits_2(write_config: WriteConfig) -> None:
    """An invalid file exits 2 and puts every problem on stderr, one per line."""
    text = CONFIG.replace("https://primary.example/v1", "ftp://primary").replace("name: backup", "name: Primary")
    path = write_config(text.replace("os.environ/PRIMARY_API_KEY", "os.environ/UNSET_KEY"))
    result = run("validate", "-c", path)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"error: invalid config ({path}):",
        'tppc.providers[0].api-key: environment variable UNSET_KEY is not set (provider "primary")',
        'tppc.providers[0].base-url: must be an http(s) URL with a host (provider "primary")',
        (
            "tppc.providers[1].name: duplicate name (case-insensitive), already used by tppc.providers[0]"
            ' (provider "Primary")'
        ),
    ]


@pytest.mark.parametrize("text", ["tppc: [\n", "router:\n  cooldwn: 1\n", "- a\n"])
def test_validate_never_shows_a_traceback(write_config: WriteConfig, text: str) -> None:
    """YAML errors, unknown keys and a wrong root all exit 2 with a message."""
    result = run("validate", "-c", write_config(text))
    assert result.exit_code == 2
    assert result.stderr.startswith("error: invalid config")


def test_validate_missing_file(tmp_path: Path) -> None:
    """A missing file exits 2 and says how to choose one."""
    result = run("validate", "-c", tmp_path / "nope.yaml")
    assert result.exit_code == 2
    assert "does not exist (use -c FILE or TPPC_CONFIG)" in result.stderr


def test_config_path_resolution(write_config: WriteConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without -c the CLI reads $TPPC_CONFIG, else ./config.yaml; -c works on the group too."""
    write_config(CONFIG)
    other = write_config(CONFIG.replace("name: backup", "name: other"), name="other.yaml")
    monkeypatch.chdir(tmp_path)
    assert "backup" in run("validate").stdout
    monkeypatch.setenv("TPPC_CONFIG", str(other))
    assert "other" in run("validate").stdout
    assert "backup" in run("validate", "-c", "config.yaml").stdout
    assert "backup" in run("-c", "config.yaml", "validate").stdout


def test_example_config_validates() -> None:
    """config.example.yaml is valid once its two variables are set."""
    result = run("validate", "-c", EXAMPLE)
    assert result.exit_code == 0, result.output
    assert "os.environ/BACKUP_API_KEY" in result.stdout


# ------------------------------------------------------------------ models


def test_models_text(write_config: WriteConfig) -> None:
    """models lists each group with its providers by priority, then the pinned groups."""
    result = run("models", "-c", write_config(CONFIG))
    assert result.exit_code == 0
    assert [line.split()[:2] for line in result.stdout.splitlines()] == [
        ["gpt-5"],
        ["1", "packycode"],
        ["2", "primary"],
        ["3", "backup"],
        ["pinned", "groups"],
        ["packycode/gpt-5"],
        ["primary/gpt-5"],
        ["backup/gpt-5"],
    ]


def test_models_json_has_no_keys(write_config: WriteConfig) -> None:
    """models --json gives groups and pinned groups, and no key of any kind."""
    result = run("models", "-c", write_config(CONFIG), "--json")
    data = json.loads(result.stdout)
    assert data["models"] == [
        {
            "group": "gpt-5",
            "providers": [
                {"provider": "packycode", "priority": 1, "source": "packycode", "host": "packy.example"},
                {"provider": "primary", "priority": 2, "source": "tppc", "host": "primary.example"},
                {"provider": "backup", "priority": 3, "source": "tppc", "host": "backup.example:8443"},
            ],
        }
    ]
    assert data["pinned"][0] == {"group": "packycode/gpt-5", "provider": "packycode", "model": "gpt-5"}
    assert "sk-" not in result.stdout


# ------------------------------------------------------------------ export


def test_export_keeps_references_and_moves_literals(write_config: WriteConfig) -> None:
    """export keeps os.environ/ references and swaps literal keys for TPPC_*_API_KEY, noted on stderr."""
    result = run("export", "--format", "litellm", "-c", write_config(CONFIG))
    assert result.exit_code == 0
    data = yaml.safe_load(result.stdout)
    keys = {d["model_info"]["tppc_provider"]: d["litellm_params"]["api_key"] for d in data["model_list"]}
    assert keys == {
        "packycode": "os.environ/TPPC_PACKYCODE_API_KEY",
        "primary": "os.environ/PRIMARY_API_KEY",
        "backup": "os.environ/TPPC_BACKUP_API_KEY",
    }
    assert data["router_settings"]["routing_strategy"] == "simple-shuffle"
    assert "TPPC_PACKYCODE_API_KEY  (key of provider packycode)" in result.stderr
    assert "TPPC_BACKUP_API_KEY  (key of provider backup)" in result.stderr


@pytest.mark.canary_guard_off("--include-secrets prints literal keys on purpose")
def test_export_include_secrets(write_config: WriteConfig) -> None:
    """--include-secrets writes literal keys as they are (and only then)."""
    result = CliRunner().invoke(cli.main, ["export", "-c", str(write_config(CONFIG)), "--include-secrets"])
    assert result.exit_code == 0
    data = yaml.safe_load(result.stdout)
    keys = {d["model_info"]["tppc_provider"]: d["litellm_params"]["api_key"] for d in data["model_list"]}
    assert keys == {"packycode": CANARY_LEGACY, "primary": "os.environ/PRIMARY_API_KEY", "backup": CANARY_BACKUP}
    assert "contains keys" in result.stderr


# ------------------------------------------------------------------ migrate


def chain(path: Path) -> list[tuple[str, str, str, int]]:
    settings = load_settings(path)
    return [(c.provider, c.base_url, c.api_key.get_secret_value(), c.priority) for c in credential_chain(settings)]


def test_migrate_prints_a_diff_and_writes_nothing(write_config: WriteConfig) -> None:
    """Without --write, migrate prints a unified diff (keys masked) and leaves the file alone."""
    path = write_config(CONFIG)
    before = path.read_text()
    result = run("migrate", "-c", path)
    assert result.exit_code == 0
    assert result.stdout.startswith(f"--- {path}\n+++ {path} (migrated)\n")
    assert "+    - name: packycode" in result.stdout.splitlines()
    assert "+      api-key: sk-c...9b1d" in result.stdout.splitlines()
    assert "-  enabled: true   # served first" in result.stdout.splitlines()
    assert "run again with --write" in result.stderr
    assert path.read_text() == before
    assert not path.with_name(path.name + ".bak").exists()


def test_migrate_write_keeps_backup_comments_and_providers(write_config: WriteConfig) -> None:
    """--write rewrites in place, keeps a .bak and every comment, and the providers stay the same."""
    path = write_config(CONFIG)
    original, before = path.read_text(), chain(path)
    result = run("migrate", "-c", path, "--write")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"migrated {path} (original kept as {path}.bak)\n"
    assert path.with_name("config.yaml.bak").read_text() == original
    new = path.read_text()
    for comment in ("# providers, best first", "# the old way", "# served first"):
        assert comment in new
    assert yaml.safe_load(new)["packycode"]["enabled"] is False
    assert chain(path) == before


def test_migrate_twice_changes_nothing(write_config: WriteConfig) -> None:
    """A second migrate says there is nothing to migrate and leaves file and backup alone."""
    path = write_config(CONFIG)
    run("migrate", "-c", path, "--write")
    migrated, backup = path.read_text(), path.with_name("config.yaml.bak").read_text()
    result = run("migrate", "-c", path, "--write")
    assert result.exit_code == 0
    assert result.stdout.startswith("nothing to migrate")
    assert (path.read_text(), path.with_name("config.yaml.bak").read_text()) == (migrated, backup)


def test_migrate_refuses_existing_packycode_provider(write_config: WriteConfig) -> None:
    """A provider already called packycode makes migrate exit 2 with a clear line."""
    path = write_config(CONFIG.replace("name: spare", "name: packycode"))
    result = run("migrate", "-c", path, "--write")
    assert result.exit_code == 2
    assert 'tppc.providers[2].name: a provider named "packycode" already exists' in result.stderr
    assert not path.with_name("config.yaml.bak").exists()


def test_migrate_reports_an_invalid_file(write_config: WriteConfig) -> None:
    """migrate checks the file first: an invalid one exits 2 with its problems."""
    path = write_config(CONFIG.replace("https://primary.example/v1", "primary.example"))
    result = run("migrate", "-c", path)
    assert result.exit_code == 2
    assert "tppc.providers[0].base-url: must be an http(s) URL with a host" in result.stderr


def test_migrate_warns_about_hard_coded_defaults(write_config: WriteConfig) -> None:
    """A legacy effort other than high is warned about on stderr."""
    path = write_config(CONFIG + "  defaults:\n    model-reasoning-effort: low\n")
    result = run("migrate", "-c", path)
    assert result.exit_code == 0
    assert 'warning: packycode.defaults.model-reasoning-effort is "low"' in result.stderr
