"""Attacks on a running gateway (issue 13), each against the app served the way ``serve`` serves it.

The app runs under :func:`tppc_router.server.serving.uvicorn_config` (the config ``tppc-router
serve`` uses: limits, no proxy headers, the guarded h11 protocol) on loopback, wrapped in the
suite's canary guard. Providers are simulators.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from canary_guard import canary_asgi
from gateway_live import CANARY_BACKUP, CANARY_PRIMARY, gateway_settings

from tppc_router.config import Settings
from tppc_router.config.loader import load_settings
from tppc_router.server import create_app
from tppc_router.server.serving import uvicorn_config
from tppc_router.sim import ProviderSimulator

RESPONSES: dict[str, Any] = {"model": "gpt-5", "input": "hi"}
CHAT: dict[str, Any] = {"model": "gpt-5", "messages": [{"role": "user", "content": "hi"}]}


class Served:
    """A gateway served with ``serve``'s uvicorn config in a thread."""

    def __init__(self, settings: Settings, config_path: Path | None = None) -> None:
        self.app = create_app(settings, config_path=config_path)
        config = uvicorn_config(canary_asgi(self.app), settings, host="127.0.0.1", port=0, log_level="warning",
                                lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "the gateway did not start"
            time.sleep(0.005)
        self.port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def sims() -> Iterator[dict[str, ProviderSimulator]]:
    with ProviderSimulator("primary", api_key=CANARY_PRIMARY) as primary, \
            ProviderSimulator("backup", api_key=CANARY_BACKUP) as backup:
        yield {"primary": primary, "backup": backup}


@contextmanager
def serving(sims: dict[str, ProviderSimulator], **sections: Any) -> Iterator[tuple[Served, httpx.Client]]:
    with Served(gateway_settings(sims, **sections)) as served, \
            httpx.Client(base_url=served.url, timeout=10) as client:
        yield served, client


def _breakers_closed(client: httpx.Client) -> None:
    assert client.get("/readyz").status_code == 200
    states = {p["name"]: p["state"] for p in client.get("/status").json()["providers"]}
    assert set(states.values()) == {"closed"}, states


MALFORMED = [
    ("/v1/responses", {**RESPONSES, "reasoning": "high"}, "reasoning"),
    ("/v1/responses", {**RESPONSES, "reasoning": 5}, "reasoning"),
    ("/v1/responses", {**RESPONSES, "input": 5}, "input"),
    ("/v1/responses", {**RESPONSES, "input": [1]}, "input[0]"),
    ("/v1/responses", {**RESPONSES, "text": "x"}, "text"),
    ("/v1/responses", {**RESPONSES, "tools": ["x"]}, "tools"),
    ("/v1/responses", {**RESPONSES, "stream_options": "x"}, "stream_options"),
    ("/v1/responses", {**RESPONSES, "reasoning": {"effort": 5}}, "reasoning.effort"),
    ("/v1/chat/completions", {**CHAT, "messages": [1]}, "messages[0]"),
    ("/v1/chat/completions", {**CHAT, "response_format": "x"}, "response_format"),
    ("/v1/chat/completions", {**CHAT, "stream_options": "x"}, "stream_options"),
    ("/v1/chat/completions", {**CHAT, "messages": [{"content": "no role"}]}, "messages[0].role"),
]


def test_malformed_bodies_never_bench_a_provider(sims: dict[str, ProviderSimulator]) -> None:
    """Each malformed body, sent three times, is a 400 naming the parameter; no provider sees it, every
    breaker stays closed, /readyz stays 200 and a good request is served by the primary."""
    with serving(sims) as (_, client):
        for path, body, param in MALFORMED:
            for _ in range(3):
                for stream in (False, True):
                    response = client.post(path, json={**body, "stream": stream})
                    assert response.status_code == 400, (path, body, response.text)
                    assert response.json()["error"]["param"] == param
        assert sims["primary"].requests == sims["backup"].requests == []
        _breakers_closed(client)
        ok = client.post("/v1/responses", json=RESPONSES)
        assert ok.status_code == 200 and ok.headers["x-tppc-provider"] == "primary"


def test_unknown_fields_pass_to_the_provider(sims: dict[str, ProviderSimulator]) -> None:
    """A /v1/responses field the gateway does not know (Codex adds them over time) is forwarded, not refused."""
    with serving(sims) as (_, client):
        body = {**RESPONSES, "x_future_field": {"nested": [1, 2]}, "client_metadata": {"a": "b"}}
        assert client.post("/v1/responses", json=body).status_code == 200
        sent = sims["primary"].requests[-1].body
        assert sent["x_future_field"] == {"nested": [1, 2]}


def test_body_over_the_limit_is_413(sims: dict[str, ProviderSimulator]) -> None:
    """A body larger than server.limits.max-body-bytes gets 413, declared or chunked, and reaches no provider."""
    with serving(sims, server={"limits": {"max-body-bytes": 4096}}) as (_, client):
        big = {**RESPONSES, "input": "x" * 8000}
        assert client.post("/v1/responses", json=big).status_code == 413

        def chunks() -> Iterator[bytes]:
            data = json.dumps(big).encode()
            for i in range(0, len(data), 1000):
                yield data[i:i + 1000]

        chunked = client.post("/v1/responses", content=chunks(), headers={"content-type": "application/json"})
        assert chunked.status_code == 413
        assert chunked.json()["error"]["code"] == "request_too_large"
        assert sims["primary"].requests == []
        _breakers_closed(client)
        assert client.post("/v1/responses", json=RESPONSES).status_code == 200


@pytest.mark.parametrize("depth", [100, 100_000])
def test_deep_json_is_400(sims: dict[str, ProviderSimulator], depth: int) -> None:
    """A body nested deeper than server.limits.max-json-depth (or than Python can parse) is a 400, not a 500."""
    with serving(sims) as (_, client):
        body = b'{"model":"gpt-5","input":"hi","metadata":' + b"[" * depth + b"]" * depth + b"}"
        response = client.post("/v1/responses", content=body, headers={"content-type": "application/json"})
        assert response.status_code == 400, response.text
        assert "nested" in response.json()["error"]["message"]
        assert sims["primary"].requests == []
        _breakers_closed(client)


def test_foreign_host_is_421_on_every_route(sims: dict[str, ProviderSimulator]) -> None:
    """A Host that is not loopback (a DNS-rebinding page) gets 421 on every route; loopback names and
    server.allowed-hosts pass."""
    with serving(sims, server={"allowed-hosts": ["gw.internal"]}) as (served, client):
        for path in ("/healthz", "/readyz", "/v1/models", "/v0/management/tppc", "/metrics"):
            response = client.get(path, headers={"host": f"evil.example:{served.port}"})
            assert response.status_code == 421, path
        refused = client.post("/v1/responses", json=RESPONSES, headers={"host": "attacker.test"})
        assert refused.status_code == 421
        assert refused.json()["error"]["code"] == "host_not_allowed"
        assert client.get("/v1/models", headers={"host": "10.1.2.3"}).status_code == 421  # bound to loopback
        for host in (f"localhost:{served.port}", f"127.0.0.1:{served.port}", f"[::1]:{served.port}",
                     "gw.internal", "app.localhost"):
            assert client.get("/v1/models", headers={"host": host}).status_code == 200, host
        assert sims["primary"].requests == []


def test_slow_headers_are_cut(sims: dict[str, ProviderSimulator]) -> None:
    """A client that never finishes its request head is disconnected after server.limits.header-timeout."""
    with serving(sims, server={"limits": {"header-timeout": 0.3}}) as (served, client):
        with socket.create_connection(("127.0.0.1", served.port), timeout=10) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
            assert sock.recv(1024) == b""  # closed by the server, long before the 10 s socket timeout
        with socket.create_connection(("127.0.0.1", served.port), timeout=10) as idle:
            assert idle.recv(1024) == b""  # a connection that sends nothing at all, too
        assert client.get("/healthz").status_code == 200


def test_kept_alive_connection_survives_the_header_timeout(sims: dict[str, ProviderSimulator]) -> None:
    """An idle kept-alive connection is not cut by the header timeout (only by the keep-alive timeout)."""
    with serving(sims, server={"limits": {"header-timeout": 0.2}}) as (_, client):
        assert client.get("/healthz").status_code == 200
        time.sleep(0.5)
        assert client.get("/healthz").status_code == 200
        assert client.get("/healthz").status_code == 200


def test_connection_cap_frees_sockets(sims: dict[str, ProviderSimulator]) -> None:
    """Past server.limits.max-connections a new connection is closed at once; once they go, /healthz answers."""
    with serving(sims, server={"limits": {"max-connections": 4, "header-timeout": 30}}) as (served, _):
        held = [socket.create_connection(("127.0.0.1", served.port), timeout=5) for _ in range(4)]
        try:
            extra = socket.create_connection(("127.0.0.1", served.port), timeout=5)
            with extra:
                extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
                try:
                    data = extra.recv(1024)
                except ConnectionResetError:
                    data = b""
                assert data == b""
        finally:
            for sock in held:
                sock.close()
        deadline = time.monotonic() + 5
        while True:
            try:
                with httpx.Client(base_url=served.url, timeout=5) as fresh:
                    assert fresh.get("/healthz").status_code == 200
                break
            except (httpx.TransportError, AssertionError):
                assert time.monotonic() < deadline
                time.sleep(0.05)


def test_huge_headers_are_refused(sims: dict[str, ProviderSimulator]) -> None:
    """Request headers past server.limits.max-header-bytes are refused (431 whole, 400 in pieces)."""
    with serving(sims, server={"limits": {"max-header-bytes": 2048}}) as (served, client):
        response = client.get("/healthz", headers={"x-big": "a" * 4096})
        assert response.status_code == 431
        with socket.create_connection(("127.0.0.1", served.port), timeout=10) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"a" * 2000)
            time.sleep(0.05)
            sock.sendall(b"a" * 2000)
            assert sock.recv(1024).startswith(b"HTTP/1.1 400")
        assert client.get("/healthz").status_code == 200


