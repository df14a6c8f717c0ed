"""A provider whose key or base-url changes starts afresh: its open breaker does not bench the fixed credential."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from gateway_live import CANARY_PRIMARY
from test_management_support import MGMT_HASH, assert_no_canary, serve

from tppc_router.sim import ProviderSimulator

ROUTE = "/v0/management/tppc"
BODY = {"model": "gpt-5", "input": "hello"}
WRONG_KEY = "sk-wrong-key-0123456789abcdef"


def _config(url: str, key: str = WRONG_KEY) -> str:
    return f"""\
tppc:
  providers:
    - name: primary
      base-url: {url}
      api-key: {key}
remote-management:
  secret-key: "{MGMT_HASH}"
"""


def _bench(client: httpx.Client, url: str) -> None:
    """One request with the wrong key: the provider answers 401 and its breaker opens (auth cooldown)."""
    first = client.post(url + "/v1/responses", json=BODY)
    assert first.status_code >= 400
    benched = client.post(url + "/v1/responses", json=BODY)
    assert benched.status_code >= 400


def test_a_patched_key_takes_effect_at_once(tmp_path: Path, primary: ProviderSimulator,
                                            caplog: pytest.LogCaptureFixture) -> None:
    """After PATCHing the right key, the next request is served: the breaker the wrong key opened is gone,
    and both the response (fresh_start) and the log say so."""
    caplog.set_level(logging.INFO, logger="tppc_router")
    with serve(tmp_path / "config.yaml", text=_config(primary.url)) as live:
        _bench(live.client, live.url)
        calls = len(primary.requests)
        response = live.client.patch(ROUTE, json={"name": "primary", "value": {"api-key": CANARY_PRIMARY}})
        assert response.status_code == 200, response.text
        assert response.json()["fresh_start"] == ["primary"]
        served = live.client.post(live.url + "/v1/responses", json=BODY)
        assert served.status_code == 200, served.text
        assert served.headers["x-tppc-provider"] == "primary"
        assert len(primary.requests) == calls + 1
        unchanged = live.client.patch(ROUTE, json={"name": "primary", "value": {"order": 1}})
        assert unchanged.json()["fresh_start"] == []
    assert "provider primary: key or base-url changed: fresh breaker and rate-limit state" in caplog.text
    assert_no_canary(caplog.text)


def _wait_for(condition: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"not within {seconds} s")


def test_a_hand_edited_key_takes_effect_at_once(tmp_path: Path, primary: ProviderSimulator,
                                                caplog: pytest.LogCaptureFixture) -> None:
    """Fixing the key by hand in the file (the watcher reloads it) also gives the provider a fresh breaker."""
    caplog.set_level(logging.INFO, logger="tppc_router")
    path = tmp_path / "config.yaml"
    with serve(path, text=_config(primary.url), watch=0.2) as live:
        _bench(live.client, live.url)
        path.write_text(_config(primary.url, CANARY_PRIMARY), encoding="utf-8")
        _wait_for(lambda: "provider primary: key or base-url changed" in caplog.text, 5.0)
        served = live.client.post(live.url + "/v1/responses", json=BODY)
        assert served.status_code == 200, served.text
    assert_no_canary(caplog.text)
