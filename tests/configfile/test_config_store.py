"""ConfigStore and the provider edits: minimal diffs, comments and references kept, nothing written early."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from tppc_router.configfile.document import document_from_settings, dump_document, parse_document
from tppc_router.configfile.store import ConfigStore, text_hash
from tppc_router.errors import (
    ConfigConflictError,
    ConfigEditError,
    ConfigError,
    ConfigFileError,
    ConfigNotFoundError,
)
from tppc_router.config.loader import load_settings
from tppc_router.masking import mask
from tppc_router.configfile.edits import (
    add_provider,
    find_provider,
    looks_masked,
    patch_provider,
    remove_provider,
    replace_providers,
    set_secret_key,
)

KEY_A = "sk-canary-store-a-11223344"
KEY_B = "sk-canary-store-b-55667788"
ENV = {"B_KEY": KEY_B}
TEXT = f"""\
# top
server:
  port: 8317   # the port

tppc:
  # models served
  models: [gpt-5, o3]
  providers:
    - name: alpha          # first
      base-url: "https://a.invalid/v1"
      api-key: {KEY_A}
      order: 1
    # the backup
    - name: beta
      base_url: 'https://b.invalid'
      api-key: os.environ/B_KEY

remote-management:
  allow-remote: false
"""

LAYOUTS = [
    TEXT,
    "tppc:\n  providers:\n  - name: a\n    base-url: https://a.invalid\n    api-key: k\n",
    ("---\ntppc:\n    models:\n        - gpt-5\n    providers:\n        - name: a\n          base-url: https://a.invalid\n"
    "          api-key: k\n"),
    "tppc: {models: [gpt-5], providers: [{name: a, base-url: 'https://a.invalid', api-key: k}]}\n",
    "# only comments\n# here\n",
    "",
]


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("B_KEY", KEY_B)


def edit(text: str, mutator: Any) -> str:
    doc = parse_document(text)
    mutator(doc)
    return dump_document(doc, text)


@pytest.mark.parametrize("text", LAYOUTS)
def test_untouched_document_dumps_byte_identical(text: str) -> None:
    """Parsing and dumping without an edit gives back the same bytes, whatever the indentation style."""
    assert edit(text, lambda doc: None) == text


def test_patch_changes_one_line_only() -> None:
    """A PATCH of one field changes exactly that line; the quote style stays."""
    new = edit(TEXT, lambda doc: patch_provider(doc, {"base-url": "https://a2.invalid/v1"}, ENV, name="alpha"))
    assert new == TEXT.replace('"https://a.invalid/v1"', '"https://a2.invalid/v1"')


def test_patch_finds_snake_case_keys_and_adds_new_fields_last() -> None:
    """A field spelled base_url in the file is the one changed; a new field goes after the others."""
    new = edit(TEXT, lambda doc: patch_provider(doc, {"base-url": "https://b2.invalid", "order": 2}, ENV, index=1))
    assert "      base_url: 'https://b2.invalid'\n      api-key: os.environ/B_KEY\n      order: 2\n\n" in new


@pytest.mark.parametrize("value", [mask(KEY_B), KEY_B, "os.environ/B_KEY", " os.environ/B_KEY "])
def test_env_reference_survives_masked_or_same_key(value: str) -> None:
    """The masked key, the resolved key, or the reference itself all keep ``os.environ/B_KEY``."""
    doc = parse_document(TEXT)
    assert patch_provider(doc, {"api-key": value}, ENV, name="beta") == []
    assert dump_document(doc, TEXT) == TEXT


def test_new_key_replaces_reference() -> None:
    """A different key replaces the reference."""
    new = edit(TEXT, lambda doc: patch_provider(doc, {"api-key": "sk-other-0000"}, ENV, name="beta"))
    assert "api-key: sk-other-0000" in new and "os.environ/B_KEY" not in new


@pytest.mark.parametrize("value", ["sk-x...1234", "********"])
def test_masked_value_that_is_not_the_stored_key_is_refused(value: str) -> None:
    """A value shaped like a mask but not this provider's mask is refused, never stored."""
    with pytest.raises(ConfigEditError) as info:
        patch_provider(parse_document(TEXT), {"api-key": value}, ENV, name="alpha")
    assert info.value.problems[0].startswith("tppc.providers[alpha].api-key: is a masked value")


def test_looks_masked() -> None:
    """Masks look masked; real keys do not."""
    assert looks_masked(mask(KEY_A)) and looks_masked("********")
    assert not looks_masked(KEY_A) and not looks_masked("os.environ/B_KEY")


def test_find_provider_exact_then_case_insensitive() -> None:
    """A name matches exactly first, then case-insensitively; unknown names and indexes are 404."""
    doc = parse_document(TEXT)
    assert find_provider(doc, name="beta") == 1 and find_provider(doc, name="BETA") == 1
    for kwargs in ({"name": "zeta"}, {"index": 2}, {"index": -1}):
        with pytest.raises(ConfigNotFoundError) as info:
            find_provider(doc, **kwargs)
        assert info.value.problems[0].startswith("tppc.providers[")


