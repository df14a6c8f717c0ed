"""Router members beyond the endpoints (helpers LiteLLM's own code and tests call, patching of
private members, batch and scheduler calls): reachable on the router as on ``litellm.Router``."""

from __future__ import annotations

from typing import Any
from unittest.mock import AsyncMock, patch

import pytest

from .conftest import MESSAGES, BuildRouter

MODEL_LIST: list[dict[str, Any]] = [
    {"model_name": "gpt-3.5-turbo", "litellm_params": {"model": "openai/gpt-3.5-turbo", "api_key": "sk-fake-a"}},
    {"model_name": "gpt-4o", "litellm_params": {"model": "openai/gpt-4o", "api_key": "sk-fake-b"}},
]


def _member(router: Any, name: str) -> Any:
    member = getattr(router, name, None)
    if member is None:
        pytest.skip(f"this litellm's Router has no {name}")
    return member


def test_private_completion_helper(build_router: BuildRouter) -> None:
    """The private _completion helper answers with the mocked text."""
    router = build_router(model_list=MODEL_LIST)
    reply = _member(router, "_completion")(model="gpt-3.5-turbo", messages=MESSAGES, mock_response="fine")
    assert reply["choices"][0]["message"]["content"] == "fine"


async def test_private_acompletion_helper(build_router: BuildRouter) -> None:
    """The private _acompletion helper answers with the mocked text."""
    router = build_router(model_list=MODEL_LIST)
    reply = await _member(router, "_acompletion")(model="gpt-3.5-turbo", messages=MESSAGES, mock_response="fine")
    assert reply["choices"][0]["message"]["content"] == "fine"


async def test_batch_one_model_many_requests(build_router: BuildRouter) -> None:
    """abatch_completion_one_model_multiple_requests answers each request."""
    router = build_router(model_list=MODEL_LIST)
    replies = await _member(router, "abatch_completion_one_model_multiple_requests")(
        model="gpt-3.5-turbo", messages=[MESSAGES, MESSAGES], mock_response="each")
    assert [r["choices"][0]["message"]["content"] for r in replies] == ["each", "each"]


async def test_schedule_acompletion(build_router: BuildRouter) -> None:
    """schedule_acompletion with a priority answers through the scheduler."""
    router = build_router(model_list=MODEL_LIST)
    reply = await _member(router, "schedule_acompletion")(model="gpt-3.5-turbo", messages=MESSAGES,
                                                          mock_response="queued", priority=1)
    assert reply["choices"][0]["message"]["content"] == "queued"


async def test_patched_private_member_is_used(build_router: BuildRouter) -> None:
    """patch.object(router, "_atext_completion") replaces what atext_completion calls, and is undone after."""
    from litellm.types.utils import TextCompletionResponse

    router = build_router(model_list=MODEL_LIST)
    _member(router, "_atext_completion")
    with patch.object(router, "_atext_completion", AsyncMock(return_value=TextCompletionResponse())) as mocked:
        await router.atext_completion(model="gpt-3.5-turbo", prompt="hi")
        mocked.assert_awaited_once()
    assert not isinstance(router._atext_completion, AsyncMock)


def test_function_with_fallbacks(build_router: BuildRouter) -> None:
    """function_with_fallbacks(original_function=router._completion) answers as a call would."""
    router = build_router(model_list=MODEL_LIST)
    run = _member(router, "function_with_fallbacks")
    reply = run(original_function=router._completion, model="gpt-3.5-turbo", messages=MESSAGES,
                mock_response="via fallbacks", num_retries=0)
    assert reply.choices[0].message.content == "via fallbacks"


def test_get_timeout_helper(build_router: BuildRouter) -> None:
    """_get_timeout reads a request's timeout."""
    assert _member(build_router(model_list=MODEL_LIST), "_get_timeout")(kwargs={}, data={"timeout": 100}) == 100


def test_print_deployment_masks_the_key(build_router: BuildRouter) -> None:
    """print_deployment masks a deployment's api_key."""
    router = build_router(model_list=MODEL_LIST)
    printed = _member(router, "print_deployment")(
        {"model_name": "x", "litellm_params": {"model": "openai/x", "api_key": "sk-fake-0123456789abcdef"}})
    assert "0123456789abcdef" not in printed["litellm_params"]["api_key"]


def test_validate_fallbacks(build_router: BuildRouter) -> None:
    """validate_fallbacks accepts a fallback list naming existing groups."""
    router = build_router(model_list=MODEL_LIST, fallbacks=[{"gpt-4o": ["gpt-3.5-turbo"]}])
    _member(router, "validate_fallbacks")(fallback_param=[{"gpt-4o": ["gpt-3.5-turbo"]}])


def test_deployment_by_group_name(build_router: BuildRouter) -> None:
    """get_deployment_by_model_group_name returns one of the group's deployments."""
    router = build_router(model_list=MODEL_LIST)
    deployment = _member(router, "get_deployment_by_model_group_name")(model_group_name="gpt-4o")
    assert deployment.model_name == "gpt-4o"


@pytest.mark.parametrize("switch, error_name", [("mock_testing_fallbacks", "InternalServerError"),
                                                ("mock_testing_context_fallbacks", "ContextWindowExceededError")])
def test_mock_testing_switches_raise(build_router: BuildRouter, switch: str, error_name: str) -> None:
    """LiteLLM's mock_testing_* switches raise its matching error when no fallback is set."""
    import litellm

    router = build_router(model_list=MODEL_LIST, num_retries=0)
    with pytest.raises(getattr(litellm, error_name)):
        router.completion(model="gpt-4o", messages=MESSAGES, **{switch: True})
