"""Sanitize and validate: trimming, key references, every problem at once, never a key in a message."""

from __future__ import annotations

import string
from typing import Any

import pytest
from canaries import CANARY_BACKUP, CANARY_LEGACY, CANARY_OPENAI, CANARY_PRIMARY, assert_no_canary
from hypothesis import given, settings
from hypothesis import strategies as st

from tppc_router.config import Settings
from tppc_router.errors import ConfigError
from tppc_router.config.loader import settings_from_data
from tppc_router.masking import mask_text
from tppc_router.config.sanitize import is_http_url, resolve_key


def provider(
    name: str = "primary", url: str = "https://primary.example/v1", key: str | None = CANARY_PRIMARY, **extra: Any
) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": name, "base-url": url, **extra}
    if key is not None:
        entry["api-key"] = key
    return entry


def load(
    *providers: dict[str, Any], env: dict[str, str] | None = None, models: list[str] | None = None, **sections: Any
) -> Settings:
    tppc: dict[str, Any] = {"providers": list(providers)}
    if models is not None:
        tppc["models"] = models
    return settings_from_data({"tppc": tppc, **sections}, env=env or {})


def problems(
    *providers: dict[str, Any], env: dict[str, str] | None = None, models: list[str] | None = None, **sections: Any
) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(*providers, env=env, models=models, **sections)
    assert_no_canary(caught.value, caught.value.problems)
    return caught.value.problems


LEGACY = {"enabled": True, "base-url": "https://packy.example/v1", "credentials": {"openai-api-key": CANARY_LEGACY}}

# ------------------------------------------------------------------ trimming and references


def test_trims_name_url_and_key() -> None:
    """Names, URLs and keys lose surrounding whitespace; base-url loses its trailing slash."""
    settings = load(provider("  primary\t", " https://primary.example/v1/ \n", f"  {CANARY_PRIMARY}  "))
    p = settings.tppc.providers[0]
    assert (p.name, p.base_url) == ("primary", "https://primary.example/v1")
    assert p.api_key is not None and p.api_key.get_secret_value() == CANARY_PRIMARY
    assert p.key_source == "literal"


@pytest.mark.parametrize("reference", ["os.environ/PRIMARY_KEY", "${PRIMARY_KEY}", "  ${PRIMARY_KEY} "])
def test_key_references_resolve_from_env(reference: str) -> None:
    """``os.environ/NAME`` and ``${NAME}`` take the key from the environment, trimmed."""
    p = load(provider(key=reference), env={"PRIMARY_KEY": f" {CANARY_PRIMARY} "}).tppc.providers[0]
    assert p.api_key is not None and p.api_key.get_secret_value() == CANARY_PRIMARY
    assert p.key_source == "os.environ/PRIMARY_KEY"


def test_missing_variable_names_variable_and_provider() -> None:
    """An unset (or blank) variable is named, with the provider that needs it."""
    expected = ['tppc.providers[0].api-key: environment variable PRIMARY_KEY is not set (provider "primary")']
    assert problems(provider(key="os.environ/PRIMARY_KEY")) == expected
    assert problems(provider(key="${PRIMARY_KEY}"), env={"PRIMARY_KEY": "  "}) == expected


def test_resolve_key_reports_source_and_missing_variable() -> None:
    """resolve_key returns (value, source, missing variable) for literals and references."""
    assert resolve_key(f" {CANARY_PRIMARY} ", {}) == (CANARY_PRIMARY, "literal", None)
    assert resolve_key("os.environ/K", {"K": CANARY_BACKUP}) == (CANARY_BACKUP, "os.environ/K", None)
    assert resolve_key("${K}", {}) == (None, "os.environ/K", "K")
    assert resolve_key("$K", {"K": "x"}) == ("$K", "literal", None)  # only the two documented forms


def test_disabled_provider_may_be_incomplete() -> None:
    """A disabled provider needs no name, URL or key, and its unset variable is no problem."""
    settings = load(
        provider(CANARY_PRIMARY.replace("sk-", "p-")),
        {"enabled": False},
        {"enabled": False, "name": "spare", "api-key": "os.environ/UNSET_KEY"},
    )
    assert [p.enabled for p in settings.tppc.providers] == [True, False, False]
    assert settings.tppc.providers[2].api_key is None


def test_every_problem_at_once_one_line_each() -> None:
    """Every problem is reported in one go, one line each, starting with its field path."""
    found = problems(
        provider("", "https://a.example"),
        provider("b c", "ftp://b.example"),
        provider("dup", "https://c.example", key="os.environ/NOPE"),
        provider("DUP", "https://d.example", key=""),
        models=[],
    )
    paths = [line.split(":")[0] for line in found]
    assert paths == [
        "tppc.providers[2].api-key",
        "tppc.models",
        "tppc.providers[0].name",
        "tppc.providers[1].name",
        "tppc.providers[1].base-url",
        "tppc.providers[3].name",
        "tppc.providers[3].api-key",
    ]
    assert all("\n" not in line for line in found)


