"""``/v0/management/tppc`` against a real uvicorn: every route, every error, what is written."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_management_support import (
    ALPHA_KEY,
    BETA_KEY,
    CONFIG,
    ENV,
    NEW_KEY,
    Served,
    assert_no_canary,
    serve,
)

from tppc_router.config.loader import load_settings
from tppc_router.masking import mask
from tppc_router.server.management import WriteEvent

ROUTE = "/v0/management/tppc"
DUPLICATE_NAMES = (b'{"providers": [{"name": "a", "base-url": "https://a.invalid", "api-key": "k1"},'
                   b' {"name": "A", "base-url": "https://b.invalid", "api-key": "k2"}]}')


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("TPPC_MANAGEMENT_KEY", raising=False)


@pytest.fixture
def live(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> Iterator[Served]:
    caplog.set_level(logging.DEBUG, logger="tppc_router")
    with serve(tmp_path / "config.yaml") as served:
        yield served
    assert_no_canary(caplog.text)


def providers(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in body["tppc"]["providers"]}


def file_providers(live: Served) -> list[dict[str, Any]]:
    data = yaml.safe_load(live.text())
    result: list[dict[str, Any]] = data["tppc"]["providers"]
    return result


# -- GET ----------------------------------------------------------------------------------------------


def test_get_shows_masked_keys_and_live_state(live: Served) -> None:
    """GET lists each provider with its key masked, its key source, priority and breaker state."""
    response = live.client.get(ROUTE)
    assert response.status_code == 200
    assert_no_canary(response.text)
    body = response.json()
    assert body["tppc"]["models"] == ["gpt-5"]
    assert body["tppc"]["override"] is None
    alpha, beta, gamma = (providers(body)[n] for n in ("alpha", "beta", "gamma"))
    assert alpha == {"name": "alpha", "enabled": True, "base-url": "https://alpha.invalid/v1",
                     "api-key": mask(ALPHA_KEY), "api-key-source": "literal", "order": 1,
                     "priority": alpha["priority"], "state": "closed"}
    assert beta["api-key"] == mask(BETA_KEY) and beta["api-key-source"] == "os.environ/BETA_KEY"
    assert alpha["priority"] < beta["priority"]
    assert gamma["state"] == "disabled" and gamma["priority"] is None


def test_get_shows_the_no_tppc_override(tmp_path: Path) -> None:
    """Under --no-tppc GET says so, keeps the file's enabled flags, and every state is disabled."""
    with serve(tmp_path / "config.yaml", override=False) as live:
        body = live.client.get(ROUTE).json()
    assert body["tppc"]["override"] == "no-tppc"
    assert providers(body)["alpha"]["enabled"] is True
    assert {p["state"] for p in body["tppc"]["providers"]} == {"disabled"}


def test_write_under_override_keeps_override_in_force(tmp_path: Path) -> None:
    """A write under --no-tppc changes the file's settings, and the router stays overridden."""
    with serve(tmp_path / "config.yaml", override=False) as live:
        response = live.client.patch(ROUTE, json={"name": "alpha", "value": {"order": 7}})
        assert response.status_code == 200
        assert live.runtime.file_settings is not None
        assert live.runtime.file_settings.tppc.providers[0].order == 7
        assert all(not p.enabled for p in live.runtime.settings.tppc.providers)
        assert response.json()["tppc"]["override"] == "no-tppc"


# -- PUT ----------------------------------------------------------------------------------------------


def _put_list() -> list[dict[str, Any]]:
    return [
        {"name": "beta", "base-url": "https://beta.invalid/v2", "api-key": mask(BETA_KEY)},
        {"name": "delta", "base-url": "https://delta.invalid", "api-key": NEW_KEY, "order": 5},
    ]


@pytest.mark.parametrize("form", ["bare", "wrapped"])
def test_put_replaces_the_list_in_both_forms(live: Served, form: str) -> None:
    """PUT {"providers": [...]} and {"tppc": {"providers": [...], "models": [...]}} both replace the list."""
    body: dict[str, Any] = (
        {"providers": _put_list()} if form == "bare" else {"tppc": {"providers": _put_list(), "models": ["gpt-5", "o3"]}}
    )
    response = live.client.put(ROUTE, json=body)
    assert response.status_code == 200, response.text
    assert_no_canary(response.text)
    assert list(providers(response.json())) == ["beta", "delta"]
    names = [p["name"] for p in file_providers(live)]
    assert names == ["beta", "delta"]
    models = yaml.safe_load(live.text())["tppc"]["models"]
    assert models == (["gpt-5"] if form == "bare" else ["gpt-5", "o3"])
    assert [p.name for p in live.runtime.settings.tppc.providers] == ["beta", "delta"]
    assert live.runtime.router.targets("gpt-5")[0].provider == "beta"


