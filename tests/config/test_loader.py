"""Loading: config path resolution, source precedence, and error messages that name the place."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from canaries import CANARY_PRIMARY, assert_no_canary

from tppc_router.errors import ConfigError, TppcRouterError
from tppc_router.config.loader import config_path, load_settings, parse_yaml
from tppc_router.config.schema import Settings

PROVIDER = f"""
tppc:
  providers:
    - name: primary
      base-url: https://primary.example/v1
      api-key: {CANARY_PRIMARY}
"""
WriteConfig = Callable[..., Path]


def _problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_settings(text=text, env={})
    assert_no_canary(caught.value, caught.value.problems)
    return caught.value.problems


def test_unknown_top_level_key_is_named() -> None:
    """An unknown section is named, with the sections that exist."""
    problems = _problems(PROVIDER + "proxy:\n  port: 1\n")
    assert problems == [
        "proxy: unknown key (expected one of: tppc, packycode, router, server, remote-management, litellm-settings)"
    ]


def test_unknown_nested_key_suggests_the_right_one() -> None:
    """A misspelt nested key names its path and the closest real key."""
    assert _problems("router:\n  first-byte-timout: 3\n") == [
        'router.first-byte-timout: unknown key; did you mean "first-byte-timeout"?'
    ]


def test_unknown_provider_key_names_list_index() -> None:
    """A misspelt key in a provider names the provider's index."""
    text = PROVIDER.replace("base-url", "base-ur")
    assert _problems(text) == ['tppc.providers[0].base-ur: unknown key; did you mean "base-url"?']


def test_type_errors_name_their_paths() -> None:
    """Every type error is reported at once, each starting with its field path."""
    text = PROVIDER + "      order: first\nserver:\n  port: eighty\nrouter:\n  cooldown: [1]\n"
    problems = _problems(text)
    assert sorted(p.split(":")[0] for p in problems) == ["router.cooldown", "server.port", "tppc.providers[0].order"]


def test_yaml_syntax_error_names_the_line() -> None:
    """A YAML syntax error gives the line and column, not a traceback."""
    problems = _problems("tppc:\n  models: [gpt-5\nrouter: {}\n")
    assert len(problems) == 1
    assert problems[0].startswith("<yaml>: ")
    assert "line 3" in problems[0]


def test_root_must_be_a_mapping() -> None:
    """A file holding a list instead of sections is refused."""
    assert _problems("- tppc\n") == ["<root>: must be a mapping of sections, got list"]


def test_empty_file_and_empty_sections_mean_defaults() -> None:
    """An empty file, and a section whose keys are all commented out, load as defaults."""
    assert load_settings(text="", env={}).router.cooldown == 30
    assert load_settings(text="router:\n  # cooldown: 5\nserver:\n", env={}).server.port == 8317


def test_parse_yaml_folds_keys_to_snake_case() -> None:
    """Kebab keys are folded at every depth; values are left alone."""
    data = parse_yaml("remote-management:\n  allow-remote: true\ntppc:\n  models: [a-b]\n")
    assert data == {"remote_management": {"allow_remote": True}, "tppc": {"models": ["a-b"]}}


def test_precedence_init_over_env_over_yaml_over_defaults(
    monkeypatch: pytest.MonkeyPatch, write_config: WriteConfig
) -> None:
    """One value set at all four levels: init args > TPPC_* env > YAML > defaults."""
    path = write_config("router:\n  first-byte-timeout: 7\n  cooldown: 12\ntppc:\n  models: [yaml-model]\n")
    monkeypatch.setenv("TPPC_ROUTER__FIRST_BYTE_TIMEOUT", "5")
    monkeypatch.setenv("TPPC_TPPC__MODELS", '["a"]')
    settings = load_settings(path, router={"first_byte_timeout": 3})
    assert settings.router.first_byte_timeout == 3  # init args
    assert settings.router.cooldown == 12  # YAML, kept beside the init value of the same section
    assert settings.tppc.models == ["a"]  # env over YAML
    assert load_settings(path).router.first_byte_timeout == 5  # env
    monkeypatch.delenv("TPPC_ROUTER__FIRST_BYTE_TIMEOUT")
    monkeypatch.delenv("TPPC_TPPC__MODELS")
    assert load_settings(path).router.first_byte_timeout == 7  # YAML
    assert load_settings(path).tppc.models == ["yaml-model"]
    assert load_settings(text="", env={}).router.first_byte_timeout == 10  # default


