"""Every fault kind, observed through real HTTP clients."""

from __future__ import annotations

import json
import socket
import time

import httpx
import openai
import pytest
from sim_helpers import CHAT_BODY, KEY, RESPONSES_BODY, event_types, read_events_until_error, sse_data

from tppc_router.clock import ManualClock
from tppc_router.sim import Fault, ProviderSimulator

SHORT = httpx.Timeout(5.0, read=0.3)


def test_status_fault_429_with_retry_after(client: openai.OpenAI, sim: ProviderSimulator) -> None:
    """``status:429,retry-after=2`` answers 429 rate_limit_error with a Retry-After header."""
    sim.set_fault(Fault.parse("status:429,retry-after=2"))
    with pytest.raises(openai.RateLimitError) as caught:
        client.responses.create(model="gpt-5", input="x")
    assert caught.value.response.headers["retry-after"] == "2"
    assert caught.value.type == "rate_limit_error"
    assert caught.value.code == "rate_limit_exceeded"
    assert "try again in 2s" in caught.value.message
    assert sim.requests[-1].outcome == "status"


def test_status_fault_codes_and_messages(http: httpx.Client, sim: ProviderSimulator) -> None:
    """Status faults carry the right error type, a given code and message, and no Retry-After by default."""
    sim.set_fault("status:400,code=context_length_exceeded,message=too long%2C sorry")
    error = http.post("/responses", json=RESPONSES_BODY).json()["error"]
    assert error == {
        "message": "too long, sorry",
        "type": "invalid_request_error",
        "param": None,
        "code": "context_length_exceeded",
    }
    sim.set_fault("status:401")
    assert http.post("/chat/completions", json=CHAT_BODY).json()["error"]["code"] == "invalid_api_key"
    sim.set_fault("status:500")
    response = http.post("/responses", json=RESPONSES_BODY)
    assert response.status_code == 500
    assert response.json()["error"]["type"] == "server_error"
    assert "primary" in response.json()["error"]["message"]
    assert "retry-after" not in response.headers
    sim.clear_faults()
    assert http.post("/responses", json=RESPONSES_BODY).status_code == 200


def test_status_fault_spares_models_endpoint(http: httpx.Client, sim: ProviderSimulator) -> None:
    """Faults apply to model endpoints only, not to ``/v1/models``."""
    sim.set_fault("status:503")
    assert http.get("/models").status_code == 200
    assert http.post("/chat/completions", json=CHAT_BODY).status_code == 503


def test_reset_sends_tcp_rst(sim: ProviderSimulator) -> None:
    """``reset`` reads the request, then resets the connection before any header."""
    sim.set_fault("reset")
    with pytest.raises(httpx.TransportError):
        httpx.post(f"{sim.url}/responses", json=RESPONSES_BODY, headers={"authorization": f"Bearer {KEY}"})
    body = json.dumps(RESPONSES_BODY).encode()
    with socket.create_connection(("127.0.0.1", sim.port), timeout=5) as sock:
        sock.sendall(
            b"POST /v1/responses HTTP/1.1\r\nauthorization: Bearer %s\r\ncontent-length: %d\r\n\r\n%s"
            % (KEY.encode(), len(body), body)
        )
        with pytest.raises(ConnectionResetError):
            sock.recv(1024)
    assert [r.outcome for r in sim.requests] == ["reset", "reset"]


def test_reset_through_openai_sdk(client: openai.OpenAI, sim: ProviderSimulator) -> None:
    """The openai SDK sees a reset as a connection error."""
    sim.set_fault("reset")
    with pytest.raises(openai.APIConnectionError):
        client.responses.create(model="gpt-5", input="x")


def test_no_response_times_out(http: httpx.Client, sim: ProviderSimulator) -> None:
    """``no-response`` keeps quiet, so a client with a short read timeout times out."""
    sim.set_fault("no-response")
    with pytest.raises(httpx.ReadTimeout):
        http.post("/responses", json=RESPONSES_BODY, timeout=SHORT)
    assert sim.requests[-1].outcome == "no-response"


def test_no_response_with_seconds_answers_late(http: httpx.Client, sim: ProviderSimulator) -> None:
    """``no-response:S`` answers normally after S seconds."""
    sim.set_fault("no-response:0.2")
    started = time.perf_counter()
    response = http.post("/chat/completions", json=CHAT_BODY)
    assert response.status_code == 200
    assert time.perf_counter() - started >= 0.2