MGMT = "/v0/management/tppc"
MGMT_KEY = "mgmt-key-for-attack-tests-0123"


def test_browser_requests_never_reach_management(sims: dict[str, ProviderSimulator]) -> None:
    """text/plain or cross-origin management requests are refused before authentication (415/403), so a web
    page cannot lock the local admin out; an allowed Origin with JSON goes through."""
    section = {"secret-key": MGMT_KEY, "allowed-origins": ["https://admin.example"]}
    with serving(sims, **{"remote-management": section}) as (_, client):
        for _ in range(10):
            plain = client.post(MGMT, content=b'{"name":"x"}', headers={"content-type": "text/plain"})
            assert plain.status_code == 415
            foreign = client.post(MGMT, json={"name": "x"}, headers={"origin": "https://evil.example"})
            assert foreign.status_code == 403
            assert foreign.json()["error"]["code"] == "origin_not_allowed"
            assert client.get(MGMT, headers={"origin": "null"}).status_code == 403
        ok = client.get(MGMT, headers={"x-management-key": MGMT_KEY, "origin": "https://admin.example"})
        assert ok.status_code == 200
        assert client.get(MGMT, headers={"x-management-key": MGMT_KEY}).status_code == 200


def _guess(client: httpx.Client, key: str, **headers: str) -> int:
    return client.get(MGMT, headers={"x-management-key": key, **headers}).status_code