def test_duplicate_names_are_case_insensitive() -> None:
    """Two enabled providers whose names differ only by case collide."""
    found = problems(provider("Primary"), provider("pRIMARY", "https://other.example"))
    assert found == [
        (
            "tppc.providers[1].name: duplicate name (case-insensitive), already used by tppc.providers[0]"
            ' (provider "pRIMARY")'
        )
    ]


def test_disabled_duplicate_is_refused() -> None:
    """A disabled provider may not share a name (case-insensitive) with another one either."""
    assert problems(provider("primary"), provider("PRIMARY", enabled=False)) == [
        "tppc.providers[1].name: duplicate name (case-insensitive), already used by tppc.providers[0]"
        ' (provider "PRIMARY")'
    ]


def test_disabled_provider_base_url_must_still_be_a_url() -> None:
    """A disabled provider may leave base-url out, but one it gives must be an http(s) URL."""
    assert problems(provider(), {"enabled": False, "name": "spare", "base-url": "ftp://x"}) == [
        "tppc.providers[1].base-url: must be an http(s) URL with a host, even while disabled (provider \"spare\")"
    ]


def test_models_must_be_names_without_slash() -> None:
    """Model names are non-empty, free of '/', and unique."""
    assert problems(provider(), models=["gpt-5", "a/b", " ", "GPT-5"]) == [
        "tppc.models[1]: must be a non-empty model name without '/'",
        "tppc.models[2]: must be a non-empty model name without '/'",
        "tppc.models: duplicate model name",
    ]


def test_key_never_in_messages() -> None:
    """A key sitting in a broken provider never reaches a message."""
    found = problems(provider("bad name", CANARY_BACKUP, CANARY_PRIMARY))
    assert found == [
        """tppc.providers[0].name: must not contain '/' or whitespace (provider "bad name")""",
        'tppc.providers[0].base-url: must be an http(s) URL with a host (provider "bad name")',
    ]


# ------------------------------------------------------------------ the legacy block


def test_legacy_block_needs_a_key_when_auth_required() -> None:
    """requires-openai-auth with no key and no OPENAI_API_KEY is a problem."""
    legacy = {**LEGACY, "credentials": {}}
    assert problems(packycode=legacy) == [
        "packycode.credentials.openai-api-key: required when requires-openai-auth is true (or set OPENAI_API_KEY)"
    ]
    assert load(packycode={**legacy, "requires-openai-auth": False}).packycode.enabled


def test_legacy_block_falls_back_to_openai_api_key() -> None:
    """With no key written, the legacy block takes OPENAI_API_KEY and says so in key_source."""
    legacy = load(packycode={**LEGACY, "credentials": {}}, env={"OPENAI_API_KEY": CANARY_OPENAI}).packycode
    assert legacy.credentials.openai_api_key is not None
    assert legacy.credentials.openai_api_key.get_secret_value() == CANARY_OPENAI
    assert legacy.key_source == "os.environ/OPENAI_API_KEY"


def test_legacy_written_key_wins_over_openai_api_key() -> None:
    """A key written in the block (or referenced) is used even when OPENAI_API_KEY is set."""
    legacy = load(packycode=LEGACY, env={"OPENAI_API_KEY": CANARY_OPENAI}).packycode
    assert legacy.credentials.openai_api_key is not None
    assert legacy.credentials.openai_api_key.get_secret_value() == CANARY_LEGACY
    assert legacy.key_source == "literal"


def test_legacy_wire_api_and_effort_are_checked() -> None:
    """wire-api must be responses; reasoning effort one of low/medium/high (case and spaces ignored)."""
    found = problems(packycode={**LEGACY, "wire-api": "chat", "defaults": {"model-reasoning-effort": "max"}})
    assert found == [
        'packycode.wire-api: must be "responses" (got "chat")',
        'packycode.defaults.model-reasoning-effort: must be one of low, medium, high (got "max")',
    ]
    settings = load(packycode={**LEGACY, "defaults": {"model-reasoning-effort": " HIGH "}})
    assert settings.packycode.defaults.model_reasoning_effort == "high"


def test_legacy_block_missing_variable_is_named() -> None:
    """An unset reference in the enabled legacy block names the variable."""
    legacy = {**LEGACY, "credentials": {"openai-api-key": "${PACKY_KEY}"}}
    assert problems(packycode=legacy) == [
        "packycode.credentials.openai-api-key: environment variable PACKY_KEY is not set"
    ]


def test_legacy_disabled_may_be_incomplete() -> None:
    """A disabled legacy block is not checked."""
    load(provider(), packycode={"enabled": False, "wire-api": "chat", "base-url": ""})


def test_enabled_legacy_block_reserves_its_name() -> None:
    """With the legacy block on, no tppc provider may be called packycode."""
    found = problems(provider("PackyCode"), packycode=LEGACY)
    assert found == [
        (
            "tppc.providers[0].name: duplicate name (case-insensitive), already used by the packycode legacy block"
            ' (provider "PackyCode")'
        )
    ]


