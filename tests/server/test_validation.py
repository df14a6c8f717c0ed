"""Request shape checks (pure): wrong shapes are 400s naming the parameter; unknown fields pass."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tppc_router.server.errors import GatewayError
from tppc_router.server.validation import check_chat, check_responses, json_depth

GOOD_RESPONSES: dict[str, Any] = {
    "model": "gpt-5", "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}],
    "reasoning": {"effort": "high", "summary": "auto"}, "text": {"format": {"type": "text"}, "verbosity": "low"},
    "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}], "tool_choice": "auto",
    "store": False, "include": ["reasoning.encrypted_content"], "max_output_tokens": 100, "temperature": 0.5,
    "metadata": {"a": "b"}, "previous_response_id": None, "stream_options": {"include_obfuscation": False},
}


def test_a_codex_shaped_body_passes() -> None:
    """A body with every checked field in its right shape passes."""
    check_responses(GOOD_RESPONSES)
    check_responses({"model": "gpt-5", "input": "hi"})


@given(st.dictionaries(st.text().filter(lambda k: k not in GOOD_RESPONSES and k not in (
    "instructions", "parallel_tool_calls", "top_p", "prompt_cache_key", "service_tier", "user", "truncation",
    "background", "prompt", "conversation")), st.none() | st.integers() | st.text() | st.lists(st.integers()),
    max_size=5))
def test_unknown_fields_always_pass(extra: dict[str, Any]) -> None:
    """Fields the gateway does not know pass whatever their value (Codex adds fields over time)."""
    check_responses({**GOOD_RESPONSES, **extra})


@pytest.mark.parametrize(
    ("patch", "param"),
    [({"input": 5}, "input"), ({"input": {"a": 1}}, "input"), ({"input": ["x"]}, "input[0]"),
     ({"input": [{"content": 5}]}, "input[0].content"), ({"reasoning": "high"}, "reasoning"),
     ({"reasoning": {"effort": 1}}, "reasoning.effort"), ({"text": {"format": "json"}}, "text.format"),
     ({"tools": [{"type": 5}]}, "tools[0].type"), ({"tools": {"a": 1}}, "tools"), ({"store": "no"}, "store"),
     ({"max_output_tokens": 1.5}, "max_output_tokens"), ({"max_output_tokens": True}, "max_output_tokens"),
     ({"include": [1]}, "include"), ({"temperature": "hot"}, "temperature")],
)
def test_wrong_shapes_name_the_parameter(patch: dict[str, Any], param: str) -> None:
    """Each wrong shape is a 400 whose param names the field."""
    with pytest.raises(GatewayError) as refused:
        check_responses({**GOOD_RESPONSES, **patch})
    assert refused.value.status_code == 400 and refused.value.param == param


@pytest.mark.parametrize(
    ("patch", "param"),
    [({"messages": []}, "messages"), ({"messages": "hi"}, "messages"), ({"messages": [1]}, "messages[0]"),
     ({"messages": [{"role": 1}]}, "messages[0].role"), ({"messages": [{"role": "user", "content": 5}]},
                                                          "messages[0].content"),
     ({"response_format": "json"}, "response_format"), ({"response_format": {"type": 1}}, "response_format.type"),
     ({"stream_options": "x"}, "stream_options"), ({"stop": [1]}, "stop"), ({"n": "2"}, "n")],
)
def test_chat_wrong_shapes_name_the_parameter(patch: dict[str, Any], param: str) -> None:
    """Chat bodies: each wrong shape is a 400 naming the field; a good body passes."""
    good = {"model": "gpt-5", "messages": [{"role": "user", "content": "hi"}], "stop": ["x"], "n": 1}
    check_chat(good)
    with pytest.raises(GatewayError) as refused:
        check_chat({**good, **patch})
    assert refused.value.status_code == 400 and refused.value.param == param


def test_json_depth_counts_containers_and_stops_past_the_limit() -> None:
    """Depth counts nested arrays/objects only, and stops counting just past the limit."""
    assert json_depth("x", 10) == 0
    assert json_depth({"a": [{"b": []}]}, 10) == 4
    deep: Any = []
    for _ in range(10_000):
        deep = [deep]
    assert json_depth(deep, 64) == 65