def test_slow_first_token_delays_first_delta(http: httpx.Client, sim: ProviderSimulator) -> None:
    """``slow-first-token:S`` sends headers and ``response.created`` at once, the first delta after S."""
    sim.set_fault("slow-first-token:0.4")
    started = time.perf_counter()
    arrivals: dict[str, float] = {}
    with http.stream("POST", "/responses", json=RESPONSES_BODY) as response:
        headers_at = time.perf_counter() - started
        for line in response.iter_lines():
            if line.startswith("data: "):
                kind = json.loads(line[6:])["type"]
                arrivals.setdefault(kind, time.perf_counter() - started)
    assert headers_at < 0.3
    assert arrivals["response.created"] < 0.3
    assert arrivals["response.output_text.delta"] >= 0.4
    assert "response.completed" in arrivals


def test_slow_first_token_delays_non_streaming_answer(http: httpx.Client, sim: ProviderSimulator) -> None:
    """Non-streaming, ``slow-first-token:S`` delays the whole answer."""
    sim.set_fault("slow-first-token:0.2")
    started = time.perf_counter()
    assert http.post("/chat/completions", json=CHAT_BODY).status_code == 200
    assert time.perf_counter() - started >= 0.2


def test_cut_after_closes_stream_mid_way(http: httpx.Client, client: openai.OpenAI, sim: ProviderSimulator) -> None:
    """``cut-after:N`` sends N events and then drops the connection with no terminal event."""
    sim.set_fault("cut-after:5")
    with http.stream("POST", "/responses", json=RESPONSES_BODY) as response:
        seen, error = read_events_until_error(response)
    assert len(seen) == 5
    assert isinstance(error, httpx.RemoteProtocolError)
    received: list[str] = []
    with pytest.raises(openai.APIConnectionError):
        for event in client.responses.create(model="gpt-5", input="x", stream=True):
            received.append(event.type)
    assert received[:2] == ["response.created", "response.in_progress"] and len(received) == 5


def test_cut_after_truncates_non_streaming_body(http: httpx.Client, sim: ProviderSimulator) -> None:
    """Non-streaming, ``cut-after:N`` sends the headers and N bytes of the body, then closes."""
    sim.set_fault("cut-after:10")
    with pytest.raises(httpx.RemoteProtocolError):
        http.post("/responses", json={**RESPONSES_BODY, "stream": False})


def test_stall_goes_quiet_after_n_events(http: httpx.Client, sim: ProviderSimulator) -> None:
    """``stall`` sends 3 events, then nothing while keeping the connection open."""
    sim.set_fault("stall")
    with http.stream("POST", "/responses", json=RESPONSES_BODY, timeout=SHORT) as response:
        seen, error = read_events_until_error(response)
    assert len(seen) == 3
    assert isinstance(error, httpx.ReadTimeout)


def test_stall_with_seconds_resumes(http: httpx.Client, sim: ProviderSimulator) -> None:
    """``stall:N,seconds=S`` pauses S seconds after N events and then finishes the stream."""
    sim.set_fault("stall:2,seconds=0.2")
    started = time.perf_counter()
    response = http.post("/chat/completions", json={**CHAT_BODY, "stream": True})
    assert time.perf_counter() - started >= 0.2
    assert sse_data(response.text)[-1] == "[DONE]"


def test_malformed_inserts_one_bad_event(http: httpx.Client, client: openai.OpenAI, sim: ProviderSimulator) -> None:
    """``malformed:N`` puts one invalid-JSON event after N events and still completes the stream."""
    sim.set_fault("malformed:4")
    types = event_types(http.post("/responses", json=RESPONSES_BODY).text)
    assert types.index("<malformed>") == 4 and types.count("<malformed>") == 1
    assert types[-1] == "response.completed"
    with pytest.raises(ValueError):
        list(client.responses.create(model="gpt-5", input="x", stream=True))


def test_malformed_non_streaming_body_is_not_json(http: httpx.Client, sim: ProviderSimulator) -> None:
    """Non-streaming, ``malformed`` answers 200 with a body that is not valid JSON."""
    sim.set_fault("malformed")
    response = http.post("/chat/completions", json=CHAT_BODY)
    assert response.status_code == 200
    with pytest.raises(ValueError):
        response.json()


