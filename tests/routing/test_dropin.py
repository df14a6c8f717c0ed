"""TppcRouter as a drop-in for litellm.Router, on tppc groups served by simulated providers:
LiteLLM's exception classes, the caller's fallbacks after every provider failed, no misleading
LiteLLM ERROR lines, "did you mean", attribute writes and the tppc entry points."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tppc_router.config.loader import load_settings
from tppc_router.errors import AllProvidersFailedError
from tppc_router.routing.router import TppcRouter
from tppc_router.sim import Fault, ProviderSimulator

from .conftest import MESSAGES, RouterFactory, config_text

USER_GROUP = [{"model_name": "mine", "litellm_params": {"model": "openai/gpt-4o", "api_key": "sk-fake-mine",
                                                        "mock_response": "from my own group"}}]


def test_all_rate_limited_is_a_litellm_rate_limit(make_router: RouterFactory,
                                                  sims: dict[str, ProviderSimulator]) -> None:
    """Every provider answering 429 raises an error that is litellm.RateLimitError and ours, status 429."""
    import litellm
    import openai

    for name in ("primary", "backup"):
        sims[name].set_fault(Fault.parse("status:429"))
    with pytest.raises(litellm.RateLimitError) as caught:
        make_router().completion(model="gpt-5", messages=MESSAGES)
    assert isinstance(caught.value, AllProvidersFailedError) and isinstance(caught.value, openai.APIError)
    assert isinstance(caught.value, litellm.APIError)
    assert caught.value.status_code == 429 and caught.value.attempts


async def test_all_server_errors_are_a_litellm_bad_gateway(make_router: RouterFactory,
                                                           sims: dict[str, ProviderSimulator]) -> None:
    """Every provider failing with 5xx raises litellm's BadGatewayError (an APIError) with our 502."""
    import litellm

    for name in ("primary", "backup"):
        sims[name].set_fault(Fault.parse("status:500"))
    with pytest.raises(litellm.APIError) as caught:
        await make_router().acompletion(model="gpt-5", messages=MESSAGES)
    assert isinstance(caught.value, AllProvidersFailedError)
    assert type(caught.value).__name__ == "AllProvidersFailedError" and caught.value.status_code == 502
    assert "all providers failed" in str(caught.value)


def test_fallbacks_reach_a_user_group(make_router: RouterFactory, sims: dict[str, ProviderSimulator],
                                      caplog: pytest.LogCaptureFixture) -> None:
    """fallbacks= for a tppc group answer once every provider failed, with no LiteLLM ERROR line."""
    for name in ("primary", "backup"):
        sims[name].set_fault(Fault.parse("status:500"))
    router = make_router(model_list=USER_GROUP, fallbacks=[{"gpt-5": ["mine"]}])
    with caplog.at_level(logging.ERROR):
        reply = router.completion(model="gpt-5", messages=MESSAGES)
    assert reply.choices[0].message.content == "from my own group"
    assert not [r for r in caplog.records if r.name.startswith("LiteLLM") and r.levelno >= logging.ERROR]


async def test_per_call_fallbacks_for_a_tppc_group(make_router: RouterFactory,
                                                   sims: dict[str, ProviderSimulator]) -> None:
    """fallbacks= passed to one call of a tppc group apply to that call."""
    for name in ("primary", "backup"):
        sims[name].set_fault(Fault.parse("status:503"))
    router = make_router(model_list=USER_GROUP)
    reply = await router.acompletion(model="gpt-5", messages=MESSAGES, fallbacks=[{"gpt-5": ["mine"]}])
    assert reply.choices[0].message.content == "from my own group"


def test_no_litellm_error_lines_when_a_provider_fails_over(make_router: RouterFactory,
                                                           sims: dict[str, ProviderSimulator],
                                                           caplog: pytest.LogCaptureFixture) -> None:
    """A failover inside a tppc group logs no LiteLLM ERROR (no "no fallback" line per attempt)."""
    sims["primary"].set_fault(Fault.parse("status:500"))
    router = make_router(fallbacks=[{"other": ["gpt-5"]}])
    with caplog.at_level(logging.ERROR):
        reply = router.completion(model="gpt-5", messages=MESSAGES)
    assert reply._hidden_params["tppc_provider"] == "backup"
    assert not [r for r in caplog.records if r.name.startswith("LiteLLM") and r.levelno >= logging.ERROR]


def test_user_group_keeps_litellm_defaults(make_router: RouterFactory) -> None:
    """Building with tppc providers leaves LiteLLM's retries and cooldowns on for the caller's groups."""
    import litellm

    router = make_router(model_list=USER_GROUP)
    reference = litellm.Router(model_list=USER_GROUP)
    assert router.num_retries == reference.num_retries
    assert router.disable_cooldowns == reference.disable_cooldowns


def test_model_typo_says_did_you_mean(make_router: RouterFactory) -> None:
    """A model no group serves lists the groups and the closest one, and stays litellm's BadRequestError."""
    import litellm

    router = make_router(model_list=USER_GROUP)
    with pytest.raises(litellm.BadRequestError) as caught:
        router.completion(model="gpt5", messages=MESSAGES)
    assert "Did you mean 'gpt-5'" in str(caught.value)
    assert "mine" in str(caught.value)


def test_attribute_write_survives_reload(make_router: RouterFactory, sims: dict[str, ProviderSimulator]) -> None:
    """An attribute written on the TppcRouter reaches the wrapped router, and the router a reload builds."""
    router = make_router(model_list=USER_GROUP)
    router.num_retries = 7
    assert router.litellm_router.num_retries == 7
    router.reload(load_settings(text=config_text(sims, ("backup",))))
    assert router.litellm_router.num_retries == 7 and router.num_retries == 7


