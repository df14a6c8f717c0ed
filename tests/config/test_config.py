"""The config schema: defaults, kebab-case keys, per-field rules, masked secrets."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from canaries import (
    CANARY_BACKUP,
    CANARY_GATEWAY,
    CANARY_LEGACY,
    CANARY_MANAGEMENT,
    CANARY_PRIMARY,
    assert_no_canary,
)
from pydantic import BaseModel, ValidationError

from tppc_router.config import (
    DEFAULT_MODEL,
    DEFAULT_REASONING_EFFORT,
    ProviderConfig,
    RemoteManagementSection,
    RouterSection,
    ServerSection,
    Settings,
    kebab,
)
from tppc_router.errors import ConfigError
from tppc_router.config.loader import load_settings

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.yaml"


def test_defaults_of_every_section() -> None:
    """With no file and no env, every section has its documented defaults."""
    settings = load_settings(text="", env={})
    assert settings.tppc.models == [DEFAULT_MODEL] == ["gpt-5"]
    assert settings.tppc.providers == []
    legacy = settings.packycode
    assert (legacy.enabled, legacy.base_url, legacy.requires_openai_auth, legacy.wire_api) == (
        False,
        "",
        True,
        "responses",
    )
    assert legacy.privacy.disable_response_storage is True
    assert (legacy.defaults.model, legacy.defaults.model_reasoning_effort) == ("gpt-5", DEFAULT_REASONING_EFFORT)
    assert legacy.credentials.openai_api_key is None
    router = settings.router
    assert (router.same_provider_retries, router.retry_backoff, router.failure_threshold, router.cooldown) == (
        1,
        0.2,
        3,
        30,
    )
    assert (router.first_byte_timeout, router.first_token_timeout, router.total_budget) == (10, None, 900)
    assert (router.health_check.enabled, router.state.backend, router.state.prefix) == (False, "memory", "tppc")
    assert (settings.server.host, settings.server.port, settings.server.api_keys) == ("127.0.0.1", 8317, [])
    assert (settings.remote_management.secret_key, settings.remote_management.allow_remote) == (None, False)


def test_kebab_case_keys_set_fields() -> None:
    """YAML keys are kebab-case (``first-byte-timeout``) and reach the snake_case fields."""
    text = """
router:
  first-byte-timeout: 4
  health-check: {enabled: true}
remote-management:
  allow-remote: true
"""
    settings = load_settings(text=text, env={})
    assert settings.router.first_byte_timeout == 4
    assert settings.router.health_check.enabled is True
    assert settings.remote_management.allow_remote is True


def test_dump_uses_kebab_case() -> None:
    """A dump by alias spells every key as the YAML does."""
    dumped = Settings().model_dump(by_alias=True)
    assert "remote-management" in dumped
    assert "first-byte-timeout" in dumped["router"]
    assert "disable-response-storage" in dumped["packycode"]["privacy"]
    assert kebab("model_reasoning_effort") == "model-reasoning-effort"


def test_provider_rejects_unknown_field() -> None:
    """A provider entry with an unknown field is an error, not silently ignored."""
    with pytest.raises(ValidationError):
        ProviderConfig.model_validate({"name": "a", "base_urll": "https://a.example"})


@pytest.mark.parametrize(
    ("yaml_text", "path"),
    [
        ("router:\n  same-provider-retries: 6", "router.same-provider-retries"),
        ("router:\n  retry-backoff: 2", "router.retry-backoff"),
        ("router:\n  failure-threshold: 0", "router.failure-threshold"),
        ("router:\n  total-budget: 0", "router.total-budget"),
        ("router:\n  first-token-timeout: -1", "router.first-token-timeout"),
        ("router:\n  state: {backend: disk}", "router.state.backend"),
        ("router:\n  health-check: {interval: 0}", "router.health-check.interval"),
        ("server:\n  port: 70000", "server.port"),
        ("remote-management:\n  allow-remote: maybe", "remote-management.allow-remote"),
    ],
)
def test_field_rules_name_the_path(yaml_text: str, path: str) -> None:
    """A value outside its range is refused, and the problem starts with the field path."""
    with pytest.raises(ConfigError) as caught:
        load_settings(text=yaml_text, env={})
    assert [p for p in caught.value.problems if p.startswith(path + ":")], caught.value.problems


def test_redis_state_needs_redis_url() -> None:
    """The redis backend takes only redis://, rediss:// or unix:// URLs."""
    with pytest.raises(ConfigError) as caught:
        load_settings(text="router:\n  state: {backend: redis, url: http://cache}", env={})
    assert caught.value.problems == ["router.state.url: must be a redis:// or rediss:// URL"]


