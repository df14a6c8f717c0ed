"""The management gate: secret, header styles, loopback-only, lockout, plaintext hashing."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import bcrypt
import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_management_support import (
    CONFIG,
    ENV,
    MGMT_HASH,
    MGMT_KEY,
    Served,
    assert_no_canary,
    build_app,
    serve,
)

from tppc_router.clock import ManualClock
from tppc_router.server.lockout import Lockout
from tppc_router.server.mgmt_auth import (
    Caller,
    ManagementAuth,
    forwarded_for,
    hash_secret_on_load,
    is_bcrypt_hash,
    is_loopback,
    is_remote,
    provided_key,
)

ROUTE = "/v0/management/tppc"
NO_SECRET = CONFIG.replace(f'  secret-key: "{MGMT_HASH}"   # bcrypt\n', "")
PLAINTEXT = CONFIG.replace(MGMT_HASH, MGMT_KEY)


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("TPPC_MANAGEMENT_KEY", raising=False)
    caplog.set_level(logging.DEBUG, logger="tppc_router")
    yield
    assert_no_canary(caplog.text)


# -- pure checks ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.0.0.2", True), ("::1", True), ("::ffff:127.0.0.1", True), ("[::1]:80", True),
     ("10.0.0.1", False), ("192.168.1.5", False), ("203.0.113.7", False), ("::ffff:10.0.0.1", False),
     ("2001:db8::1", False), ("localhost", False), ("testclient", False), ("", False), (None, False)],
)
def test_is_loopback(host: str | None, loopback: bool) -> None:
    """Loopback is 127.0.0.0/8 and ::1 (also IPv4-mapped); names and garbage are not."""
    assert is_loopback(host) is loopback


@pytest.mark.parametrize(
    ("peer", "forwarded", "remote"),
    [("127.0.0.1", (), False), ("10.1.2.3", (), True), ("127.0.0.1", ("203.0.113.7",), True),
     ("127.0.0.1", ("127.0.0.1", "203.0.113.7"), True), ("127.0.0.1", ("::1",), False),
     ("203.0.113.7", ("127.0.0.1",), True), ("127.0.0.1", ("unknown",), True)],
)
def test_is_remote(peer: str, forwarded: tuple[str, ...], remote: bool) -> None:
    """A request is local only if its peer and every forwarded-for address are loopback."""
    assert is_remote(peer, forwarded) is remote


@given(st.ip_addresses())
def test_is_remote_matches_ipaddress(address: object) -> None:
    """For any IP address the peer is remote exactly when it is not a loopback address."""
    import ipaddress

    ip = ipaddress.ip_address(str(address))
    mapped = getattr(ip, "ipv4_mapped", None)
    expected = not (mapped.is_loopback if mapped is not None else ip.is_loopback)
    assert is_remote(str(ip)) is expected


def test_forwarded_for_reads_all_three_headers() -> None:
    """X-Forwarded-For, X-Real-IP and Forwarded: for= are all read, ports and brackets stripped."""
    headers = {"x-forwarded-for": "203.0.113.7, 10.0.0.1", "x-real-ip": "198.51.100.2",
               "forwarded": 'for="[2001:db8::1]:4711";proto=https, for=192.0.2.60:80'}
    assert forwarded_for(headers) == ("203.0.113.7", "10.0.0.1", "198.51.100.2", "2001:db8::1", "192.0.2.60")


@pytest.mark.parametrize(
    ("headers", "key"),
    [({"x-management-key": "k1"}, "k1"), ({"authorization": "Bearer k2"}, "k2"), ({"authorization": "bearer  k3 "}, "k3"),
     ({"authorization": "k4"}, "k4"), ({"x-management-key": "k5", "authorization": "Bearer other"}, "k5"),
     ({"authorization": "Bearer "}, None), ({}, None)],
)
def test_provided_key(headers: dict[str, str], key: str | None) -> None:
    """The key comes from X-Management-Key first, else Authorization (Bearer or bare)."""
    assert provided_key(headers) == key


def test_is_bcrypt_hash() -> None:
    """$2a$/$2b$/$2y$ hashes are recognised; plaintext is not."""
    assert is_bcrypt_hash(MGMT_HASH)
    assert is_bcrypt_hash(MGMT_HASH.replace("$2b$", "$2y$", 1))
    assert not is_bcrypt_hash(MGMT_KEY)
    assert not is_bcrypt_hash("$2b$04$short")


def test_lockout_after_five_failures_and_expiry() -> None:
    """Five failures lock an address out for 30 minutes; others are unaffected; it expires on time."""
    clock = ManualClock()
    lockout = Lockout(clock)
    assert [lockout.fail("1.2.3.4") for _ in range(4)] == [1, 2, 3, 4]
    assert lockout.remaining("1.2.3.4") is None
    assert lockout.fail("1.2.3.4") == 0
    assert lockout.remaining("1.2.3.4") == 1800
    assert lockout.remaining("5.6.7.8") is None
    clock.advance(1799)
    assert lockout.remaining("1.2.3.4") == 1
    clock.advance(1)
    assert lockout.remaining("1.2.3.4") is None
    assert lockout.fail("1.2.3.4") == 1


def test_success_resets_the_failure_count() -> None:
    """A success in between starts the count again."""
    lockout = Lockout(ManualClock())
    for _ in range(4):
        lockout.fail("a")
    lockout.reset("a")
    assert lockout.fail("a") == 1


def test_auth_repr_hides_the_env_key() -> None:
    """ManagementAuth's repr says whether an env key is set, never what it is."""
    auth = ManagementAuth(env={"TPPC_MANAGEMENT_KEY": MGMT_KEY})
    assert MGMT_KEY not in repr(auth) and "set" in repr(auth)