def test_no_terminal_responses(client: openai.OpenAI, sim: ProviderSimulator) -> None:
    """``no-terminal`` ends the Responses stream cleanly but without ``response.completed``."""
    sim.set_fault("no-terminal")
    types = [event.type for event in client.responses.create(model="gpt-5", input="x", stream=True)]
    assert types[-1] == "response.output_item.done"
    assert "response.completed" not in types


def test_no_terminal_chat_keeps_usage(http: httpx.Client, sim: ProviderSimulator) -> None:
    """``no-terminal`` on chat drops ``[DONE]`` but keeps the usage chunk."""
    sim.set_fault("no-terminal")
    body = {**CHAT_BODY, "stream": True, "stream_options": {"include_usage": True}}
    data = sse_data(http.post("/chat/completions", json=body).text)
    assert "[DONE]" not in data
    assert json.loads(data[-1])["usage"]["total_tokens"] > 0


def test_flap_follows_injected_clock() -> None:
    """``flap,down=T,up=U`` is down for T seconds from when it is set, then up for U, and so on."""
    clock = ManualClock()
    with ProviderSimulator("flappy", clock=clock) as sim:
        sim.set_fault("flap,down=30,up=60,status=502")
        url = f"{sim.url}/chat/completions"
        statuses = []
        for step in (0, 29, 2, 58, 1, 30):
            clock.advance(step)
            statuses.append(httpx.post(url, json=CHAT_BODY).status_code)
        assert statuses == [502, 502, 200, 200, 502, 200]
        assert [r.outcome for r in sim.requests] == ["flap", "flap", "ok", "ok", "flap", "ok"]
        assert sim.requests[1].time == 1000.0 + 29


def test_flap_once_then_healthy_with_reset_mode() -> None:
    """``flap,down=T,mode=reset`` resets connections for T seconds, then stays healthy."""
    clock = ManualClock()
    with ProviderSimulator("flappy", clock=clock, faults=[Fault.parse("flap,down=10,mode=reset")]) as sim:
        url = f"{sim.url}/responses"
        with pytest.raises(httpx.TransportError):
            httpx.post(url, json=RESPONSES_BODY)
        clock.advance(10)
        assert httpx.post(url, json=RESPONSES_BODY).status_code == 200
        clock.advance(1000)
        assert httpx.post(url, json=RESPONSES_BODY).status_code == 200


def test_per_request_header_fault(client: openai.OpenAI, http: httpx.Client, sim: ProviderSimulator) -> None:
    """``x-sim-fault`` applies a fault to one request only, ahead of the simulator's faults."""
    sim.set_fault("status:500")
    with pytest.raises(openai.RateLimitError):
        client.responses.create(model="gpt-5", input="x", extra_headers={"x-sim-fault": "status:429"})
    assert http.post("/responses", json=RESPONSES_BODY).status_code == 500
    sim.clear_faults()
    assert http.post("/responses", json=RESPONSES_BODY, headers={"x-sim-fault": "status:503"}).status_code == 503
    assert http.post("/responses", json=RESPONSES_BODY).status_code == 200


def test_invalid_header_fault_is_400(http: httpx.Client, sim: ProviderSimulator) -> None:
    """A bad ``x-sim-fault`` spec gets 400 naming the bad part."""
    response = http.post("/responses", json=RESPONSES_BODY, headers={"x-sim-fault": "status:abc"})
    assert response.status_code == 400
    assert "'abc' is not an integer" in response.json()["error"]["message"]
    assert sim.requests[-1].outcome == "bad_request"


def test_probability_is_reproducible_with_seed() -> None:
    """Faults with ``p=`` fire at random, the same way for the same seed."""

    def outcomes(seed: int) -> list[int]:
        faults = [Fault.parse("status:503,p=0.5")]
        with ProviderSimulator(seed=seed, faults=faults) as sim, httpx.Client(base_url=sim.url) as http:
            return [http.post("/chat/completions", json=CHAT_BODY).status_code for _ in range(30)]

    first = outcomes(42)
    assert first == outcomes(42)
    assert set(first) == {200, 503}


def test_first_firing_fault_wins(http: httpx.Client, sim: ProviderSimulator) -> None:
    """With several faults, the first one that fires applies."""
    sim.set_faults(["status:429,p=0.000001", "status:502", "status:500"])
    assert http.post("/chat/completions", json=CHAT_BODY).status_code == 502
    assert [str(f) for f in sim.faults] == ["status:429,p=1e-06", "status:502", "status:500"]