def test_lockout_holds_against_spoofed_and_loopback_addresses(sims: dict[str, ProviderSimulator],
                                                              caplog: pytest.LogCaptureFixture) -> None:
    """Five wrong keys lock out every loopback client at once, whatever X-Forwarded-For claims and whichever
    127.x address the guesses come from; the log names the real peer, never a claimed one."""
    import logging

    caplog.set_level(logging.INFO, logger="tppc_router")
    section = {"secret-key": MGMT_KEY}
    with serving(sims, **{"remote-management": section}) as (served, client):
        sources = ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.9.9.9", "127.0.0.5"]
        for i, source in enumerate(sources):
            transport = httpx.HTTPTransport(local_address=source)
            with httpx.Client(base_url=served.url, transport=transport, timeout=10) as spoofing:
                claims = {"x-forwarded-for": f"127.1.0.{i}", "x-real-ip": f"::ffff:127.2.0.{i}"}
                assert _guess(spoofing, f"wrong-guess-{i:04d}-abcdefgh", **claims) == 401
        for source in ("127.0.0.1", "127.0.0.42"):
            transport = httpx.HTTPTransport(local_address=source)
            with httpx.Client(base_url=served.url, transport=transport, timeout=10) as other:
                assert _guess(other, MGMT_KEY, **{"x-forwarded-for": "203.0.113.9"}) == 429
        assert "127.1.0." not in caplog.text and "203.0.113.9" not in caplog.text
        assert "from 127.0.0.1" in caplog.text


