"""The simulator's endpoints over real HTTP: Responses, chat, models, and refusals."""

from __future__ import annotations

import json
import socket
from collections.abc import Sequence

import httpx
import openai
import pytest
from openai.types.responses import FunctionToolParam, ResponseFunctionToolCall, ResponseOutputMessage
from sim_helpers import CHAT_BODY, KEY, event_types, sse_data

from tppc_router.sim import ProviderSimulator

MESSAGE_EVENTS = [
    "response.output_item.added",
    "response.content_part.added",
    "response.output_text.delta",
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
]
REASONING_EVENTS = [
    "response.output_item.added",
    "response.reasoning_summary_part.added",
    "response.reasoning_summary_text.delta",
    "response.reasoning_summary_text.done",
    "response.reasoning_summary_part.done",
    "response.output_item.done",
]


def squash(types: Sequence[str]) -> list[str]:
    """Collapse runs of the same event type, so delta counts don't matter."""
    return [t for i, t in enumerate(types) if i == 0 or types[i - 1] != t]


def test_responses_non_streaming(client: openai.OpenAI) -> None:
    """A non-streaming Responses call returns a completed response with text, usage and echoed store."""
    response = client.responses.create(model="gpt-5", input="What is the answer to everything, really?")
    assert response.id.startswith("resp_")
    assert response.status == "completed"
    assert response.model == "gpt-5"
    assert response.output_text == "Hello from primary. You said: What is the answer to everything, really"
    message = response.output[0]
    assert isinstance(message, ResponseOutputMessage) and message.id.startswith("msg_")
    assert response.to_dict()["store"] is True
    assert response.usage is not None
    assert response.usage.total_tokens == response.usage.input_tokens + response.usage.output_tokens
    assert response.usage.input_tokens_details.cached_tokens == 0
    assert response.usage.output_tokens_details.reasoning_tokens == 0


def test_responses_text_override_is_deterministic() -> None:
    """``text=`` replaces the answer, identically on every call."""
    with ProviderSimulator("backup", text="Fixed answer here.") as sim:
        sdk = openai.OpenAI(base_url=sim.url, api_key="any", max_retries=0)
        first = sdk.responses.create(model="gpt-5", input="a").output_text
        second = sdk.responses.create(model="gpt-5", input="b").output_text
    assert first == second == "Fixed answer here."


def test_responses_stream_event_order(client: openai.OpenAI) -> None:
    """A plain stream is created, in_progress, the message events, then completed, numbered from 0."""
    stream = client.responses.create(model="gpt-5", input="hi", stream=True, store=False)
    events = list(stream)
    types = [event.type for event in events]
    assert squash(types) == ["response.created", "response.in_progress", *MESSAGE_EVENTS, "response.completed"]
    assert [event.sequence_number for event in events] == list(range(len(events)))
    assert types.count("response.output_text.delta") >= 3
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    completed = events[-1]
    assert completed.type == "response.completed"
    assert deltas == completed.response.output_text == "Hello from primary. You said: hi"
    assert completed.response.to_dict()["store"] is False
    assert completed.response.usage is not None


def test_responses_stream_with_reasoning(client: openai.OpenAI) -> None:
    """With ``reasoning`` a reasoning item (with encrypted content when included) precedes the message."""
    stream = client.responses.create(
        model="gpt-5",
        input=[{"role": "user", "content": [{"type": "input_text", "text": "think"}]}],
        stream=True,
        reasoning={"effort": "low", "summary": "auto"},
        include=["reasoning.encrypted_content"],
    )
    events = list(stream)
    types = squash([event.type for event in events])
    assert types == [
        "response.created",
        "response.in_progress",
        *REASONING_EVENTS,
        *MESSAGE_EVENTS,
        "response.completed",
    ]
    final = events[-1]
    assert final.type == "response.completed"
    reasoning = final.response.output[0]
    assert reasoning.type == "reasoning" and reasoning.id.startswith("rs_")
    assert reasoning.encrypted_content
    assert reasoning.summary[0].text
    assert final.response.reasoning is not None and final.response.reasoning.effort == "low"
    assert final.response.usage is not None and final.response.usage.output_tokens_details.reasoning_tokens > 0


def test_responses_reasoning_without_include_has_no_encrypted_content(client: openai.OpenAI) -> None:
    """Encrypted reasoning is only sent when ``include`` asks for it."""
    response = client.responses.create(model="gpt-5", input="x", reasoning={"effort": "low"})
    assert response.output[0].type == "reasoning"
    assert response.output[0].encrypted_content is None