def test_put_keeps_env_reference_when_key_is_masked(live: Served) -> None:
    """A masked key in PUT keeps the stored key; an env reference stays a reference."""
    live.client.put(ROUTE, json={"providers": _put_list()}).raise_for_status()
    assert "api-key: os.environ/BETA_KEY" in live.text()
    assert BETA_KEY not in live.text()
    assert f"api-key: {NEW_KEY}" in live.text()


def test_put_of_what_get_returned_changes_nothing(live: Served) -> None:
    """PUT of the GET body as is (masked keys, read-only fields) is a no-op: the file is untouched."""
    before = live.text()
    response = live.client.put(ROUTE, json=live.client.get(ROUTE).json())
    assert response.status_code == 200, response.text
    assert response.json()["changed"] == []
    assert live.text() == before


def test_base_url_credentials_are_masked_and_kept(live: Served) -> None:
    """A base-url with a password in it is shown masked, and PUT/PATCH of that masked URL keeps the stored one."""
    url = "https://user:s3cretpassw0rd99@relay.invalid/v1"
    live.client.patch(ROUTE, json={"name": "alpha", "value": {"base-url": url}}).raise_for_status()
    shown = providers(live.client.get(ROUTE).json())["alpha"]["base-url"]
    assert "s3cretpassw0rd99" not in shown and shown.startswith("https://user:")
    before = live.text()
    live.client.patch(ROUTE, json={"name": "alpha", "value": {"base-url": shown}}).raise_for_status()
    response = live.client.put(ROUTE, json=live.client.get(ROUTE).json())
    assert response.status_code == 200, response.text
    assert response.json()["changed"] == []
    assert live.text() == before and url in before


def test_put_list_form_and_empty_list(live: Served) -> None:
    """A bare JSON list is a provider list, and [] removes every provider."""
    assert live.client.put(ROUTE, json=_put_list()).status_code == 200
    response = live.client.put(ROUTE, json={"tppc": {"providers": []}})
    assert response.status_code == 200
    assert response.json()["tppc"]["providers"] == []
    assert yaml.safe_load(live.text())["tppc"]["providers"] == []


def test_put_without_providers_is_refused_not_emptied(live: Served) -> None:
    """{"tppc": {"models": [...]}} without providers is a 422, never an emptied list."""
    before = live.text()
    response = live.client.put(ROUTE, json={"tppc": {"models": ["gpt-5"]}})
    assert response.status_code == 422
    assert response.json()["error"]["problems"] == ["tppc.providers: required (send [] to remove every provider)"]
    assert live.text() == before


def test_put_masked_key_for_new_name_is_refused(live: Served) -> None:
    """A masked key for a provider with no stored key is refused rather than stored."""
    before = live.text()
    body = {"providers": [{"name": "zeta", "base-url": "https://z.invalid", "api-key": "sk-z...1234"}]}
    response = live.client.put(ROUTE, json=body)
    assert response.status_code == 422
    assert "api-key: is a masked value" in response.json()["error"]["problems"][0]
    assert live.text() == before


# -- PATCH ---------------------------------------------------------------------------------------------


def test_patch_by_name_changes_only_that_field(live: Served) -> None:
    """PATCH by name rewrites one field in place; comments, quoting and key order stay."""
    before = live.text()
    response = live.client.patch(ROUTE, json={"name": "alpha", "value": {"base-url": "https://alpha2.invalid/v1"}})
    assert response.status_code == 200, response.text
    assert response.json()["changed"] == ["tppc.providers[alpha].base-url"]
    assert live.text() == before.replace('"https://alpha.invalid/v1"', '"https://alpha2.invalid/v1"')
    assert live.runtime.router.targets("gpt-5")[0].base_url == "https://alpha2.invalid/v1"


def test_patch_by_index_with_snake_case_key(live: Served) -> None:
    """PATCH by index works, and base_url means base-url."""
    response = live.client.patch(ROUTE, json={"index": 1, "value": {"base_url": "https://beta2.invalid"}})
    assert response.status_code == 200
    assert file_providers(live)[1]["base-url"] == "https://beta2.invalid"