def test_add_then_remove_keeps_the_following_section_apart() -> None:
    """Adding a provider after the last one, and removing it again, leaves the file as it was."""
    added = edit(TEXT, lambda doc: add_provider(doc, {"name": "gamma", "base-url": "https://g.invalid"}, ENV))
    assert "      api-key: os.environ/B_KEY\n    - name: gamma\n      base-url: https://g.invalid\n\nremote" in added
    assert edit(added, lambda doc: remove_provider(doc, name="gamma")) == TEXT


def test_add_to_a_file_without_tppc_and_to_an_empty_flow_list() -> None:
    """A missing tppc section is created; an empty flow list turns into a block list."""
    assert yaml.safe_load(edit("server:\n  port: 1\n", lambda doc: add_provider(doc, {"name": "a"}, ENV))) == {
        "server": {"port": 1}, "tppc": {"providers": [{"name": "a"}]}}
    new = edit("tppc:\n  providers: []\n", lambda doc: add_provider(doc, {"name": "a", "order": 1}, ENV))
    assert new == "tppc:\n  providers:\n    - name: a\n      order: 1\n"  # the one default layout: offset 2


def test_add_to_comment_only_file_keeps_the_comments() -> None:
    """A file of comments only keeps them above the new content."""
    new = edit("# only comments\n", lambda doc: add_provider(doc, {"name": "a"}, ENV))
    assert new.startswith("# only comments\n") and yaml.safe_load(new) == {"tppc": {"providers": [{"name": "a"}]}}


def test_add_refuses_a_taken_name() -> None:
    """POST of a name that exists, in any case, is 409."""
    with pytest.raises(ConfigConflictError) as info:
        add_provider(parse_document(TEXT), {"name": " ALPHA "}, ENV)
    assert info.value.summary == "a provider named ' ALPHA ' already exists"


def test_replace_reorders_edits_in_place_and_keeps_keys() -> None:
    """PUT matches by name: kept entries keep their comments and keys; absent fields go; new ones are added."""
    providers = [
        {"name": "beta", "base-url": "https://b.invalid", "api-key": mask(KEY_B), "state": "closed"},
        {"name": "alpha", "base-url": "https://a.invalid/v1"},
        {"name": "gamma", "base-url": "https://g.invalid", "api-key": "sk-g-000000000"},
    ]
    doc = parse_document(TEXT)
    changed = replace_providers(doc, providers, ENV, models=["gpt-5"], set_models=True)
    new = dump_document(doc, TEXT)
    data = yaml.safe_load(new)
    assert [p["name"] for p in data["tppc"]["providers"]] == ["beta", "alpha", "gamma"]
    assert data["tppc"]["providers"][1] == {"name": "alpha", "base-url": "https://a.invalid/v1", "api-key": KEY_A}
    assert data["tppc"]["providers"][0]["api-key"] == "os.environ/B_KEY"
    assert data["tppc"]["models"] == ["gpt-5"] and "  models: [gpt-5]\n" in new
    assert "    - name: alpha          # first\n" in new
    assert "tppc.providers[alpha].order" in changed and "tppc.providers[gamma] (added)" in changed
    assert new.endswith("\n\nremote-management:\n  allow-remote: false\n")


def test_replace_with_empty_list_and_null_models() -> None:
    """PUT [] empties the list; models null removes the key (back to the default)."""
    data = yaml.safe_load(edit(TEXT, lambda doc: replace_providers(doc, [], ENV, models=None, set_models=True)))
    assert data["tppc"] == {"providers": []}


def test_set_secret_key_keeps_quotes() -> None:
    """The secret is replaced in place, keeping its quote style."""
    text = 'remote-management:\n  secret-key: "plain"\n'
    assert edit(text, lambda doc: set_secret_key(doc, "$2b$hash")) == 'remote-management:\n  secret-key: "$2b$hash"\n'


@given(st.text(st.characters(codec="utf-8"), max_size=40))
def test_any_string_reads_back_as_itself(value: str) -> None:
    """Whatever string a request sets, the loader's YAML reader reads back the same string."""
    doc = parse_document(TEXT)
    patch_provider(doc, {"name": value, "base-url": value}, ENV, name="beta")
    data = yaml.safe_load(dump_document(doc, TEXT))
    assert data["tppc"]["providers"][1]["name"] == value
    assert data["tppc"]["providers"][1]["base_url"] == value


@given(st.sampled_from(["yes", "No", "on", "OFF", "1:20", "0x1f", "~", "null", "1e3", "2001-01-01", "true", "1.5"]))
def test_yaml_11_lookalikes_are_quoted(value: str) -> None:
    """Strings that YAML 1.1 would read as bools, numbers, dates or null are quoted."""
    new = edit(TEXT, lambda doc: add_provider(doc, {"name": value, "order": 3}, ENV))
    assert yaml.safe_load(new)["tppc"]["providers"][-1] == {"name": value, "order": 3}


# -- the store -------------------------------------------------------------------------------------------


