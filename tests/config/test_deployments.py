"""Translation to LiteLLM deployments and the credential priority chain."""

from __future__ import annotations

from typing import Any

import pytest
from canaries import CANARY_BACKUP, CANARY_LEGACY, CANARY_PRIMARY, CANARY_THIRD, assert_no_canary

from tppc_router.config import Settings
from tppc_router.config.deployments import (
    build_model_list,
    credential_chain,
    deployment_id,
    pinned_group,
)
from tppc_router.errors import ConfigError
from tppc_router.config.loader import settings_from_data
from tppc_router.secret import Secret

KEYS = {"primary": CANARY_PRIMARY, "backup": CANARY_BACKUP, "third": CANARY_THIRD}
LEGACY = {"enabled": True, "base-url": "https://packy.example/v1", "credentials": {"openai-api-key": CANARY_LEGACY}}


def provider(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "base-url": f"https://{name}.example/v1", "api-key": KEYS[name], **extra}


def settings(*providers: dict[str, Any], models: list[str] | None = None, **sections: Any) -> Settings:
    tppc: dict[str, Any] = {"providers": list(providers)}
    if models is not None:
        tppc["models"] = models
    return settings_from_data({"tppc": tppc, **sections}, env={})


def names(s: Settings) -> list[tuple[str, int]]:
    return [(c.provider, c.priority) for c in credential_chain(s)]


def test_translation_shape() -> None:
    """One provider and one model give exactly a group deployment and a pinned one."""
    model_list = build_model_list(settings(provider("primary")))
    params = {
        "model": "openai/responses/gpt-5",
        "api_base": "https://primary.example/v1",
        "api_key": CANARY_PRIMARY,
        "order": 1,
        "reasoning_effort": "high",
        "store": False,
    }
    info = {"tppc_provider": "primary", "tppc_source": "tppc", "tppc_model": "gpt-5", "tppc_priority": 1}
    assert model_list == [
        {
            "model_name": "gpt-5",
            "litellm_params": params,
            "model_info": {"id": "tppc:primary:gpt-5", **info, "tppc_pinned": False},
        },
        {
            "model_name": "primary/gpt-5",
            "litellm_params": params,
            "model_info": {"id": "tppc:primary:gpt-5#pinned", **info, "tppc_pinned": True},
        },
    ]
    assert (deployment_id("a", "m"), pinned_group("a", "m")) == ("tppc:a:m", "a/m")


def test_every_provider_serves_every_model_with_pinned_groups() -> None:
    """Each (provider, model) pair is a deployment of group M and of the pinned group provider/M."""
    model_list = build_model_list(settings(provider("primary"), provider("backup"), models=["gpt-5", "gpt-5-codex"]))
    groups = [(d["model_name"], d["model_info"]["tppc_provider"]) for d in model_list]
    assert groups == [
        ("gpt-5", "primary"),
        ("gpt-5-codex", "primary"),
        ("gpt-5", "backup"),
        ("gpt-5-codex", "backup"),
        ("primary/gpt-5", "primary"),
        ("primary/gpt-5-codex", "primary"),
        ("backup/gpt-5", "backup"),
        ("backup/gpt-5-codex", "backup"),
    ]
    assert len({d["model_info"]["id"] for d in model_list}) == len(model_list)


def test_legacy_block_comes_first_with_its_own_model_and_settings() -> None:
    """The enabled legacy block is priority 1, serves its model, and keeps its effort and storage."""
    legacy = {
        **LEGACY,
        "defaults": {"model": "gpt-5-codex", "model-reasoning-effort": "medium"},
        "privacy": {"disable-response-storage": False},
    }
    s = settings(provider("primary"), packycode=legacy)
    assert names(s) == [("packycode", 1), ("primary", 2)]
    first = build_model_list(s)[0]
    assert first["model_name"] == "gpt-5-codex"
    assert first["litellm_params"]["reasoning_effort"] == "medium"
    assert first["litellm_params"]["store"] is True
    assert first["model_info"]["tppc_source"] == "packycode"