@pytest.mark.parametrize("key", [None, "masked", "same-env"])
def test_patch_missing_or_masked_key_keeps_stored_key(live: Served, key: str | None) -> None:
    """A missing api-key, the masked value GET showed, or the same value keep the stored key as written."""
    value: dict[str, Any] = {"order": 9}
    if key == "masked":
        value["api-key"] = mask(BETA_KEY)
    elif key == "same-env":
        value["api-key"] = BETA_KEY
    before = live.text()
    response = live.client.patch(ROUTE, json={"name": "beta", "value": value})
    assert response.status_code == 200
    assert live.text() == before.replace(
        "      api-key: os.environ/BETA_KEY\n", "      api-key: os.environ/BETA_KEY\n      order: 9\n"
    )
    assert live.runtime.settings.tppc.providers[1].api_key is not None
    assert live.runtime.settings.tppc.providers[1].api_key.get_secret_value() == BETA_KEY


def test_patch_new_key_replaces_reference(live: Served) -> None:
    """A new key replaces an env reference, and GET then shows the new key masked."""
    response = live.client.patch(ROUTE, json={"name": "beta", "value": {"api-key": NEW_KEY}})
    assert response.status_code == 200
    assert_no_canary(response.text)
    assert providers(response.json())["beta"]["api-key"] == mask(NEW_KEY)
    assert file_providers(live)[1]["api-key"] == NEW_KEY


def test_patch_rename_and_rename_conflict(live: Served) -> None:
    """Renaming works when the name is free; a taken name (any case) is 409."""
    assert live.client.patch(ROUTE, json={"name": "gamma", "value": {"name": "gamma2"}}).status_code == 200
    before = live.text()
    response = live.client.patch(ROUTE, json={"name": "gamma2", "value": {"name": "ALPHA"}})
    assert response.status_code == 409
    assert live.text() == before


@pytest.mark.parametrize("body", [{"name": "nope", "value": {}}, {"index": 3, "value": {}}, {"index": -1, "value": {}}])
def test_patch_unknown_provider_is_404(live: Served, body: dict[str, Any]) -> None:
    """PATCH of an unknown name or index is 404."""
    response = live.client.patch(ROUTE, json=body)
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "management_error"


def test_patch_null_removes_a_field(live: Served) -> None:
    """null in a PATCH value removes the field (back to its default)."""
    assert live.client.patch(ROUTE, json={"name": "alpha", "value": {"order": None}}).status_code == 200
    assert "order" not in file_providers(live)[0]


def test_patch_that_changes_nothing_writes_nothing(live: Served) -> None:
    """A PATCH that sets what is already there answers 200 with no change and leaves the file alone."""
    stat = live.path.stat() if live.path else None
    response = live.client.patch(ROUTE, json={"name": "alpha", "value": {"order": 1, "api-key": mask(ALPHA_KEY)}})
    assert response.status_code == 200
    assert response.json()["changed"] == []
    assert live.path is not None and stat is not None and live.path.stat().st_mtime_ns == stat.st_mtime_ns


# -- POST and DELETE --------------------------------------------------------------------------------------


def test_post_adds_a_provider(live: Served) -> None:
    """POST adds a provider at the end (201) and it serves."""
    body = {"name": "delta", "base-url": "https://delta.invalid", "api-key": NEW_KEY, "order": 0}
    response = live.client.post(ROUTE, json=body)
    assert response.status_code == 201, response.text
    assert_no_canary(response.text)
    assert file_providers(live)[-1] == {"name": "delta", "base-url": "https://delta.invalid", "api-key": NEW_KEY,
                                        "order": 0}
    assert live.runtime.router.targets("gpt-5")[0].provider == "delta"
    assert live.text().rstrip().endswith("# bcrypt")


@pytest.mark.parametrize("name", ["alpha", "Alpha", "GAMMA"])
def test_post_existing_name_is_409(live: Served, name: str) -> None:
    """POST of a name that exists (case-insensitive, disabled ones too) is 409 and writes nothing."""
    before = live.text()
    response = live.client.post(ROUTE, json={"name": name, "base-url": "https://x.invalid", "api-key": NEW_KEY})
    assert response.status_code == 409
    assert live.text() == before


def test_delete_removes_and_unknown_is_404(live: Served) -> None:
    """DELETE ?name= removes a provider; an unknown name is 404; no selector is 422."""
    response = live.client.delete(ROUTE, params={"name": "beta"})
    assert response.status_code == 200
    assert [p["name"] for p in file_providers(live)] == ["alpha", "gamma"]
    assert "beta" not in {p.name for p in live.runtime.router.provider_states()}
    assert live.client.delete(ROUTE, params={"name": "beta"}).status_code == 404
    assert live.client.delete(ROUTE).status_code == 422
    assert live.client.delete(ROUTE, params={"index": "x"}).status_code == 422
    assert live.client.delete(ROUTE, params={"index": "0"}).status_code == 200