def test_propose_writes_nothing_and_commit_writes(tmp_path: Path) -> None:
    """propose validates without writing; commit writes and remembers the hash."""
    path = tmp_path / "c.yaml"
    path.write_text(TEXT)
    store = ConfigStore(path)
    proposal = store.propose(lambda doc: patch_provider(doc, {"order": 5}, os.environ, name="alpha"))
    assert path.read_text() == TEXT
    assert proposal.settings is not None and proposal.settings.tppc.providers[0].order == 5
    assert proposal.changed == ("tppc.providers[alpha].order",)
    store.commit(proposal.new_text, expected=proposal.old_text, document=proposal.document)
    assert path.read_text() == proposal.new_text
    assert store.known_hash == text_hash(proposal.new_text)
    assert load_settings(path) == proposal.settings


def test_cached_document_gives_the_same_text_as_a_fresh_parse(tmp_path: Path) -> None:
    """Edits on the document kept from the last commit give exactly what a fresh parse gives."""
    path = tmp_path / "c.yaml"
    path.write_text(TEXT)
    store = ConfigStore(path)
    fresh = TEXT
    for i in range(5):
        def change(doc: Any, i: int = i) -> list[str]:
            return patch_provider(doc, {"order": i, "base-url": f"https://a{i}.invalid"}, os.environ, index=i % 2)

        proposal = store.propose(change)
        store.commit(proposal.new_text, document=proposal.document)
        fresh = edit(fresh, change)
        assert path.read_text() == fresh


def test_invalid_proposal_raises_and_leaves_the_file(tmp_path: Path) -> None:
    """An edit the loader refuses raises ConfigError with field-path problems and writes nothing."""
    path = tmp_path / "c.yaml"
    path.write_text(TEXT)
    store = ConfigStore(path)
    with pytest.raises(ConfigError) as info:
        store.propose(lambda doc: patch_provider(doc, {"base-url": "nope"}, os.environ, name="alpha"))
    assert info.value.problems == ['tppc.providers[0].base-url: must be an http(s) URL with a host (provider "alpha")']
    assert path.read_text() == TEXT
    proposal = store.propose(lambda doc: patch_provider(doc, {"order": 2}, os.environ, name="alpha"))
    assert "base-url: \"https://a.invalid/v1\"" in proposal.new_text


def test_lone_surrogate_is_refused(tmp_path: Path) -> None:
    """A string no UTF-8 file can hold (a lone surrogate) is refused (422), not escaped into the file."""
    path = tmp_path / "c.yaml"
    path.write_text(TEXT)
    with pytest.raises(ConfigEditError) as info:
        ConfigStore(path).propose(lambda doc: patch_provider(doc, {"name": "a\ud800"}, os.environ, name="alpha"))
    assert info.value.problems == ["<body>: a string holds a lone UTF-16 surrogate"]
    assert path.read_text() == TEXT


def test_commit_refuses_when_the_file_changed_meanwhile(tmp_path: Path) -> None:
    """A hand edit between propose and commit makes commit refuse (409) instead of overwriting it."""
    path = tmp_path / "c.yaml"
    path.write_text(TEXT)
    store = ConfigStore(path)
    proposal = store.propose(lambda doc: patch_provider(doc, {"order": 5}, os.environ, name="alpha"))
    path.write_text(TEXT + "# hand edit\n")
    with pytest.raises(ConfigConflictError):
        store.commit(proposal.new_text, expected=proposal.old_text)
    assert path.read_text().endswith("# hand edit\n")


def test_broken_file_is_a_conflict(tmp_path: Path) -> None:
    """An edit on a file that is not YAML (a broken hand edit) is refused with 409."""
    path = tmp_path / "c.yaml"
    path.write_text("tppc: [\n")
    with pytest.raises(ConfigFileError) as info:
        ConfigStore(path).propose(lambda doc: [])
    assert info.value.problems[0].startswith("<yaml>:")


def test_memory_store_round_trips_settings() -> None:
    """A file-less store's document loads to the settings it was made from; references stay references."""
    settings = load_settings(text=TEXT, env=ENV)
    text = document_from_settings(settings)
    assert "api-key: os.environ/B_KEY" in text and KEY_B not in text
    assert load_settings(text=text, env=ENV) == settings
    store = ConfigStore.for_settings(settings)
    assert not store.persistent and repr(store) == "ConfigStore('<memory>')"
    proposal = store.propose(lambda doc: patch_provider(doc, {"order": 9}, os.environ, name="beta"))
    store.commit(proposal.new_text)
    assert store.read() == proposal.new_text


def test_no_key_in_reprs_or_error_text(tmp_path: Path) -> None:
    """Proposals, stores and config errors never show a key in their repr or message."""
    path = tmp_path / "c.yaml"
    path.write_text(TEXT)
    store = ConfigStore(path)
    proposal = store.propose(lambda doc: patch_provider(doc, {"order": 5}, os.environ, name="alpha"))
    with pytest.raises(ConfigError) as info:
        store.propose(lambda doc: patch_provider(doc, {"base-url": KEY_A, "api-key": ""}, os.environ, name="alpha"))
    for text in (repr(proposal), str(proposal), repr(store), str(info.value), repr(info.value)):
        assert KEY_A not in text and KEY_B not in text