def test_config_path_order() -> None:
    """-c wins over TPPC_CONFIG, which wins over ./config.yaml."""
    env = {"TPPC_CONFIG": "/etc/tppc/env.yaml"}
    assert config_path("cli.yaml", env) == Path("cli.yaml")
    assert config_path(None, env) == Path("/etc/tppc/env.yaml")
    assert config_path(None, {}) == Path("config.yaml")
    assert config_path(None, {"TPPC_CONFIG": ""}) == Path("config.yaml")


def test_load_without_path_reads_tppc_config_then_cwd(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, write_config: WriteConfig
) -> None:
    """load_settings() reads $TPPC_CONFIG if set, else ./config.yaml."""
    write_config("router:\n  cooldown: 1\n")
    other = write_config("router:\n  cooldown: 2\n", name="elsewhere/other.yaml")
    monkeypatch.chdir(tmp_path)
    assert load_settings().router.cooldown == 1
    monkeypatch.setenv("TPPC_CONFIG", str(other))
    assert load_settings().router.cooldown == 2


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    """A missing file names the path and how to choose another."""
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as caught:
        load_settings(missing)
    assert caught.value.problems == [f"<file>: {missing} does not exist (use -c FILE or TPPC_CONFIG)"]
    assert caught.value.source == str(missing)


def test_config_error_is_a_value_error_with_source(write_config: WriteConfig) -> None:
    """ConfigError is a ValueError and a TppcRouterError; its text names the file and no key."""
    path = write_config(PROVIDER.replace("https://", "ftp://"))
    with pytest.raises(ValueError) as caught:
        load_settings(path)
    assert isinstance(caught.value, TppcRouterError)
    assert str(path) in str(caught.value)
    assert_no_canary(caught.value, repr(caught.value))


def test_env_json_may_use_kebab_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """A TPPC_* variable holding JSON takes the same kebab-case keys as the YAML."""
    provider = f'{{"name": "env", "base-url": "https://env.example/", "api-key": "{CANARY_PRIMARY}"}}'
    monkeypatch.setenv("TPPC_TPPC__PROVIDERS", f"[{provider}]")
    monkeypatch.setenv("TPPC_PACKYCODE__PRIVACY__DISABLE_RESPONSE_STORAGE", "false")
    settings = load_settings(text=PROVIDER, env={})
    assert [(p.name, p.base_url) for p in settings.tppc.providers] == [("env", "https://env.example")]
    assert settings.packycode.privacy.disable_response_storage is False


def test_env_with_broken_json_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """A TPPC_* list that is not JSON is a ConfigError naming the variable, not a traceback."""
    monkeypatch.setenv("TPPC_TPPC__MODELS", "[gpt-5")
    with pytest.raises(ConfigError) as caught:
        load_settings(text="", env={})
    assert caught.value.problems == ["<env>: TPPC_TPPC__MODELS: a list or mapping must be written as JSON"]


def test_non_utf8_file_is_a_config_error(tmp_path: Path) -> None:
    """A file that is not UTF-8 is reported as such."""
    path = tmp_path / "config.yaml"
    path.write_bytes(b"router:\n  cooldown: \xff\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert caught.value.problems == [f"<file>: {path} is not UTF-8 text (at byte offset 20)"]


def test_type_errors_and_rule_errors_are_reported_together() -> None:
    """A file with type errors still gets its other problems reported in the same run, each once."""
    from tppc_router.errors import ConfigError
    from tppc_router.config.loader import load_settings

    text = """
tppc:
  providers:
    - {name: off, base-url: "http://a/v1", api-key: sk-canary-primary-7f3a9c1e5b}
    - {name: backup, base-url: "ftp://x", api-key: sk-canary-backup-2d4e6f8a0c, order: first}
bogus: 2
"""
    with pytest.raises(ConfigError) as info:
        load_settings(text=text, env={})
    problems = info.value.problems
    paths = [p.split(": ", 1)[0] for p in problems]
    assert "tppc.providers[0].name" in paths and "quote it" in problems[paths.index("tppc.providers[0].name")]
    assert "tppc.providers[1].order" in paths and "bogus" in paths
    assert "tppc.providers[1].base-url" in paths
    assert paths.count("tppc.providers[0].name") == 1



def test_sources_are_declared_on_the_settings_class(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings declares its own sources (no patching at import): built directly it reads TPPC_* env, kebab folded."""
    assert Settings.settings_customise_sources.__qualname__ == "Settings.settings_customise_sources"
    monkeypatch.setenv("TPPC_TPPC__PROVIDERS", '[{"name": "a", "base-url": "http://127.0.0.1:9/v1"}]')
    assert Settings().tppc.providers[0].base_url == "http://127.0.0.1:9/v1"
