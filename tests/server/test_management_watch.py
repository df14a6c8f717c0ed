"""Hand edits of config.yaml while a real server runs: picked up in ~2 s, or refused with reasons."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from test_management_support import ENV, Served, assert_no_canary, serve

ROUTE = "/v0/management/tppc"


@pytest.fixture
def live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> Iterator[Served]:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("TPPC_MANAGEMENT_KEY", raising=False)
    caplog.set_level(logging.INFO, logger="tppc_router")
    with serve(tmp_path / "config.yaml", watch=0.5) as served:
        yield served
    assert_no_canary(caplog.text)


def alpha_url(live: Served) -> str:
    url: str = live.client.get(ROUTE).json()["tppc"]["providers"][0]["base-url"]
    return url


def wait_for(condition: Callable[[], bool], seconds: float) -> float:
    """Poll ``condition`` (a callable) until true; the time it took, or fail."""
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        if condition():
            return time.monotonic() - start
        time.sleep(0.05)
    raise AssertionError(f"not within {seconds} s")


def test_hand_edit_is_served_within_two_seconds(live: Served) -> None:
    """Editing base-url by hand reaches GET and the router within about two seconds."""
    assert live.path is not None
    live.path.write_text(live.text().replace("alpha.invalid", "alpha-edited.invalid"))
    took = wait_for(lambda: alpha_url(live) == "https://alpha-edited.invalid/v1", 2.0)
    assert took < 2.0
    assert live.runtime.router.targets("gpt-5")[0].base_url == "https://alpha-edited.invalid/v1"


def test_invalid_hand_edit_keeps_the_old_config(live: Served, caplog: pytest.LogCaptureFixture) -> None:
    """An invalid hand edit is logged problem by problem; the old config keeps serving; API writes say why."""
    assert live.path is not None
    reloads = live.runtime.router.reloads
    live.path.write_text(live.text().replace("https://alpha.invalid/v1", "not-a-url"))
    wait_for(lambda: "tppc.providers[0].base-url: must be an http(s) URL" in caplog.text, 2.0)
    assert alpha_url(live) == "https://alpha.invalid/v1"
    assert live.runtime.router.reloads == reloads
    before = live.text()
    response = live.client.patch(ROUTE, json={"name": "beta", "value": {"order": 2}})
    assert response.status_code == 422
    assert any("base-url" in p for p in response.json()["error"]["problems"])
    assert live.text() == before
    live.path.write_text(before.replace("not-a-url", "https://alpha-fixed.invalid/v1"))
    wait_for(lambda: alpha_url(live) == "https://alpha-fixed.invalid/v1", 2.0)


def test_api_writes_are_not_seen_as_hand_edits(live: Served) -> None:
    """The watcher skips what the API wrote: nothing is applied twice."""
    assert live.client.patch(ROUTE, json={"name": "alpha", "value": {"order": 5}}).status_code == 200
    time.sleep(1.2)
    reloads = live.runtime.config_reloads
    assert reloads.get("applied", 0) == 0 and reloads.get("rejected", 0) == 0