def test_function_call_scenario_header(client: openai.OpenAI) -> None:
    """``x-sim-scenario: function_call`` adds a call to the first function tool after the message."""
    tools: list[FunctionToolParam] = [{"type": "function", "name": "run_tests", "parameters": {}, "strict": False}]
    stream = client.responses.create(
        model="gpt-5", input="go", stream=True, tools=tools, extra_headers={"x-sim-scenario": "function_call"}
    )
    events = list(stream)
    types = squash([event.type for event in events])
    function_events = [
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
    ]
    assert types == [
        "response.created",
        "response.in_progress",
        *MESSAGE_EVENTS,
        *function_events,
        "response.completed",
    ]
    final = events[-1]
    assert final.type == "response.completed"
    call = final.response.output[-1]
    assert isinstance(call, ResponseFunctionToolCall)
    assert call.name == "run_tests"
    assert call.id is not None and call.id.startswith("fc_")
    assert json.loads(call.arguments) == {"command": ["echo", "hello from primary"]}


def test_function_call_scenario_in_chat() -> None:
    """A simulator built with ``scenario="function_call"`` answers chat with a tool call named ``shell``."""
    with ProviderSimulator("primary", scenario="function_call") as sim:
        sdk = openai.OpenAI(base_url=sim.url, api_key="any", max_retries=0)
        completion = sdk.chat.completions.create(**CHAT_BODY)
        chunks = list(sdk.chat.completions.create(**CHAT_BODY, stream=True))
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls is not None
    assert choice.message.tool_calls[0].function.name == "shell"
    arguments = "".join(
        (c.choices[0].delta.tool_calls or [])[0].function.arguments or ""
        for c in chunks
        if c.choices and c.choices[0].delta.tool_calls
    )
    assert json.loads(arguments)["command"][0] == "echo"
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_no_function_call_by_default(client: openai.OpenAI) -> None:
    """Without the scenario no function call is emitted, even when tools are offered."""
    tools: list[FunctionToolParam] = [{"type": "function", "name": "shell", "parameters": {}, "strict": False}]
    response = client.responses.create(model="gpt-5", input="go", tools=tools)
    assert [item.type for item in response.output] == ["message"]


def test_chat_non_streaming(client: openai.OpenAI) -> None:
    """A chat completion has the answer, ``stop`` and usage."""
    completion = client.chat.completions.create(**CHAT_BODY)
    assert completion.object == "chat.completion"
    assert completion.choices[0].message.content == "Hello from primary. You said: Tell me something"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.total_tokens > 0


def test_chat_streaming_with_usage(client: openai.OpenAI, http: httpx.Client) -> None:
    """A chat stream sends the role first, content deltas, ``stop``, a usage chunk and ``[DONE]``."""
    chunks = list(client.chat.completions.create(**CHAT_BODY, stream=True, stream_options={"include_usage": True}))
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello from primary. You said: Tell me something"
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    raw = http.post("/chat/completions", json={**CHAT_BODY, "stream": True})
    assert raw.headers["content-type"].startswith("text/event-stream")
    assert sse_data(raw.text)[-1] == "[DONE]"
    assert all(json.loads(data).get("usage") is None for data in sse_data(raw.text)[:-1])


async def test_chat_async(sim: ProviderSimulator) -> None:
    """The async openai client works against the simulator from another event loop."""
    async with openai.AsyncOpenAI(base_url=sim.url, api_key=KEY, max_retries=0) as sdk:
        completion = await sdk.chat.completions.create(**CHAT_BODY)
        stream = await sdk.chat.completions.create(**CHAT_BODY, stream=True)
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert completion.choices[0].message.content == text


async def test_responses_async_stream(sim: ProviderSimulator) -> None:
    """The async openai client streams Responses events to completion."""
    async with openai.AsyncOpenAI(base_url=sim.url, api_key=KEY, max_retries=0) as sdk:
        stream = await sdk.responses.create(model="gpt-5", input="async", stream=True)
        types = [event.type async for event in stream]
    assert types[0] == "response.created" and types[-1] == "response.completed"


def test_models_list(client: openai.OpenAI) -> None:
    """``GET /v1/models`` lists the configured models, owned by the provider name."""
    models = client.models.list()
    assert [(m.id, m.owned_by) for m in models.data] == [("gpt-5", "primary")]


def test_missing_or_wrong_key_is_401_without_echo(sim: ProviderSimulator) -> None:
    """A missing or wrong bearer key gets an OpenAI-shaped 401 that does not repeat the key."""
    wrong = "sk-wrong-key-abcdefghijkl"
    for headers in ({}, {"authorization": f"Bearer {wrong}"}):
        response = httpx.post(f"{sim.url}/responses", json={"model": "gpt-5", "input": "x"}, headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "invalid_api_key"
        assert set(response.json()["error"]) >= {"message", "type", "code"}
        assert wrong not in response.text and wrong[-4:] not in response.text
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=sim.url, api_key=wrong, max_retries=0).models.list()
    assert [r.outcome for r in sim.requests] == ["unauthorized"] * 3


