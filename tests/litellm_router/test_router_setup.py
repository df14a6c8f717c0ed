"""Constructing a router, reading and writing its settings: as ``litellm.Router`` does."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import BuildRouter, own_deployments

MODEL_LIST: list[dict[str, Any]] = [
    {"model_name": "gpt-3.5-turbo", "litellm_params": {"model": "openai/gpt-3.5-turbo", "api_key": "sk-fake-a"}},
    {"model_name": "gpt-3.5-turbo", "litellm_params": {"model": "openai/gpt-3.5-turbo", "api_key": "sk-fake-b"}},
    {"model_name": "claude", "litellm_params": {"model": "anthropic/claude-3-haiku", "api_key": "sk-fake-c"}},
]


def plain(*args: Any, **kwargs: Any) -> Any:
    import litellm

    return litellm.Router(*args, **kwargs)


def test_default_num_retries_are_litellms(build_router: BuildRouter) -> None:
    """With no num_retries given, the router keeps LiteLLM's default retries for the caller's groups."""
    assert build_router(model_list=MODEL_LIST).num_retries == plain(model_list=MODEL_LIST).num_retries


def test_explicit_num_retries_are_kept(build_router: BuildRouter) -> None:
    """num_retries= given to the constructor is the router's."""
    assert build_router(model_list=MODEL_LIST, num_retries=4).num_retries == 4


def test_cooldown_settings_are_litellms(build_router: BuildRouter) -> None:
    """Cooldowns stay as LiteLLM sets them unless the caller turns them off."""
    router, reference = build_router(model_list=MODEL_LIST), plain(model_list=MODEL_LIST)
    assert router.disable_cooldowns == reference.disable_cooldowns
    assert router.cooldown_time == reference.cooldown_time
    assert build_router(model_list=MODEL_LIST, disable_cooldowns=True).disable_cooldowns is True


def test_model_list_positional(build_router: BuildRouter) -> None:
    """The model list may be passed positionally, as Router's first parameter."""
    router = build_router(MODEL_LIST)
    assert len(own_deployments(router)) == len(MODEL_LIST)  # counts the caller's deployments only


def test_empty_router_builds(build_router: BuildRouter) -> None:
    """A router with no model list builds and lists none of the caller's deployments."""
    assert own_deployments(build_router()) == []


def test_model_names_list_the_groups(build_router: BuildRouter) -> None:
    """get_model_names() lists every group of the model list."""
    names = build_router(model_list=MODEL_LIST).get_model_names()
    assert {"gpt-3.5-turbo", "claude"} <= set(names)


def test_deployments_keep_their_params(build_router: BuildRouter) -> None:
    """Each of the caller's deployments keeps its group and litellm_params."""
    deployments = own_deployments(build_router(model_list=MODEL_LIST))
    assert [d["model_name"] for d in deployments] == [d["model_name"] for d in MODEL_LIST]
    assert [d["litellm_params"]["model"] for d in deployments] == [d["litellm_params"]["model"] for d in MODEL_LIST]


def test_deployment_ids_are_assigned(build_router: BuildRouter) -> None:
    """Every deployment gets a model_info id, and ids are unique."""
    ids = [d["model_info"]["id"] for d in build_router(model_list=MODEL_LIST).model_list]
    assert all(ids) and len(set(ids)) == len(ids)


def test_fallbacks_are_stored(build_router: BuildRouter) -> None:
    """fallbacks= and context_window_fallbacks= are the router's settings."""
    router = build_router(model_list=MODEL_LIST, fallbacks=[{"gpt-3.5-turbo": ["claude"]}],
                          context_window_fallbacks=[{"claude": ["gpt-3.5-turbo"]}])
    assert {"gpt-3.5-turbo": ["claude"]} in router.fallbacks
    assert router.context_window_fallbacks == [{"claude": ["gpt-3.5-turbo"]}]


def test_settings_method_is_routers(build_router: BuildRouter) -> None:
    """settings() (litellm 1.110) is the Router's method, not shadowed."""
    router = build_router(model_list=MODEL_LIST, fallbacks=[{"gpt-3.5-turbo": ["claude"]}])
    reference = plain(model_list=MODEL_LIST, fallbacks=[{"gpt-3.5-turbo": ["claude"]}])
    if not callable(getattr(reference, "settings", None)):
        pytest.skip("this litellm's Router has no settings() method")
    assert router.settings().fallbacks == reference.settings().fallbacks
    assert router.settings().disable_cooldowns == reference.settings().disable_cooldowns


def test_attribute_write_reaches_the_router(build_router: BuildRouter) -> None:
    """Writing num_retries on the router changes the retries it uses."""
    router = build_router(model_list=MODEL_LIST)
    router.num_retries = 5
    assert router.num_retries == 5
    inner = getattr(router, "litellm_router", router)
    assert inner.num_retries == 5


def test_fallbacks_write_reaches_the_router(build_router: BuildRouter) -> None:
    """Assigning fallbacks after construction is what the router then reads."""
    router = build_router(model_list=MODEL_LIST)
    router.fallbacks = [{"claude": ["gpt-3.5-turbo"]}]
    assert router.fallbacks == [{"claude": ["gpt-3.5-turbo"]}]


def test_model_group_alias(build_router: BuildRouter) -> None:
    """A model_group_alias answers with its target group."""
    router = build_router(model_list=MODEL_LIST, model_group_alias={"chat": "gpt-3.5-turbo"})
    reply = router.completion(model="chat", messages=[{"role": "user", "content": "hi"}], mock_response="aliased")
    assert reply.choices[0].message.content == "aliased"


def test_get_model_list_by_group(build_router: BuildRouter) -> None:
    """get_model_list(model_name=...) returns that group's deployments."""
    deployments = build_router(model_list=MODEL_LIST).get_model_list(model_name="gpt-3.5-turbo")
    assert len(deployments) == 2 and all(d["model_name"] == "gpt-3.5-turbo" for d in deployments)


def test_add_deployment_is_routed(build_router: BuildRouter) -> None:
    """A deployment added after construction serves calls to its group."""
    from litellm.types.router import Deployment, LiteLLM_Params

    router = build_router(model_list=MODEL_LIST)
    router.add_deployment(Deployment(model_name="added", litellm_params=LiteLLM_Params(model="openai/gpt-4o",
                                                                                        api_key="sk-fake-d")))
    assert "added" in router.get_model_names()
    reply = router.completion(model="added", messages=[{"role": "user", "content": "hi"}], mock_response="new")
    assert reply.choices[0].message.content == "new"


def test_private_members_are_readable(build_router: BuildRouter) -> None:
    """A private member of the Router (what some LiteLLM code and tests read) is readable."""
    reference = plain(model_list=MODEL_LIST)
    names = [n for n in ("_core", "_async_get_cooldown_deployments", "_get_timeout") if hasattr(reference, n)]
    assert names, "litellm.Router has none of the private members this test knows"
    router = build_router(model_list=MODEL_LIST)
    assert all(hasattr(router, n) for n in names)


def test_unknown_attribute_raises_attribute_error(build_router: BuildRouter) -> None:
    """Reading an attribute no Router has raises AttributeError."""
    with pytest.raises(AttributeError):
        build_router(model_list=MODEL_LIST).no_such_attribute_anywhere  # noqa: B018
