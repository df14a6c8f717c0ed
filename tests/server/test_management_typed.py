"""Management writes are typed: booleans and integers reach the file as YAML booleans and integers, or are
refused with 422 naming the field; a GET body PUT back changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_management_support import ENV, MGMT_HASH, Served, assert_no_canary, serve

ROUTE = "/v0/management/tppc"


@pytest.fixture
def live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    with serve(tmp_path / "config.yaml") as served:
        yield served


@pytest.mark.parametrize(("field", "value", "problem"), [
    ("enabled", "yes", "tppc.providers[0].enabled: must be true or false (a JSON boolean), got a string"),
    ("enabled", 1, "tppc.providers[0].enabled: must be true or false (a JSON boolean), got a number"),
    ("order", "2", "tppc.providers[0].order: must be an integer (a JSON number without quotes), got a string"),
    ("order", True, "tppc.providers[0].order: must be an integer (a JSON number without quotes), got a boolean"),
    ("order", 1.5, "tppc.providers[0].order: must be an integer (a JSON number without quotes), got a number"),
    ("base-url", 7, "tppc.providers[0].base-url: must be a string, got a number"),
])
def test_patch_with_a_mistyped_field_is_refused_naming_it(live: Served, field: str, value: Any, problem: str) -> None:
    """``"enabled": "yes"``, ``1``, ``"order": "2"``... answer 422 naming the field; the file is untouched."""
    before = live.text()
    response = live.client.patch(ROUTE, json={"name": "alpha", "value": {field: value}})
    assert response.status_code == 422, response.text
    assert problem in response.json()["error"]["problems"]
    assert live.text() == before


@pytest.mark.parametrize("method", ["PUT", "POST"])
def test_put_and_post_are_typed_too(live: Served, method: str) -> None:
    """PUT and POST refuse a string ``enabled`` as PATCH does, and the file is untouched."""
    before = live.text()
    entry = {"name": "delta", "base-url": "https://delta.invalid/v1", "api-key": "sk-delta-key-12345678",
             "enabled": "no"}
    body: Any = [entry] if method == "PUT" else entry
    response = live.client.request(method, ROUTE, json=body)
    assert response.status_code == 422, response.text
    assert "enabled: must be true or false" in response.text
    assert live.text() == before


def test_typed_values_are_written_as_yaml_scalars(live: Served) -> None:
    """A JSON boolean and integer are written as a YAML boolean and integer, not quoted strings."""
    response = live.client.patch(ROUTE, json={"name": "beta", "value": {"enabled": False, "order": 2}})
    assert response.status_code == 200, response.text
    text = live.text()
    assert "enabled: false" in text and "order: 2" in text
    assert '"false"' not in text and '"2"' not in text


def test_disabled_provider_base_url_must_still_be_a_url(live: Served) -> None:
    """Disabling a provider does not let its base-url become ``ftp://x``."""
    before = live.text()
    response = live.client.patch(ROUTE, json={"name": "gamma", "value": {"base-url": "ftp://x"}})
    assert response.status_code == 422, response.text
    assert "tppc.providers[2].base-url: must be an http(s) URL with a host, even while disabled" in response.text
    assert live.text() == before


def test_a_disabled_duplicate_name_is_refused(live: Served) -> None:
    """Renaming a disabled provider to another's name (case-insensitive) is refused too."""
    response = live.client.patch(ROUTE, json={"name": "gamma", "value": {"name": "ALPHA"}})
    assert response.status_code in (409, 422), response.text
    assert live.client.get(ROUTE).json()["tppc"]["providers"][2]["name"] == "gamma"


def test_a_get_body_put_back_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """PUTting GET's body back leaves the file byte for byte as it was (no ``models:`` added when the
    file relies on the default)."""
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    text = f"""\
tppc:
  providers:
    - name: alpha
      base-url: https://alpha.invalid/v1
      api-key: sk-canary-alpha-5f3c9e1d
    - name: beta
      enabled: false
      base-url: https://beta.invalid/v1
      api-key: os.environ/BETA_KEY
      order: 5
remote-management:
  secret-key: "{MGMT_HASH}"
"""
    with serve(tmp_path / "config.yaml", text=text) as live:
        body = live.client.get(ROUTE).json()
        response = live.client.put(ROUTE, json=body)
        assert response.status_code == 200, response.text
        assert response.json()["changed"] == []
        assert live.text() == text
        assert_no_canary(response.text)