def test_tppc_settings_and_settings_method(make_router: RouterFactory) -> None:
    """The tppc settings are tppc_settings; settings is the wrapped Router's own member."""
    router = make_router()
    assert [p.name for p in router.tppc_settings.tppc.providers] == ["primary", "backup"]
    if hasattr(router.litellm_router, "settings"):  # litellm 1.110's Router.settings()
        assert router.settings == router.litellm_router.settings
    else:
        with pytest.raises(AttributeError):
            router.settings  # noqa: B018 - no tppc property shadows the name


def test_from_tppc_config_takes_router_arguments(tmp_path: Path, sims: dict[str, ProviderSimulator]) -> None:
    """from_tppc_config(path, **router_kwargs) builds from a tppc file plus litellm.Router arguments."""
    path = tmp_path / "config.yaml"
    path.write_text(config_text(sims), encoding="utf-8")
    router = TppcRouter.from_tppc_config(path, model_list=USER_GROUP, num_retries=3)
    try:
        assert router.num_retries == 3
        assert router.completion(model="mine", messages=MESSAGES).choices[0].message.content == "from my own group"
        assert router.completion(model="gpt-5", messages=MESSAGES)._hidden_params["tppc_provider"] == "primary"
    finally:
        router.close()


def test_router_arguments_without_tppc_settings() -> None:
    """TppcRouter(model_list=...) alone is a router with no tppc provider."""
    router = TppcRouter(model_list=USER_GROUP)
    try:
        assert router.model_groups() == []
        assert router.completion(model="mine", messages=MESSAGES).choices[0].message.content == "from my own group"
    finally:
        router.close()


def test_sync_chat_stream_is_litellms_and_rebuilds(make_router: RouterFactory) -> None:
    """A tppc chat stream (sync) is a CustomStreamWrapper and stream_chunk_builder rebuilds its text."""
    import litellm
    from litellm.litellm_core_utils.streaming_handler import CustomStreamWrapper

    stream = make_router().completion(model="gpt-5", messages=MESSAGES, stream=True)
    assert isinstance(stream, CustomStreamWrapper)
    assert stream.provider == "primary"
    chunks = list(stream)
    rebuilt = litellm.stream_chunk_builder(chunks, messages=MESSAGES)
    assert rebuilt is not None and "Hello from primary" in rebuilt.choices[0].message.content


async def test_async_chat_stream_is_litellms_and_rebuilds(make_router: RouterFactory,
                                                          sims: dict[str, ProviderSimulator]) -> None:
    """A tppc chat stream (async) that failed over is a CustomStreamWrapper that rebuilds the backup's text."""
    import litellm
    from litellm.litellm_core_utils.streaming_handler import CustomStreamWrapper

    sims["primary"].set_fault(Fault.parse("status:503"))
    stream = await make_router().acompletion(model="gpt-5", messages=MESSAGES, stream=True)
    assert isinstance(stream, CustomStreamWrapper)
    chunks = [chunk async for chunk in stream]
    rebuilt = litellm.stream_chunk_builder(chunks, messages=MESSAGES)
    assert rebuilt is not None and "Hello from backup" in rebuilt.choices[0].message.content
    assert stream._hidden_params["tppc_provider"] == "backup"


async def test_responses_streams_are_litellms(make_router: RouterFactory) -> None:
    """Tppc Responses streams are LiteLLM's Responses stream types, async and sync, ending in response.completed."""
    from litellm.responses.streaming_iterator import ResponsesAPIStreamingIterator, SyncResponsesAPIStreamingIterator

    router = make_router()
    stream = await router.aresponses(model="gpt-5", input="hi", stream=True)
    assert isinstance(stream, ResponsesAPIStreamingIterator)
    kinds = [str(getattr(event, "type", "")).lower() async for event in stream]
    assert kinds and kinds[-1].endswith(("response.completed", "response_completed"))
    sync_stream = router.responses(model="gpt-5", input="hi", stream=True)
    assert isinstance(sync_stream, SyncResponsesAPIStreamingIterator)
    assert [str(getattr(event, "type", "")).lower() for event in sync_stream][-1].endswith(
        ("response.completed", "response_completed"))


def test_no_tppc_settings_ignores_tppc_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """TppcRouter(model_list=...) without tppc settings serves no tppc group, whatever TPPC_* env says."""
    monkeypatch.setenv("TPPC_TPPC__MODELS", '["from-env"]')
    router = TppcRouter(model_list=USER_GROUP)
    try:
        assert router.model_groups() == []
        assert router.tppc_settings.tppc.providers == []
    finally:
        router.close()


def test_added_deployment_survives_reload(make_router: RouterFactory, sims: dict[str, ProviderSimulator]) -> None:
    """A deployment added with add_deployment() still serves its group after reload()."""
    from litellm.types.router import Deployment, LiteLLM_Params

    router = make_router(model_list=USER_GROUP)
    router.add_deployment(Deployment(model_name="added", litellm_params=LiteLLM_Params(
        model="openai/gpt-4o", api_key="sk-fake-added", mock_response="still here")))
    router.reload(load_settings(text=config_text(sims, ("backup",))))
    assert router.completion(model="added", messages=MESSAGES).choices[0].message.content == "still here"
    assert router.completion(model="mine", messages=MESSAGES).choices[0].message.content == "from my own group"
    assert router.completion(model="gpt-5", messages=MESSAGES)._hidden_params["tppc_provider"] == "backup"