def test_order_then_position() -> None:
    """Providers go by ``order``, then by list position; the default order is the 1-based position."""
    s = settings(provider("primary", order=3), provider("backup"), provider("third", order=1))
    assert names(s) == [("third", 1), ("backup", 2), ("primary", 3)]


def test_equal_orders_share_a_priority() -> None:
    """Providers with the same order share one priority (and so the load)."""
    s = settings(provider("primary", order=5), provider("backup", order=5), provider("third", order=9))
    assert names(s) == [("primary", 1), ("backup", 1), ("third", 2)]
    orders = [d["litellm_params"]["order"] for d in build_model_list(s) if not d["model_info"]["tppc_pinned"]]
    assert orders == [1, 1, 2]


def test_disabled_providers_produce_nothing() -> None:
    """A disabled provider and a disabled legacy block have no deployment at all."""
    s = settings(provider("primary", enabled=False), provider("backup"), packycode={**LEGACY, "enabled": False})
    assert names(s) == [("backup", 1)]
    assert {d["model_info"]["tppc_provider"] for d in build_model_list(s)} == {"backup"}


def test_no_provider_no_deployment() -> None:
    """An empty config translates to an empty model list."""
    assert build_model_list(settings()) == []


def test_explicit_credential_is_used_alone() -> None:
    """An explicit key and base together replace every configured provider."""
    chain = credential_chain(
        settings(provider("primary"), packycode=LEGACY), api_key=CANARY_THIRD, api_base="https://explicit.example/v1/"
    )
    assert [(c.provider, c.source, c.base_url, c.priority) for c in chain] == [
        ("explicit", "explicit", "https://explicit.example/v1", 1)
    ]
    assert chain[0].api_key.get_secret_value() == CANARY_THIRD


@pytest.mark.parametrize("partial", [{"api_key": CANARY_THIRD}, {"api_base": "https://explicit.example"}])
def test_partial_explicit_credential_is_refused(partial: dict[str, str]) -> None:
    """Half an explicit credential is refused, never completed from another source."""
    with pytest.raises(ConfigError) as caught:
        credential_chain(settings(provider("primary")), **partial)
    assert "never combines" in str(caught.value)
    assert_no_canary(caught.value)


def test_credentials_are_never_mixed() -> None:
    """Every credential carries the key and base-url of one and the same source."""
    s = settings(provider("primary"), provider("backup"), packycode=LEGACY)
    pairs = {(c.base_url, c.api_key.get_secret_value()) for c in credential_chain(s)}
    assert pairs == {
        ("https://packy.example/v1", CANARY_LEGACY),
        ("https://primary.example/v1", CANARY_PRIMARY),
        ("https://backup.example/v1", CANARY_BACKUP),
    }


def test_credential_repr_masks_key() -> None:
    """A Credential's repr shows the masked key only."""
    chain = credential_chain(settings(provider("primary")))
    assert_no_canary(repr(chain), str(chain))
    assert "sk-c...1e5b" in repr(chain[0])


def test_model_list_without_secrets_keeps_secret_objects() -> None:
    """include_secrets=False leaves each key a masked Secret."""
    model_list = build_model_list(settings(provider("primary")), include_secrets=False)
    key = model_list[0]["litellm_params"]["api_key"]
    assert isinstance(key, Secret)
    assert_no_canary(repr(model_list), str(model_list))


def test_legacy_block_without_auth_is_served() -> None:
    """requires-openai-auth: false with no key still serves the legacy provider, with a placeholder key."""
    from tppc_router.config.deployments import NO_KEY, credential_chain
    from tppc_router.config.loader import load_settings

    settings = load_settings(text="""
packycode:
  enabled: true
  base-url: http://127.0.0.1:9/v1
  requires-openai-auth: false
""", env={})
    chain = credential_chain(settings)
    assert [c.provider for c in chain] == ["packycode"]
    assert chain[0].api_key.get_secret_value() == NO_KEY