# -- refusals change nothing -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "content", "status"),
    [
        ("PATCH", b"{not json", 400),
        ("PUT", b"", 400),
        ("POST", b"\xff\xfe", 400),
        ("PATCH", b'{"name": "alpha", "value": {"order": NaN}}', 400),
        ("PATCH", b'{"name": "alpha", "value": {"base-url": "ftp://x"}}', 422),
        ("PATCH", b'{"name": "alpha", "value": {"bogus": 1}}', 422),
        ("PATCH", b'{"name": "alpha", "index": 0, "value": {}}', 422),
        ("PATCH", b'{"name": "alpha", "value": []}', 422),
        ("PUT", b'{"providers": {"name": "x"}}', 422),
        ("PUT", b'{"tppc": {"providers": []}, "extra": 1}', 422),
        ("POST", b'{"name": "delta", "base-url": "https://d.invalid"}', 422),
        ("POST", b'[1, 2]', 422),
        ("PUT", DUPLICATE_NAMES, 422),
    ],
)
def test_refused_write_changes_nothing(live: Served, method: str, content: bytes, status: int) -> None:
    """A refused write (bad JSON 400, invalid config 422) leaves the file byte-identical and the router as it was."""
    before = live.path.read_bytes() if live.path else b""
    reloads = live.runtime.router.reloads
    response = live.client.request(method, ROUTE, content=content, headers={"content-type": "application/json"})
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["message"]
    if status == 422:
        assert error["problems"] and all(":" in p for p in error["problems"])
    assert live.path is not None and live.path.read_bytes() == before
    assert live.runtime.router.reloads == reloads


def test_invalid_config_lists_field_path_problems(live: Served) -> None:
    """A 422 names every problem with its field path, as the config loader words it."""
    response = live.client.patch(ROUTE, json={"name": "alpha", "value": {"base-url": "nope", "enabled": "maybe"}})
    assert response.status_code == 422
    problems = response.json()["error"]["problems"]
    assert any(p.startswith("tppc.providers[0].enabled:") for p in problems)


# -- bookkeeping --------------------------------------------------------------------------------------------------


def test_writes_are_counted_logged_and_hooked(live: Served, caplog: pytest.LogCaptureFixture) -> None:
    """Each write is counted by outcome, passed to hooks, and logged with client, fields and outcome only."""
    events: list[WriteEvent] = []
    live.runtime.write_hooks.append(events.append)
    live.client.patch(ROUTE, json={"name": "alpha", "value": {"api-key": NEW_KEY}})
    live.client.patch(ROUTE, json={"name": "alpha", "value": {"base-url": "x"}})
    live.client.delete(ROUTE, params={"name": "nope"})
    live.client.post(ROUTE, json={}, headers={"X-Management-Key": "mgmt-wrong"})
    live.client.get(ROUTE, headers={"X-Management-Key": "mgmt-wrong"})
    assert dict(live.runtime.management_writes) == {"ok": 1, "invalid": 1, "not_found": 1, "unauthorized": 1}
    assert [(e.method, e.outcome, e.status) for e in events] == [
        ("PATCH", "ok", 200), ("PATCH", "invalid", 422), ("DELETE", "not_found", 404),
        ("POST", "unauthorized", 401)]
    assert events[0].fields == ("tppc.providers[alpha].api-key",) and events[0].client == "127.0.0.1"
    lines = [r.getMessage() for r in caplog.records if r.name == "tppc_router.management"]
    assert "management PATCH from 127.0.0.1: ok (200); changed: tppc.providers[alpha].api-key" in lines


def test_memory_only_app_says_so(tmp_path: Path) -> None:
    """Without a config file a write applies in memory and the response says it was not persisted."""
    with serve(None) as live:
        response = live.client.patch(ROUTE, json={"name": "alpha", "value": {"order": 4}})
        assert response.status_code == 200
        body = response.json()
        assert body["persisted"] is False and "memory" in body["note"]
        assert live.runtime.settings.tppc.providers[0].order == 4
        assert live.client.get(ROUTE).json()["tppc"]["providers"][0]["order"] == 4
    assert not list(tmp_path.iterdir())


def test_written_file_reloads_to_the_served_settings(live: Served) -> None:
    """What is on disk after a write loads to exactly the settings the router serves."""
    live.client.put(ROUTE, json={"providers": _put_list()}).raise_for_status()
    assert load_settings(live.path) == live.runtime.file_settings


def test_unwritten_file_content_is_a_valid_config() -> None:
    """The test config itself is valid (guards the other tests)."""
    settings = load_settings(text=CONFIG, env=ENV)
    assert [p.name for p in settings.tppc.providers] == ["alpha", "beta", "gamma"]