def test_secrets_are_masked_in_repr_and_json() -> None:
    """Keys anywhere in the settings never show in repr, str or a JSON dump."""
    text = f"""
tppc:
  providers:
    - {{name: primary, base-url: "https://p.example", api-key: {CANARY_PRIMARY}}}
    - {{name: backup, base-url: "https://b.example", api-key: os.environ/BACKUP_KEY}}
packycode:
  credentials: {{openai-api-key: {CANARY_LEGACY}}}
server:
  api-keys: [{CANARY_GATEWAY}]
remote-management:
  secret-key: {CANARY_MANAGEMENT}
"""
    settings = load_settings(text=text, env={"BACKUP_KEY": CANARY_BACKUP})
    assert_no_canary(repr(settings), str(settings), settings.model_dump_json(), settings.model_dump())
    assert settings.tppc.providers[0].api_key is not None
    assert "sk-c...1e5b" in repr(settings.tppc.providers[0].api_key)


def _uncomment_sections(text: str) -> str:
    """The example with its commented-out ``router:``/``server:``/``remote-management:`` switched on."""
    lines, active = [], False
    for line in text.splitlines():
        if re.match(r"# (router|server|remote-management):", line):
            active = True
        if active and (re.match(r"# [a-z-]+:", line) or line.startswith("#   ")):
            line = line[2:]
        lines.append(line)
    return "\n".join(lines) + "\n"


def test_example_sections_show_the_defaults() -> None:
    """The commented-out sections of config.example.yaml hold exactly the schema defaults."""
    text = _uncomment_sections(EXAMPLE.read_text(encoding="utf-8"))
    settings = load_settings(text=text, env={"PRIMARY_API_KEY": CANARY_PRIMARY, "BACKUP_API_KEY": CANARY_BACKUP})
    assert settings.router == RouterSection()
    assert settings.server == ServerSection()
    assert settings.remote_management == RemoteManagementSection()


def test_example_lists_every_router_key() -> None:
    """Every router/server/remote-management key appears in the example, in kebab-case."""
    text = EXAMPLE.read_text(encoding="utf-8")
    for section in (RouterSection, ServerSection, RemoteManagementSection):
        for name in section.model_fields:
            assert f"{kebab(name)}:" in text, name


def test_example_validates_with_its_env() -> None:
    """config.example.yaml loads when PRIMARY_API_KEY and BACKUP_API_KEY are set."""
    env = {"PRIMARY_API_KEY": CANARY_PRIMARY, "BACKUP_API_KEY": CANARY_BACKUP}
    settings = load_settings(EXAMPLE, env=env)
    assert [p.name for p in settings.tppc.providers] == ["primary", "backup"]
    assert [p.key_source for p in settings.tppc.providers] == [
        "os.environ/PRIMARY_API_KEY",
        "os.environ/BACKUP_API_KEY",
    ]
    assert settings.packycode.enabled is False


def _leaf_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Every leaf key of ``model`` as a dotted kebab-case path; list items as ``[]``."""
    keys = []
    for name, field in model.model_fields.items():
        path = prefix + kebab(name)
        nested = field.annotation if isinstance(field.annotation, type) else None
        if nested is not None and issubclass(nested, BaseModel):
            keys += _leaf_keys(nested, path + ".")
        else:
            keys.append(path)
    return keys


def test_reference_table_lists_every_key() -> None:
    """docs/configuration.md has a row for every key, with its TPPC_* env override."""
    doc = (EXAMPLE.parent / "docs" / "configuration.md").read_text(encoding="utf-8")
    keys = _leaf_keys(Settings) + [f"tppc.providers[].{kebab(name)}" for name in ProviderConfig.model_fields]
    for key in keys:
        assert f"| `{key}` |" in doc, key
        if "[]" not in key:
            env = "TPPC_" + key.replace(".", "__").replace("-", "_").upper()
            assert f"`{env}`" in doc, env