def test_remote_claims_are_refused_without_counting(sims: dict[str, ProviderSimulator]) -> None:
    """A loopback client claiming a remote address in X-Forwarded-For is judged remote (403), which never
    counts toward the lockout: the right key still works afterwards."""
    with serving(sims, **{"remote-management": {"secret-key": MGMT_KEY}}) as (_, client):
        for i in range(10):
            assert _guess(client, f"wrong-guess-{i:04d}-abcdefgh", **{"x-forwarded-for": "198.51.100.7"}) == 403
        assert _guess(client, MGMT_KEY) == 200


def test_authorization_with_trailing_junk_is_refused(sims: dict[str, ProviderSimulator]) -> None:
    """``Authorization: <key> junk`` is not the key; ``Bearer <key>`` and a bare ``<key>`` are."""
    with serving(sims, **{"remote-management": {"secret-key": MGMT_KEY}}) as (_, client):
        assert client.get(MGMT, headers={"authorization": f"{MGMT_KEY} junk"}).status_code == 401
        assert client.get(MGMT, headers={"authorization": f"Bearer {MGMT_KEY} junk"}).status_code == 401
        assert client.get(MGMT, headers={"authorization": f"Bearer {MGMT_KEY}"}).status_code == 200
        assert client.get(MGMT, headers={"authorization": MGMT_KEY}).status_code == 200


def test_index_takes_ascii_digits_only(sims: dict[str, ProviderSimulator]) -> None:
    """``DELETE ?index=`` with non-ASCII digits (Arabic-Indic one) is a 422 and removes nothing."""
    with serving(sims, **{"remote-management": {"secret-key": MGMT_KEY}}) as (_, client):
        headers = {"x-management-key": MGMT_KEY}
        response = client.delete(MGMT, params={"index": "\u0661"}, headers=headers)
        assert response.status_code == 422
        assert len(client.get(MGMT, headers=headers).json()["tppc"]["providers"]) == 2


