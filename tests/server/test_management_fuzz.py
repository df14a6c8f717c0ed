"""Hypothesis: any PATCH/PUT/POST body, however odd, never gets a 5xx, and a refused one changes nothing."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from test_management_support import ALPHA_KEY, CONFIG, ENV, NEW_KEY, Served, assert_no_canary, serve

from tppc_router.config.loader import load_settings
from tppc_router.masking import mask

ROUTE = "/v0/management/tppc"
FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

scalars = (st.none() | st.booleans() | st.integers() | st.integers(min_value=-(10**40), max_value=10**40)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30))
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10,
)
odd_strings = st.sampled_from(
    ["", " alpha ", "ftp://x", "yes", "on", "1:20", "a\x85b", "sk-z...1234", "********", "${UNSET_VAR}", "a/b", "x y"]
)
# Mostly valid provider fields, so that many writes succeed and the file keeps changing.
plausible = {
    "name": st.from_regex(r"[a-z][a-z0-9-]{0,8}", fullmatch=True) | st.sampled_from(["alpha", "beta", "ALPHA"]),
    "enabled": st.booleans(),
    "base-url": st.sampled_from(["https://ok.invalid/v1", "http://x.invalid", "https://alpha.invalid/v1/"]),
    "api-key": st.sampled_from([mask(ALPHA_KEY), NEW_KEY, "os.environ/BETA_KEY", "sk-fuzz-0123456789"]),
    "order": st.none() | st.integers(-3, 50),
}
plausible_objects = st.fixed_dictionaries({}, optional=plausible)
wild_objects = st.dictionaries(
    st.sampled_from([*plausible, "base_url", "api_key", "state", "priority", "bogus", "<<"]) | st.text(max_size=12),
    json_values | odd_strings | st.one_of(*plausible.values()),
    max_size=6,
)
complete_objects = st.fixed_dictionaries(
    {"name": st.from_regex(r"[a-z][a-z0-9]{0,8}", fullmatch=True), "base-url": plausible["base-url"],
     "api-key": st.just("sk-fuzz-0123456789")},
    optional={"enabled": st.sampled_from([False, False, True]), "order": plausible["order"]},  # rebuilds stay cheap
)
provider_objects = plausible_objects | wild_objects
selectors = (st.sampled_from(["alpha", "beta", "gamma", "ALPHA", "nope"]).map(lambda n: {"name": n})
             | st.integers(-1, 4).map(lambda i: {"index": i}))
plausible_patches = st.builds(lambda sel, value: {**sel, "value": value}, selectors, plausible_objects)
patch_bodies = (
    plausible_patches | plausible_patches
    | st.builds(lambda sel, value: {**sel, "value": value}, selectors, wild_objects)
    | st.fixed_dictionaries({}, optional={"name": json_values, "index": json_values, "value": json_values,
                                          "extra": json_values})
    | json_values
)
put_bodies = (
    st.fixed_dictionaries({"providers": st.lists(complete_objects, min_size=1, max_size=4)},
                          optional={"models": st.lists(st.sampled_from(["gpt-5", "o3", "GPT-5", ""]), max_size=3)})
    | st.fixed_dictionaries({"providers": st.lists(plausible_objects, max_size=4)})
    | st.builds(lambda inner: {"tppc": inner}, st.fixed_dictionaries(
        {}, optional={"providers": st.lists(provider_objects, max_size=3), "models": json_values}))
    | json_values
)


@pytest.fixture
def live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> Iterator[Served]:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("TPPC_MANAGEMENT_KEY", raising=False)
    caplog.set_level(logging.DEBUG, logger="tppc_router")
    with serve(tmp_path / "config.yaml") as served:
        yield served
    assert_no_canary(caplog.text)


def _send(live: Served, method: str, content: bytes) -> None:
    assert live.path is not None
    before = live.path.read_bytes()
    reloads = live.runtime.router.reloads
    response = live.client.request(method, ROUTE, content=content, headers={"content-type": "application/json"})
    assert response.status_code < 500, response.text
    if currently_in_test_context():
        event(f"{method} {response.status_code}")
    assert response.status_code in (200, 201, 400, 404, 409, 422), response.text
    assert_no_canary(response.text)
    if response.status_code >= 400:
        assert live.path.read_bytes() == before
        assert live.runtime.router.reloads == reloads
        assert "error" in response.json()
    else:
        assert load_settings(live.path) == live.runtime.file_settings


def _encode(body: Any) -> bytes:
    return json.dumps(body).encode()


@FUZZ
@given(body=patch_bodies)
def test_random_patch_bodies(live: Served, body: Any) -> None:
    """A random PATCH body gets 2xx/4xx, never 5xx; a refused one leaves file and router as they were."""
    _send(live, "PATCH", _encode(body))


@FUZZ
@given(body=put_bodies)
def test_random_put_bodies(live: Served, body: Any) -> None:
    """A random PUT body gets 2xx/4xx, never 5xx; a refused one leaves file and router as they were."""
    _send(live, "PUT", _encode(body))


@FUZZ
@given(body=complete_objects | complete_objects | provider_objects | json_values)
def test_random_post_bodies(live: Served, body: Any) -> None:
    """A random POST body gets 2xx/4xx, never 5xx; a refused one leaves file and router as they were."""
    _send(live, "POST", _encode(body))
    if live.path is not None and live.text().count("base-url") > 8:  # keep each write (and rebuild) small
        live.path.write_text(CONFIG)


@FUZZ
@given(raw=st.binary(max_size=60) | st.text(max_size=40).map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_random_bytes(live: Served, raw: bytes) -> None:
    """Arbitrary bytes as a body are a 4xx, never a 5xx."""
    _send(live, "PATCH", raw)


@pytest.mark.parametrize("content", [
    b'{"name": "alpha", "value": {"base-url": "\\ud800"}}',
    b'{"name": "alpha", "value": {"name": "a\\udfff"}}',
    b'{"name": "alpha", "value": {"order": 1' + b"0" * 5000 + b"}}",
    b"[" * 100_000 + b"]" * 100_000,
    *(b'{"name": "alpha", "value": {"order": ' + b"[" * n + b"]" * n + b"}}" for n in (40, 500, 990)),
])
def test_pathological_bodies(live: Served, content: bytes) -> None:
    """A lone surrogate, a 5000-digit number and deep nesting (just under and over json's limit) are refused."""
    _send(live, "PATCH", content)
