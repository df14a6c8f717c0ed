"""Calls on the caller's own groups: replies, streams, embeddings, credentials, fallbacks and
errors as ``litellm.Router`` gives them (no provider is reached: ``mock_response=`` or a closed
loopback port)."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import MESSAGES, BuildRouter

CLOSED = "http://127.0.0.1:9/v1"  # nothing listens: a connection error at once
MODEL_LIST: list[dict[str, Any]] = [
    {"model_name": "good", "litellm_params": {"model": "openai/gpt-4o", "api_key": "sk-fake-good",
                                              "mock_response": "from good"}},
    {"model_name": "bad", "litellm_params": {"model": "openai/gpt-4o", "api_key": "sk-fake-bad", "api_base": CLOSED}},
    {"model_name": "emb", "litellm_params": {"model": "openai/text-embedding-3-small", "api_key": "sk-fake-emb"}},
]


def test_completion_mock_response(build_router: BuildRouter) -> None:
    """completion() returns a ModelResponse with the mocked text."""
    import litellm

    reply = build_router(model_list=MODEL_LIST).completion(model="good", messages=MESSAGES, mock_response="hello")
    assert isinstance(reply, litellm.ModelResponse)
    assert reply.choices[0].message.content == "hello"


async def test_acompletion_mock_response(build_router: BuildRouter) -> None:
    """acompletion() returns a ModelResponse with the mocked text."""
    reply = await build_router(model_list=MODEL_LIST).acompletion(model="good", messages=MESSAGES,
                                                                  mock_response="hello async")
    assert reply.choices[0].message.content == "hello async"


def test_deployment_mock_response(build_router: BuildRouter) -> None:
    """A deployment's own mock_response answers calls to its group."""
    reply = build_router(model_list=MODEL_LIST).completion(model="good", messages=MESSAGES)
    assert reply.choices[0].message.content == "from good"


def test_reply_names_the_deployment(build_router: BuildRouter) -> None:
    """The reply's hidden params carry the serving deployment's id."""
    router = build_router(model_list=MODEL_LIST)
    reply = router.completion(model="good", messages=MESSAGES, mock_response="x")
    ids = {d["model_info"]["id"] for d in router.get_model_list(model_name="good")}
    assert reply._hidden_params["model_id"] in ids


def test_sync_stream_rebuilds(build_router: BuildRouter) -> None:
    """A sync chat stream is LiteLLM's stream type and stream_chunk_builder rebuilds its text."""
    import litellm
    from litellm.litellm_core_utils.streaming_handler import CustomStreamWrapper

    stream = build_router(model_list=MODEL_LIST).completion(model="good", messages=MESSAGES, stream=True,
                                                            mock_response="hello streamed world")
    assert isinstance(stream, CustomStreamWrapper)
    rebuilt = litellm.stream_chunk_builder(list(stream), messages=MESSAGES)
    assert rebuilt is not None and rebuilt.choices[0].message.content == "hello streamed world"


async def test_async_stream_rebuilds(build_router: BuildRouter) -> None:
    """An async chat stream is LiteLLM's stream type and stream_chunk_builder rebuilds its text."""
    import litellm
    from litellm.litellm_core_utils.streaming_handler import CustomStreamWrapper

    stream = await build_router(model_list=MODEL_LIST).acompletion(model="good", messages=MESSAGES, stream=True,
                                                                   mock_response="hello async stream")
    assert isinstance(stream, CustomStreamWrapper)
    chunks = [chunk async for chunk in stream]
    rebuilt = litellm.stream_chunk_builder(chunks, messages=MESSAGES)
    assert rebuilt is not None and rebuilt.choices[0].message.content == "hello async stream"


def test_embedding_mock(build_router: BuildRouter) -> None:
    """embedding() with mock_response returns an EmbeddingResponse."""
    import litellm

    reply = build_router(model_list=MODEL_LIST).embedding(model="emb", input=["hi"], mock_response=[0.5, 0.25])
    assert isinstance(reply, litellm.EmbeddingResponse)


async def test_aembedding_mock(build_router: BuildRouter) -> None:
    """aembedding() with mock_response returns an EmbeddingResponse."""
    import litellm

    reply = await build_router(model_list=MODEL_LIST).aembedding(model="emb", input=["hi"], mock_response=[0.5])
    assert isinstance(reply, litellm.EmbeddingResponse)


def test_per_request_api_key_only(build_router: BuildRouter) -> None:
    """A per-request api_key alone is passed to LiteLLM with the group's deployment (no error)."""
    reply = build_router(model_list=MODEL_LIST).completion(model="good", messages=MESSAGES, api_key="sk-fake-other")
    assert reply.choices[0].message.content == "from good"


def test_per_request_credentials_keep_the_deployment(build_router: BuildRouter) -> None:
    """api_key + api_base per request call the group's model (not a tppc Responses model)."""
    router = build_router(model_list=MODEL_LIST)
    reply = router.completion(model="good", messages=MESSAGES, api_key="sk-fake-other", api_base=CLOSED,
                              mock_response="mocked")
    assert reply.choices[0].message.content == "mocked"
    assert "gpt-4o" in str(reply.model) and "responses" not in str(reply.model)