def test_short_management_keys_are_refused_at_start(tmp_path: Any) -> None:
    """A plaintext or environment management key under 16 characters stops ``serve`` (exit 2) before it binds."""
    import subprocess
    import sys

    config = tmp_path / "config.yaml"
    config.write_text("tppc:\n  models: [gpt-5]\n  providers: []\nremote-management:\n  secret-key: os.environ/MK\n")
    env = {"PATH": "/usr/bin:/bin", "MK": "1234", "HOME": str(tmp_path)}
    command = [sys.executable, "-m", "tppc_router.cli.main", "serve", "-c", str(config), "--port", "0"]
    refused = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2
    assert "remote-management.secret-key: a management key must have at least 16 characters" in refused.stderr
    config.write_text("tppc:\n  models: [gpt-5]\n  providers: []\n")
    env_short = {**env, "TPPC_MANAGEMENT_KEY": "123456"}
    refused = subprocess.run(command, env=env_short, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2
    assert "TPPC_MANAGEMENT_KEY: a management key must have at least 16 characters" in refused.stderr


@contextmanager
def from_file(path: Path, text: str) -> Iterator[tuple[Served, httpx.Client]]:
    path.write_text(text, encoding="utf-8")
    with Served(load_settings(path), config_path=path) as served, \
            httpx.Client(base_url=served.url, timeout=10, headers={"x-management-key": MGMT_KEY}) as client:
        yield served, client


def _file_config(sims: dict[str, ProviderSimulator], extra: str = "") -> str:
    return (
        "tppc:\n  models: [gpt-5]\n  providers:\n"
        f"    - {{name: primary, base-url: \"{sims['primary'].url}\", api-key: os.environ/PRIMARY_KEY}}\n"
        f"    - {{name: backup, base-url: \"{sims['backup'].url}\", api-key: os.environ/BACKUP_KEY}}\n"
        "remote-management:\n  secret-key: os.environ/MGMT_FROM_ENV\n  allowed-env: [EXTRA_OK]\n" + extra
    )


@pytest.fixture
def file_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRIMARY_KEY", CANARY_PRIMARY)
    monkeypatch.setenv("BACKUP_KEY", CANARY_BACKUP)
    monkeypatch.setenv("MGMT_FROM_ENV", MGMT_KEY)
    monkeypatch.setenv("EXTRA_OK", "sk-extra-allowed-0123456789")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-secret-never-to-leak-0123456789")
    monkeypatch.setenv("TPPC_MANAGEMENT_KEY", "")
    monkeypatch.delenv("TPPC_MANAGEMENT_KEY")


@pytest.mark.usefixtures("file_env")
def test_secret_key_reference_is_resolved_and_kept(sims: dict[str, ProviderSimulator], tmp_path: Path) -> None:
    """``secret-key: os.environ/NAME`` is the variable's value (the reference itself is no key) and the file
    keeps the reference, never its hash."""
    path = tmp_path / "config.yaml"
    with from_file(path, _file_config(sims)) as (_, client):
        assert client.get(MGMT).status_code == 200
        assert client.get(MGMT, headers={"x-management-key": "os.environ/MGMT_FROM_ENV"}).status_code == 401
    assert "secret-key: os.environ/MGMT_FROM_ENV" in path.read_text()


@pytest.mark.usefixtures("file_env")
def test_management_writes_reference_only_allowed_env(sims: dict[str, ProviderSimulator], tmp_path: Path) -> None:
    """A management write may reference the variables the file referenced at start-up and allowed-env, never
    another variable of the server (its value would go to a base-url of the client's choosing) nor ours."""
    path = tmp_path / "config.yaml"
    with ProviderSimulator("attacker") as attacker, from_file(path, _file_config(sims)) as (_, client):
        before = path.read_text()
        for variable in ("AWS_SECRET_ACCESS_KEY", "TPPC_MANAGEMENT_KEY", "MGMT_FROM_ENV", "HOME"):
            body = {"name": "evil", "base-url": attacker.url, "api-key": f"os.environ/{variable}"}
            response = client.post(MGMT, json=body)
            assert response.status_code == 422, (variable, response.text)
            assert f"os.environ/{variable} is not a variable" in json.dumps(response.json())
        assert path.read_text() == before
        assert "evil" not in json.dumps(client.get(MGMT).json())
        for i, variable in enumerate(("EXTRA_OK", "PRIMARY_KEY")):
            body = {"name": f"ok{i}", "base-url": attacker.url, "api-key": f"os.environ/{variable}"}
            assert client.post(MGMT, json=body).status_code == 201, variable
        assert attacker.requests == []


@pytest.mark.usefixtures("file_env")
def test_management_write_limits(sims: dict[str, ProviderSimulator], tmp_path: Path) -> None:
    """Too many providers, an over-long field or an over-size body are refused (422/413) and change nothing."""
    extra = "server:\n  limits: {max-providers: 3, max-field-length: 100, management-max-body-bytes: 4096}\n"
    path = tmp_path / "config.yaml"
    with from_file(path, _file_config(sims, extra)) as (_, client):
        before = path.read_text()
        many = [{"name": f"p{i}", "base-url": "https://p.invalid/v1", "api-key": f"sk-p-{i:04d}-abcdefgh"}
                for i in range(4)]
        assert client.put(MGMT, json={"providers": many}).status_code == 422
        long_url = {"name": "long", "base-url": "https://p.invalid/" + "a" * 200, "api-key": "sk-long-abcdefgh"}
        assert client.post(MGMT, json=long_url).status_code == 422
        big = {"name": "big", "base-url": "https://p.invalid/v1", "api-key": "sk-big-abcdefgh", "pad": "x" * 8000}
        assert client.post(MGMT, json=big).status_code == 413
        assert path.read_text() == before


@pytest.mark.usefixtures("file_env")
def test_read_only_config_is_not_replaced(sims: dict[str, ProviderSimulator], tmp_path: Path) -> None:
    """A 0444 config file is not replaced by a management write: 409 naming the mode, file and router unchanged."""
    path = tmp_path / "config.yaml"
    with from_file(path, _file_config(sims)) as (_, client):
        before = path.read_text()
        path.chmod(0o444)
        try:
            response = client.patch(MGMT, json={"name": "backup", "value": {"enabled": False}})
            assert response.status_code == 409
            assert "read-only (mode 0444)" in response.json()["error"]["message"]
            assert path.read_text() == before
            states = {p["name"]: p["enabled"] for p in client.get(MGMT).json()["tppc"]["providers"]}
            assert states == {"primary": True, "backup": True}
        finally:
            path.chmod(0o644)


@pytest.mark.usefixtures("file_env")
def test_control_characters_in_names_never_reach_the_log(sims: dict[str, ProviderSimulator], tmp_path: Path,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    """A provider name with a newline, ESC or NUL is refused (422); no raw control character reaches a log line."""
    import logging

    caplog.set_level(logging.DEBUG, logger="tppc_router")
    path = tmp_path / "config.yaml"
    with from_file(path, _file_config(sims)) as (_, client):
        for name in ("x\nmanagement PUT from 10.0.0.1: ok", "x\x1b[2Jy", "x\x00y"):
            body = {"name": name, "base-url": "https://p.invalid/v1", "api-key": "sk-name-abcdefgh"}
            assert client.post(MGMT, json=body).status_code == 422
    for record in caplog.records:
        assert not any(c in record.getMessage() for c in "\n\x1b\x00"), record.getMessage()


USERINFO_PASSWORD = "userinfo-secret-9f8e7d6c5b4a"


def test_base_url_userinfo_never_shown(sims: dict[str, ProviderSimulator], tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials in a base-url's userinfo stay out of the start-up lines, GET and ``export`` (without
    --include-secrets), which still writes them with it."""
    import subprocess
    import sys

    from tppc_router.cli.serve import startup_lines

    url = sims["primary"].url.replace("http://", f"http://relay:{USERINFO_PASSWORD}@")
    text = (f"tppc:\n  models: [gpt-5]\n  providers:\n"
            f"    - {{name: primary, base-url: \"{url}\", api-key: {CANARY_PRIMARY}}}\n"
            f"remote-management:\n  secret-key: {MGMT_KEY}\n")
    path = tmp_path / "config.yaml"
    path.write_text(text)
    settings = load_settings(path, env={})
    assert USERINFO_PASSWORD not in "\n".join(startup_lines(settings, "127.0.0.1", 8317, env={}))
    with Served(settings) as served, httpx.Client(base_url=served.url, timeout=10) as client:
        shown = client.get(MGMT, headers={"x-management-key": MGMT_KEY}).text
        assert USERINFO_PASSWORD not in shown and "relay:" in shown
    command = [sys.executable, "-m", "tppc_router.cli.main", "export", str(path)]
    exported = subprocess.run(command, capture_output=True, text=True, timeout=120, env={"PATH": "/usr/bin:/bin"})
    assert exported.returncode == 0, exported.stderr
    assert USERINFO_PASSWORD not in exported.stdout + exported.stderr
    full = subprocess.run([*command, "--include-secrets"], capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin"})
    assert USERINFO_PASSWORD in full.stdout


def test_deleted_provider_leaves_no_metrics_or_secret(sims: dict[str, ProviderSimulator]) -> None:
    """Deleting a provider drops its /metrics series and forgets its key from the scrub list."""
    from tppc_router.masking import secrets

    with serving(sims, **{"remote-management": {"secret-key": MGMT_KEY}}) as (_, client):
        sims["primary"].set_fault("status:500")
        assert client.post("/v1/responses", json=RESPONSES).status_code == 200  # primary failed, backup served
        assert 'provider="primary"' in client.get("/metrics").text
        deleted = client.delete(MGMT, params={"name": "primary"}, headers={"x-management-key": MGMT_KEY})
        assert deleted.status_code == 200, deleted.text
        metrics = client.get("/metrics").text
        assert 'provider="primary"' not in metrics and 'from_provider="primary"' not in metrics
        assert 'provider="backup"' in metrics
        assert CANARY_PRIMARY not in set(secrets)
        assert CANARY_BACKUP in set(secrets)