def test_unknown_model_is_404(client: openai.OpenAI) -> None:
    """A model the provider does not serve gets 404 ``model_not_found``."""
    with pytest.raises(openai.NotFoundError) as caught:
        client.responses.create(model="gpt-4o", input="x")
    assert caught.value.code == "model_not_found"


def test_any_model_when_models_empty() -> None:
    """``models=()`` accepts any model name."""
    with ProviderSimulator(models=()) as sim:
        response = httpx.post(f"{sim.url}/responses", json={"model": "whatever-1", "input": "x"})
    assert response.status_code == 200
    assert response.json()["model"] == "whatever-1"


def test_malformed_json_is_400(http: httpx.Client, sim: ProviderSimulator) -> None:
    """A body that is not a JSON object gets 400 and is recorded as ``bad_request``."""
    for content in (b"{not json", b"[1, 2]"):
        response = http.post("/responses", content=content, headers={"content-type": "application/json"})
        assert response.status_code == 400
        assert response.json()["error"]["type"] == "invalid_request_error"
    missing_model = http.post("/responses", json={"input": "x"})
    assert missing_model.status_code == 400
    assert [r.outcome for r in sim.requests] == ["bad_request"] * 3


def test_compressed_body_is_415(http: httpx.Client) -> None:
    """A compressed request body (e.g. zstd) is refused with 415 rather than misread."""
    response = http.post("/responses", content=b"\x28\xb5\x2f\xfd", headers={"content-encoding": "zstd"})
    assert response.status_code == 415
    assert "zstd" in response.json()["error"]["message"]


def test_unknown_path_is_404(http: httpx.Client, sim: ProviderSimulator) -> None:
    """Unknown paths and methods get 404 ``Invalid URL``; faults do not apply to them."""
    sim.set_fault("reset")
    assert http.get("/nope").status_code == 404
    assert http.get("/responses").status_code == 404
    assert http.get("/models").status_code == 200
    assert [r.outcome for r in sim.requests] == ["not_found", "not_found", "ok"]


def test_recorded_requests(client: openai.OpenAI, sim: ProviderSimulator) -> None:
    """Each request is recorded with time, path, model, stream flag, key, body and masked headers."""
    client.responses.create(model="gpt-5", input="one")
    list(client.chat.completions.create(**CHAT_BODY, stream=True))
    first, second = sim.requests
    assert (first.method, first.path, first.model, first.stream, first.outcome) == (
        "POST",
        "/v1/responses",
        "gpt-5",
        False,
        "ok",
    )
    assert (second.path, second.stream) == ("/v1/chat/completions", True)
    assert first.api_key == KEY
    assert first.body is not None and first.body["input"] == "one"
    assert KEY not in first.headers["authorization"]
    assert KEY not in repr(first)
    assert first.time <= second.time
    sim.clear_requests()
    assert sim.requests == []


def test_keep_alive_serves_several_requests_on_one_connection(sim: ProviderSimulator) -> None:
    """Two requests written on one socket get two responses (non-streaming and streaming)."""
    body = json.dumps({"model": "gpt-5", "input": "x"}).encode()
    stream_body = json.dumps({"model": "gpt-5", "input": "x", "stream": True}).encode()
    request = b"POST /v1/responses HTTP/1.1\r\nhost: x\r\nauthorization: Bearer %s\r\ncontent-length: %d\r\n\r\n%s"
    with socket.create_connection(("127.0.0.1", sim.port), timeout=5) as sock:
        sock.sendall(request % (KEY.encode(), len(body), body))
        sock.sendall(request % (KEY.encode(), len(stream_body), stream_body))
        received = b""
        while not received.endswith(b"0\r\n\r\n"):
            data = sock.recv(65536)
            assert data, "server closed the connection"
            received += data
    assert received.count(b"HTTP/1.1 200 OK") == 2
    assert b"transfer-encoding: chunked" in received


def test_event_types_helper_reads_raw_stream(http: httpx.Client) -> None:
    """The raw SSE stream carries ``event:`` lines matching each data ``type``."""
    response = http.post("/responses", json={"model": "gpt-5", "input": "x", "stream": True})
    names = [line[len("event: ") :] for line in response.text.split("\n") if line.startswith("event: ")]
    assert names == event_types(response.text)
