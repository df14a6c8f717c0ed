"""Export to a LiteLLM proxy config: key references, and a real litellm.Router accepts it."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from canaries import CANARY_BACKUP, CANARY_LEGACY, CANARY_PRIMARY, assert_no_canary

from tppc_router.routing._litellm import load_litellm
from tppc_router.config import Settings
from tppc_router.config.export import EnvVar, env_var_name, litellm_config, litellm_proxy_config, router_settings
from tppc_router.config.loader import settings_from_data

ENV = {"BACKUP_API_KEY": CANARY_BACKUP}


def settings(**legacy: Any) -> Settings:
    data: dict[str, Any] = {
        "tppc": {
            "models": ["gpt-5", "gpt-5-codex"],
            "providers": [
                {"name": "primary-eu", "base-url": "https://primary.example/v1", "api-key": CANARY_PRIMARY},
                {"name": "backup", "base-url": "https://backup.example/v1", "api-key": "${BACKUP_API_KEY}"},
            ],
        },
        "router": {"same-provider-retries": 2, "cooldown": 45},
    }
    if legacy:
        data["packycode"] = legacy
    return settings_from_data(data, env=ENV)


def keys_by_provider(config: dict[str, Any]) -> dict[str, str]:
    return {d["model_info"]["tppc_provider"]: d["litellm_params"]["api_key"] for d in config["model_list"]}


def test_references_kept_and_literals_moved_to_env() -> None:
    """An env-referenced key stays a reference; a literal one becomes os.environ/TPPC_<NAME>_API_KEY."""
    result = litellm_config(settings())
    assert keys_by_provider(result.config) == {
        "primary-eu": "os.environ/TPPC_PRIMARY_EU_API_KEY",
        "backup": "os.environ/BACKUP_API_KEY",
    }
    assert result.env_vars == (EnvVar("TPPC_PRIMARY_EU_API_KEY", "primary-eu"),)
    assert_no_canary(result.to_yaml(), result.config)


def test_include_secrets_writes_literals_only() -> None:
    """With include_secrets a literal key is written out; references still stay references."""
    result = litellm_config(settings(), include_secrets=True)
    assert keys_by_provider(result.config) == {"primary-eu": CANARY_PRIMARY, "backup": "os.environ/BACKUP_API_KEY"}
    assert result.env_vars == ()


def test_legacy_openai_fallback_stays_a_reference() -> None:
    """A legacy key taken from OPENAI_API_KEY is exported as that reference."""
    s = settings_from_data(
        {"packycode": {"enabled": True, "base-url": "https://packy.example/v1"}}, env={"OPENAI_API_KEY": CANARY_LEGACY}
    )
    assert keys_by_provider(litellm_config(s).config) == {"packycode": "os.environ/OPENAI_API_KEY"}


@pytest.mark.parametrize(
    ("name", "var"),
    [
        ("primary", "TPPC_PRIMARY_API_KEY"),
        ("eu.west-1", "TPPC_EU_WEST_1_API_KEY"),
        ("router_", "TPPC_ROUTER_API_KEY"),
        ("ÿ", "TPPC_PROVIDER_API_KEY"),
    ],
)
def test_env_var_names(name: str, var: str) -> None:
    """Names are upper-cased, runs of other characters become one underscore, never a ``__``."""
    assert env_var_name(name) == var


def test_colliding_env_var_names_get_a_suffix() -> None:
    """Two names that map to the same variable get distinct ones."""
    s = settings_from_data(
        {
            "tppc": {
                "providers": [
                    {"name": "a-b", "base-url": "https://a.example", "api-key": CANARY_PRIMARY},
                    {"name": "a_b", "base-url": "https://b.example", "api-key": CANARY_BACKUP},
                ]
            }
        },
        env={},
    )
    assert [v.name for v in litellm_config(s).env_vars] == ["TPPC_A_B_API_KEY", "TPPC_A_B_2_API_KEY"]


def test_yaml_has_model_list_and_router_settings() -> None:
    """The YAML parses back to model_list and router_settings, after a comment header."""
    text = litellm_config(settings()).to_yaml("exported\nby a test")
    assert text.startswith("# exported\n# by a test\n")
    data = yaml.safe_load(text)
    assert list(data) == ["model_list", "router_settings"]
    assert data["router_settings"]["num_retries"] == 5  # 2 providers x (1 + 2 same-provider retries) - 1
    assert data["router_settings"]["cooldown_time"] == 45.0
    assert data["router_settings"]["stream_timeout"] == 10.0
    assert data["router_settings"] == router_settings(settings())


def test_litellm_router_accepts_the_export(monkeypatch: pytest.MonkeyPatch) -> None:
    """litellm.Router builds from the exported YAML, resolving os.environ/ itself, with every group."""
    monkeypatch.setenv("BACKUP_API_KEY", CANARY_BACKUP)
    monkeypatch.setenv("TPPC_PRIMARY_EU_API_KEY", CANARY_PRIMARY)
    monkeypatch.setenv("TPPC_PACKYCODE_API_KEY", CANARY_LEGACY)
    legacy = {"base-url": "https://packy.example/v1", "credentials": {"openai-api-key": CANARY_LEGACY}}
    data = yaml.safe_load(litellm_config(settings(enabled=True, **legacy)).to_yaml())
    litellm = load_litellm()
    router = litellm.Router(model_list=data["model_list"], **data["router_settings"])
    registry = getattr(router, "registry", None)
    deployments = registry().deployments() if callable(registry) else router.get_model_list()
    groups = {d["model_name"] for d in deployments}
    assert groups == {
        "gpt-5",
        "gpt-5-codex",
        "packycode/gpt-5",
        "primary-eu/gpt-5",
        "primary-eu/gpt-5-codex",
        "backup/gpt-5",
        "backup/gpt-5-codex",
    }
    keys = {d["model_info"]["tppc_provider"]: d["litellm_params"]["api_key"] for d in deployments}
    assert keys == {"packycode": CANARY_LEGACY, "primary-eu": CANARY_PRIMARY, "backup": CANARY_BACKUP}
    first = [d for d in deployments if d["model_name"] == "gpt-5"]
    assert [(d["model_info"]["tppc_provider"], d["litellm_params"]["order"]) for d in first] == [
        ("packycode", 1),
        ("primary-eu", 2),
        ("backup", 3),
    ]


def test_fault_table_maps_to_retry_and_allowed_fails_policies() -> None:
    """429/401/404/timeouts fail over once per other provider and bench at once; 5xx retries first; 400 never."""
    config = litellm_config(settings()).config
    rs = config["router_settings"]
    assert rs["retry_policy"] == {
        "BadRequestErrorRetries": 0,
        "ContentPolicyViolationErrorRetries": 0,
        "AuthenticationErrorRetries": 1,
        "NotFoundErrorRetries": 1,
        "RateLimitErrorRetries": 1,
        "TimeoutErrorRetries": 1,
        "InternalServerErrorRetries": 5,
    }
    fails = rs["allowed_fails_policy"]
    assert fails["RateLimitErrorAllowedFails"] == fails["AuthenticationErrorAllowedFails"] == 0
    assert fails["InternalServerErrorAllowedFails"] == 2
    assert fails["BadRequestErrorAllowedFails"] >= 1000
    pinned = rs["model_group_retry_policy"]["backup/gpt-5"]
    assert pinned["RateLimitErrorRetries"] == 0 and pinned["InternalServerErrorRetries"] == 2
    assert {d["litellm_params"]["stream_timeout"] for d in config["model_list"]} == {10.0}
    assert rs == router_settings(settings())


def test_proxy_export_routes_every_group_through_the_gateway() -> None:
    """litellm-proxy: one openai/<group> deployment per group at the gateway, master key from the env only."""
    s = settings_from_data(
        {
            "tppc": {"providers": [{"name": "primary", "base-url": "https://p.example/v1", "api-key": CANARY_PRIMARY}]},
            "server": {"host": "0.0.0.0", "port": 9123, "api-keys": [CANARY_BACKUP]},
        },
        env={},
    )
    result = litellm_proxy_config(s)
    text = result.to_yaml()
    assert_no_canary(text, result.config)
    data = yaml.safe_load(text)
    assert data["general_settings"] == {"master_key": "os.environ/LITELLM_MASTER_KEY"}
    assert [(d["model_name"], d["litellm_params"]["model"], d["litellm_params"]["api_base"]) for d in data["model_list"]] == [
        ("gpt-5", "openai/gpt-5", "http://127.0.0.1:9123/v1"),
        ("primary/gpt-5", "openai/primary/gpt-5", "http://127.0.0.1:9123/v1"),
    ]
    assert {d["litellm_params"]["api_key"] for d in data["model_list"]} == {"os.environ/TPPC_GATEWAY_API_KEY"}
    assert data["router_settings"]["num_retries"] == 0 and data["router_settings"]["disable_cooldowns"] is True
    assert result.env_vars == (EnvVar("TPPC_GATEWAY_API_KEY", "tppc-gateway"),)


def test_litellm_router_accepts_the_proxy_export(monkeypatch: pytest.MonkeyPatch) -> None:
    """litellm.Router builds from the litellm-proxy export's model_list and router_settings."""
    data = yaml.safe_load(litellm_proxy_config(settings()).to_yaml())
    router = load_litellm().Router(model_list=data["model_list"], **data["router_settings"])
    registry = getattr(router, "registry", None)
    deployments = registry().deployments() if callable(registry) else router.get_model_list()
    assert {d["model_name"] for d in deployments} == {
        "gpt-5", "gpt-5-codex", "primary-eu/gpt-5", "primary-eu/gpt-5-codex", "backup/gpt-5", "backup/gpt-5-codex"
    }