def test_fallbacks_reach_the_next_group(build_router: BuildRouter) -> None:
    """A failing group falls back to the group fallbacks= names."""
    router = build_router(model_list=MODEL_LIST, fallbacks=[{"bad": ["good"]}], num_retries=0)
    assert router.completion(model="bad", messages=MESSAGES).choices[0].message.content == "from good"


async def test_async_fallbacks_reach_the_next_group(build_router: BuildRouter) -> None:
    """Async: a failing group falls back to the group fallbacks= names."""
    router = build_router(model_list=MODEL_LIST, fallbacks=[{"bad": ["good"]}], num_retries=0)
    reply = await router.acompletion(model="bad", messages=MESSAGES)
    assert reply.choices[0].message.content == "from good"


def test_per_call_fallbacks(build_router: BuildRouter) -> None:
    """fallbacks= given to one call apply to that call."""
    router = build_router(model_list=MODEL_LIST, num_retries=0)
    reply = router.completion(model="bad", messages=MESSAGES, fallbacks=[{"bad": ["good"]}])
    assert reply.choices[0].message.content == "from good"


def test_default_fallbacks(build_router: BuildRouter) -> None:
    """default_fallbacks= catch a failing group with no fallbacks entry of its own."""
    router = build_router(model_list=MODEL_LIST, default_fallbacks=["good"], num_retries=0)
    assert router.completion(model="bad", messages=MESSAGES).choices[0].message.content == "from good"


def test_context_window_fallbacks(build_router: BuildRouter) -> None:
    """A context-window error falls back to context_window_fallbacks= (LiteLLM's mock switch)."""
    router = build_router(model_list=MODEL_LIST, context_window_fallbacks=[{"bad": ["good"]}], num_retries=0)
    reply = router.completion(model="bad", messages=MESSAGES, mock_testing_context_fallbacks=True)
    assert reply.choices[0].message.content == "from good"


def test_mock_testing_fallbacks(build_router: BuildRouter) -> None:
    """mock_testing_fallbacks=True makes the group fail and its fallback answer."""
    router = build_router(model_list=MODEL_LIST, fallbacks=[{"good": ["bad", "good"]}, {"bad": ["good"]}],
                          num_retries=0)
    reply = router.completion(model="bad", messages=MESSAGES, mock_testing_fallbacks=True)
    assert reply.choices[0].message.content == "from good"


def test_no_fallback_raises_litellms_error(build_router: BuildRouter) -> None:
    """With no fallback, a refused connection raises LiteLLM's own error (not one of ours)."""
    import litellm

    from tppc_router.errors import TppcRouterError

    with pytest.raises((litellm.APIConnectionError, litellm.InternalServerError)) as caught:
        build_router(model_list=MODEL_LIST, num_retries=0).completion(model="bad", messages=MESSAGES)
    assert not isinstance(caught.value, TppcRouterError)


def test_mocked_rate_limit_is_litellms(build_router: BuildRouter) -> None:
    """A mocked RateLimitError reaches the caller as litellm.RateLimitError."""
    import litellm

    error = litellm.RateLimitError("slow down", llm_provider="openai", model="gpt-4o")
    with pytest.raises(litellm.RateLimitError):
        build_router(model_list=MODEL_LIST, num_retries=0).completion(model="good", messages=MESSAGES,
                                                                      mock_response=error)


async def test_unknown_group_is_a_bad_request(build_router: BuildRouter) -> None:
    """A group no deployment serves raises litellm.BadRequestError naming the model."""
    import litellm

    with pytest.raises(litellm.BadRequestError, match="gpt-nope"):
        await build_router(model_list=MODEL_LIST).acompletion(model="gpt-nope", messages=MESSAGES)


def test_cooldown_after_failures(build_router: BuildRouter) -> None:
    """A deployment that keeps failing is cooled down by LiteLLM (cooldowns on by default)."""
    import asyncio

    model_list = [*MODEL_LIST, {**MODEL_LIST[1], "litellm_params": {**MODEL_LIST[1]["litellm_params"]}}]
    router = build_router(model_list=model_list, num_retries=0, allowed_fails=0)
    for _ in range(3):
        with pytest.raises(Exception):  # noqa: B017 - the failure itself is not under test
            router.completion(model="bad", messages=MESSAGES)
    ids = [d["model_info"]["id"] for d in router.get_model_list(model_name="bad")]
    getter = getattr(router, "_async_get_cooldown_deployments", None)
    if getter is not None:
        cooled = [i for i in asyncio.run(getter()) if i in ids]
    elif callable(getattr(router, "health", None)):  # litellm 1.110
        cooled = [i for i, _ in router.health().cooldowns.get_active_cooldowns(ids, None)]
    elif getattr(router, "cooldown_cache", None) is not None:  # litellm 1.106
        cooled = [i for i, _ in router.cooldown_cache.get_active_cooldowns(ids, None)]
    else:
        pytest.skip("this litellm lists no cooldowns")
    assert cooled, "no deployment of the failing group was cooled down"


def test_reset_clears_state(build_router: BuildRouter) -> None:
    """reset() runs (LiteLLM tests call it between cases)."""
    router = build_router(model_list=MODEL_LIST)
    router.reset()
    assert router.completion(model="good", messages=MESSAGES).choices[0].message.content == "from good"