# -- over HTTP ---------------------------------------------------------------------------------------------


def test_no_secret_means_404_like_an_unknown_route(tmp_path: Path) -> None:
    """Without a secret every management route answers exactly like a route that does not exist."""
    with serve(tmp_path / "config.yaml", text=NO_SECRET) as live:
        for method in ("GET", "PUT", "PATCH", "POST", "DELETE"):
            response = live.client.request(method, ROUTE)
            assert response.status_code == 404
        unknown = live.client.get("/v0/management/nothing-here")
        assert response.json() == unknown.json() | {"error": response.json()["error"]}
        assert response.json()["error"]["code"] == unknown.json()["error"]["code"] == "not_found"


def test_env_key_enables_management(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """TPPC_MANAGEMENT_KEY alone enables management and is compared as is."""
    monkeypatch.setenv("TPPC_MANAGEMENT_KEY", MGMT_KEY)
    with serve(tmp_path / "config.yaml", text=NO_SECRET) as live:
        assert live.client.get(ROUTE).status_code == 200
        assert live.client.get(ROUTE, headers={"X-Management-Key": "wrong"}).status_code == 401


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Served]:
    with serve(tmp_path / "config.yaml", key=None, clock=ManualClock()) as served:
        yield served


@pytest.mark.parametrize("headers", [{"X-Management-Key": MGMT_KEY}, {"Authorization": f"Bearer {MGMT_KEY}"}])
def test_both_header_styles_work(live: Served, headers: dict[str, str]) -> None:
    """The key is accepted as X-Management-Key and as Authorization: Bearer."""
    response = live.client.get(ROUTE, headers=headers)
    assert response.status_code == 200
    assert_no_canary(response.text)