# ------------------------------------------------------------------ properties

_hosts = st.from_regex(r"[a-z][a-z0-9-]{0,15}(\.[a-z][a-z0-9-]{0,10}){0,2}\.[a-z]{2,6}", fullmatch=True)
_paths = st.from_regex(r"(/[A-Za-z0-9_.-]{1,8}){0,3}", fullmatch=True)
_padding = st.text(alphabet=" \t\n\r", max_size=3)
_names = st.from_regex(r"[A-Za-z][A-Za-z0-9_.-]{0,20}", fullmatch=True)


@settings(deadline=None)
@given(
    scheme=st.sampled_from(["http", "https"]),
    host=_hosts,
    path=_paths,
    slashes=st.integers(0, 3),
    left=_padding,
    right=_padding,
)
def test_padded_url_sanitizes_to_stripped(
    scheme: str, host: str, path: str, slashes: int, left: str, right: str
) -> None:
    """Any valid URL padded with whitespace and trailing slashes sanitizes to the bare URL."""
    url = f"{scheme}://{host}{path}"
    settings = load(provider(url=f"{left}{url}{'/' * slashes}{right}"))
    assert settings.tppc.providers[0].base_url == url


@settings(deadline=None)
@given(
    scheme=st.from_regex(r"[a-z][a-z0-9+.-]{0,8}", fullmatch=True).filter(lambda s: s not in ("http", "https")),
    host=_hosts,
)
def test_other_schemes_are_always_rejected(scheme: str, host: str) -> None:
    """Every scheme but http and https is refused for an enabled provider."""
    assert not is_http_url(f"{scheme}://{host}")
    assert problems(provider(url=f"{scheme}://{host}/v1")) == [
        'tppc.providers[0].base-url: must be an http(s) URL with a host (provider "primary")'
    ]


@settings(deadline=None)
@given(name=_names, flips=st.lists(st.booleans(), min_size=1), left=_padding, right=_padding)
def test_names_differing_by_case_are_duplicates(name: str, flips: list[bool], left: str, right: str) -> None:
    """A second name equal to the first but for case (and padding) is always a duplicate."""
    other = "".join(c.swapcase() if flips[i % len(flips)] else c for i, c in enumerate(name))
    found = problems(provider(name), provider(f"{left}{other}{right}", "https://other.example", CANARY_BACKUP))
    assert found == [
        (
            "tppc.providers[1].name: duplicate name (case-insensitive), already used by tppc.providers[0]"
            f' (provider "{other}")'
        )
    ]


@settings(deadline=None)
@given(name=_names, left=_padding, right=_padding)
def test_padded_names_are_trimmed(name: str, left: str, right: str) -> None:
    """Whitespace around a name never survives sanitize."""
    assert load(provider(f"{left}{name}{right}")).tppc.providers[0].name == name


@settings(deadline=None)
@given(
    secret=st.text(alphabet=string.ascii_letters + string.digits + "-_", min_size=12, max_size=40),
    url=st.sampled_from(["ftp://x", "", "https://"]),
)
def test_no_key_in_any_problem(secret: str, url: str) -> None:
    """Whatever the key, problems about its provider never contain it."""
    key = "sk-canary-" + secret
    found = problems(provider("x y", url, key), provider("X Y", url, f" {key} "), packycode={**LEGACY, "base-url": url})
    assert any("base-url" in line for line in found)
    assert not [line for line in found if key in line]


def test_gateway_key_references_resolve() -> None:
    """server.api-keys takes os.environ/NAME like provider keys; an unset one is a problem."""
    server = {"api-keys": ["os.environ/GATEWAY_KEY", f" {CANARY_BACKUP} "]}
    settings = load(provider(), server=server, env={"GATEWAY_KEY": CANARY_OPENAI})
    assert [k.get_secret_value() for k in settings.server.api_keys] == [CANARY_OPENAI, CANARY_BACKUP]
    assert problems(provider(), server=server) == ["server.api-keys[0]: environment variable GATEWAY_KEY is not set"]


def test_references_are_not_scrubbed_as_secrets() -> None:
    """Loading a reference registers the key it resolves to, never the reference text itself."""
    load(provider(key="os.environ/PRIMARY_KEY"), env={"PRIMARY_KEY": CANARY_PRIMARY})
    assert mask_text("key from os.environ/PRIMARY_KEY and ${PRIMARY_KEY}") == (
        "key from os.environ/PRIMARY_KEY and ${PRIMARY_KEY}"
    )
    assert mask_text(f"leaked {CANARY_PRIMARY}") == "leaked sk-c...1e5b"


def test_port_out_of_range_is_not_a_url() -> None:
    """A base-url with a port above 65535 is rejected, not accepted and failed at request time."""
    from tppc_router.config.sanitize import is_http_url

    assert not is_http_url("https://y.example.com:99999/v1")
    assert is_http_url("https://y.example.com:8443/v1")
