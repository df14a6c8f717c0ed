"""Export to a LiteLLM proxy config: key references, and a real litellm.Router accepts it."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from canaries import CANARY_BACKUP, CANARY_LEGACY, CANARY_PRIMARY, assert_no_canary

from tppc_router.routing._litellm import load_litellm
from tppc_router.config import Settings
from tppc_router.config.export import EnvVar, env_var_name, litellm_config, router_settings
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
    assert data["router_settings"] == {
        "routing_strategy": "simple-shuffle",
        "enable_pre_call_checks": False,
        "num_retries": 2,
        "timeout": 600.0,
        "allowed_fails": 3,
        "cooldown_time": 45.0,
    }
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