@pytest.mark.parametrize(
    ("headers", "message"),
    [({}, "missing management key"), ({"X-Management-Key": "mgmt-wrong"}, "invalid management key"),
     ({"Authorization": "Bearer mgmt-wrong"}, "invalid management key")],
)
def test_missing_or_wrong_key_is_401(live: Served, headers: dict[str, str], message: str) -> None:
    """A missing or wrong key is 401 with WWW-Authenticate, and the write is not done."""
    before = live.text()
    response = live.client.patch(ROUTE, json={"name": "alpha", "value": {"order": 3}}, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"]["message"] == message
    assert live.text() == before


def test_lockout_after_five_failures_then_expiry(live: Served) -> None:
    """Five wrong keys lock the address out (429, Retry-After), even for the right key, until 30 min pass."""
    wrong = {"X-Management-Key": "mgmt-wrong"}
    right = {"X-Management-Key": MGMT_KEY}
    assert [live.client.get(ROUTE, headers=wrong).status_code for _ in range(5)] == [401] * 5
    locked = live.client.get(ROUTE, headers=right)
    assert locked.status_code == 429
    assert locked.headers["retry-after"] == "1800"
    assert "try again in 30m 00s" in locked.json()["error"]["message"]
    assert_no_canary(locked.text)
    auth = live.runtime.management_auth
    assert isinstance(auth, ManagementAuth) and isinstance(auth.lockout.clock, ManualClock)
    auth.lockout.clock.advance(1799.5)
    still = live.client.get(ROUTE, headers=right)
    assert still.status_code == 429 and still.headers["retry-after"] == "1"
    auth.lockout.clock.advance(0.5)
    assert live.client.get(ROUTE, headers=right).status_code == 200
    assert auth.failures["invalid_key"] == 5 and auth.failures["locked_out"] == 2


def test_remote_client_is_refused_unless_allowed(tmp_path: Path) -> None:
    """A request a local proxy forwards for a remote client is 403 unless allow-remote is on."""
    remote = {"X-Forwarded-For": "203.0.113.7"}
    with serve(tmp_path / "a.yaml") as live:
        response = live.client.get(ROUTE, headers=remote)
        assert response.status_code == 403
        assert "203.0.113.7" in response.json()["error"]["message"]
        assert live.client.get(ROUTE, headers={"X-Forwarded-For": "127.0.0.1"}).status_code == 200
    allowed = CONFIG.replace("allow-remote: false", "allow-remote: true")
    with serve(tmp_path / "b.yaml", text=allowed) as live:
        assert live.client.get(ROUTE, headers=remote).status_code == 200


def test_remote_refusal_does_not_count_as_a_failure(live: Served) -> None:
    """Remote refusals (403) never lock out the local admin."""
    headers = {"X-Forwarded-For": "203.0.113.7", "X-Management-Key": "mgmt-wrong"}
    assert {live.client.get(ROUTE, headers=headers).status_code for _ in range(6)} == {403}
    assert live.client.get(ROUTE, headers={"X-Management-Key": MGMT_KEY}).status_code == 200


async def test_concurrent_wrong_keys_cannot_exceed_the_limit(live: Served) -> None:
    """Many wrong keys at once still get at most five bcrypt checks before the lockout."""
    async with httpx.AsyncClient(base_url=live.url, timeout=30) as client:
        import asyncio

        responses = await asyncio.gather(
            *(client.get(ROUTE, headers={"X-Management-Key": f"wrong-{i}"}) for i in range(20))
        )
    codes = [r.status_code for r in responses]
    assert codes.count(401) == 5 and codes.count(429) == 15


# -- hashing a plaintext secret -------------------------------------------------------------------------------


def test_plaintext_secret_is_hashed_on_load_and_written_back(tmp_path: Path) -> None:
    """At startup a plaintext secret-key is bcrypt-hashed into the file, comment and quotes kept."""
    path = tmp_path / "config.yaml"
    with serve(path, text=PLAINTEXT) as live:
        text = live.text()
        assert MGMT_KEY not in text
        line = next(ln for ln in text.splitlines() if "secret-key" in ln)
        stored = line.split('"')[1]
        assert re.fullmatch(r'  secret-key: "[^"]+" +# bcrypt', line)  # ruamel keeps the comment's column
        assert is_bcrypt_hash(stored) and bcrypt.checkpw(MGMT_KEY.encode(), stored.encode())
        assert text.replace(line, f'  secret-key: "{MGMT_HASH}"   # bcrypt') == CONFIG
        assert live.client.get(ROUTE).status_code == 200
        settings = live.runtime.file_settings
        assert settings is not None and settings.remote_management.secret_key is not None
        assert settings.remote_management.secret_key.get_secret_value() == stored
        assert MGMT_KEY not in repr(live.runtime) and MGMT_KEY not in repr(settings)


def test_hashing_leaves_a_hash_alone(tmp_path: Path) -> None:
    """An already-hashed secret is never hashed again and the file is not touched."""
    path = tmp_path / "config.yaml"
    _, runtime = build_app(path)
    assert hash_secret_on_load(runtime, rounds=4) is False
    assert path.read_text() == CONFIG


def test_hashing_without_a_file_is_in_memory(tmp_path: Path) -> None:
    """Without a config file the plaintext secret is hashed in memory only."""
    _, runtime = build_app(None, text=PLAINTEXT)
    assert hash_secret_on_load(runtime, rounds=4) is True
    assert runtime.file_settings is not None and runtime.file_settings.remote_management.secret_key is not None
    assert is_bcrypt_hash(runtime.file_settings.remote_management.secret_key.get_secret_value())
    assert not list(tmp_path.iterdir())


def test_caller_str_is_the_real_peer() -> None:
    """A caller prints as its TCP peer only: an address a client claims in a proxy header never reaches the log."""
    assert str(Caller("127.0.0.1")) == "127.0.0.1"
    assert str(Caller("127.0.0.1", ("203.0.113.7",))) == "127.0.0.1"
    assert str(Caller("203.0.113.7", ("203.0.113.7",))) == "203.0.113.7"
