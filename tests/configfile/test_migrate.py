"""Migration from the legacy packycode: block to tppc:, and the atomic writer it uses."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml
from canaries import CANARY_BACKUP, CANARY_LEGACY, CANARY_PRIMARY, CANARY_THIRD, assert_no_canary
from hypothesis import given, settings
from hypothesis import strategies as st

from tppc_router.configfile.atomic import NEW_FILE_MODE, atomic_write_text, backup_path
from tppc_router.config.deployments import credential_chain
from tppc_router.errors import ConfigError
from tppc_router.config.loader import load_settings
from tppc_router.configfile.document import guess_indent
from tppc_router.configfile.migrate import (
    equivalence_problems,
    migrate_text,
    redact,
    secret_literals,
    unified_diff,
)

ENV = {"PRIMARY_API_KEY": CANARY_PRIMARY, "BACKUP_API_KEY": CANARY_BACKUP, "PACKY_KEY": CANARY_LEGACY}

CONFIG = f"""\
# tppc-router config
tppc:
  # served by every provider
  models: [gpt-5]
  providers:
    - name: primary   # the main one
      base-url: "https://primary.example/v1"
      api-key: os.environ/PRIMARY_API_KEY
    - name: backup
      base-url: 'https://backup.example/v1'
      api-key: ${{BACKUP_API_KEY}}

# legacy block, kept for rollback
packycode:
  enabled: true   # switch
  base-url: https://packy.example/v1
  requires-openai-auth: true
  wire-api: responses
  privacy:
    disable-response-storage: true
  defaults:
    model: gpt-5
    model-reasoning-effort: high
  credentials:
    openai-api-key: {CANARY_LEGACY}

router:
  cooldown: 30   # seconds
"""


def chain(text: str, env: dict[str, str] | None = None) -> list[tuple[str, str, str, int]]:
    settings = load_settings(text=text, env=ENV if env is None else env)
    return [(c.provider, c.base_url, c.api_key.get_secret_value(), c.priority) for c in credential_chain(settings)]


def removed_and_added(old: str, new: str) -> tuple[list[str], list[str]]:
    lines = unified_diff(old, new, "config.yaml").splitlines()[2:]
    return [line[1:] for line in lines if line.startswith("-")], [line[1:] for line in lines if line.startswith("+")]


# ------------------------------------------------------------------ what changes


def test_enabled_block_becomes_first_provider() -> None:
    """The block becomes provider 0 (name, base-url, key as written, enabled) and is disabled."""
    result = migrate_text(CONFIG)
    assert result.changed
    data = yaml.safe_load(result.text)
    assert data["tppc"]["providers"][0] == {
        "name": "packycode",
        "enabled": True,
        "base-url": "https://packy.example/v1",
        "api-key": CANARY_LEGACY,
    }
    assert [p["name"] for p in data["tppc"]["providers"]] == ["packycode", "primary", "backup"]
    assert data["packycode"]["enabled"] is False
    assert data["packycode"]["credentials"] == {"openai-api-key": CANARY_LEGACY}  # kept for rollback


def test_only_the_switch_line_is_rewritten() -> None:
    """Apart from the new entry, the one changed line is the block's enabled switch."""
    result = migrate_text(CONFIG)
    removed, added = removed_and_added(CONFIG, result.text)
    assert removed == ["  enabled: true   # switch"]
    assert added == [
        "    - name: packycode",
        "      enabled: true",
        "      base-url: https://packy.example/v1",
        f"      api-key: {CANARY_LEGACY}",
        "  enabled: false  # switch",
    ]


def test_comments_quotes_and_key_order_survive() -> None:
    """Every comment, quoted value and top-level key keeps its place."""
    new = migrate_text(CONFIG).text
    for line in CONFIG.splitlines():
        if "#" in line and "enabled" not in line or "'" in line or '"' in line:
            assert line in new.splitlines(), line
    assert list(yaml.safe_load(new)) == list(yaml.safe_load(CONFIG))


def test_env_reference_is_kept_as_written() -> None:
    """A referenced legacy key moves as the reference, never as its value."""
    text = CONFIG.replace(CANARY_LEGACY, "${PACKY_KEY}")
    new = migrate_text(text).text
    assert "      api-key: ${PACKY_KEY}" in new.splitlines()
    assert CANARY_LEGACY not in new


def test_openai_api_key_fallback_becomes_a_reference() -> None:
    """A block that used OPENAI_API_KEY gets a provider that refers to it explicitly."""
    text = CONFIG.replace(f"  credentials:\n    openai-api-key: {CANARY_LEGACY}\n", "")
    result = migrate_text(text)
    assert yaml.safe_load(result.text)["tppc"]["providers"][0]["api-key"] == "os.environ/OPENAI_API_KEY"
    assert any("OPENAI_API_KEY" in note for note in result.notes)
    env = {**ENV, "OPENAI_API_KEY": CANARY_THIRD}
    assert chain(text, env) == chain(result.text, env)


def test_block_without_any_key_is_refused() -> None:
    """A block with no key and requires-openai-auth false can't become a provider."""
    text = CONFIG.replace(f"  credentials:\n    openai-api-key: {CANARY_LEGACY}\n", "").replace(
        "requires-openai-auth: true", "requires-openai-auth: false"
    )
    with pytest.raises(ConfigError) as caught:
        migrate_text(text)
    assert caught.value.problems[0].startswith("packycode.credentials.openai-api-key: the block has no key")


def test_existing_packycode_provider_is_refused() -> None:
    """A tppc provider already called packycode (any case) stops the migration."""
    text = CONFIG.replace("name: backup", "name: PackyCode")
    with pytest.raises(ConfigError) as caught:
        migrate_text(text)
    assert caught.value.problems == [
        (
            'tppc.providers[1].name: a provider named "PackyCode" already exists;'
            " rename or remove it, then run migrate again"
        )
    ]
    assert_no_canary(caught.value)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("tppc:\n  models: [gpt-5]\n", "there is no packycode block"),
        ("packycode:\n  base-url: https://p.example\n", "the packycode block is already disabled"),
        (CONFIG.replace("enabled: true   # switch", "enabled: false"), "the packycode block is already disabled"),
    ],
)
def test_nothing_to_migrate(text: str, reason: str) -> None:
    """No block, or a disabled one, changes nothing and says why."""
    result = migrate_text(text)
    assert (result.changed, result.text, result.notes) == (False, text, (reason,))


def test_second_run_changes_nothing() -> None:
    """Migrating a migrated file is a no-op."""
    once = migrate_text(CONFIG).text
    twice = migrate_text(once)
    assert (twice.changed, twice.text) == (False, once)


def test_same_providers_before_and_after() -> None:
    """Before and after load to the same providers, keys and priorities (credential_chain)."""
    new = migrate_text(CONFIG).text
    before = chain(CONFIG)
    assert before == chain(new)
    assert [name for name, *_ in before] == ["packycode", "primary", "backup"]
    assert equivalence_problems(CONFIG, new, ENV) == []


def test_equivalence_check_works_without_the_keys() -> None:
    """The before/after check fills unset variables with placeholders."""
    assert equivalence_problems(CONFIG, migrate_text(CONFIG).text, {}) == []


def test_equivalence_check_spots_a_changed_order() -> None:
    """A text whose providers come in another order is reported, by name and priority only."""
    swapped = (
        CONFIG.replace("name: primary", "name: tmp")
        .replace("name: backup", "name: primary")
        .replace("name: tmp", "name: backup")
    )
    found = equivalence_problems(CONFIG, swapped, ENV)
    assert len(found) == 1 and found[0].startswith("migrate: the providers would change")
    assert_no_canary(found)


# ------------------------------------------------------------------ order, models, warnings


def test_explicit_orders_get_a_lower_order() -> None:
    """With explicit orders the new provider gets one below all of them."""
    text = CONFIG.replace("api-key: os.environ/PRIMARY_API_KEY", "api-key: os.environ/PRIMARY_API_KEY\n      order: 5")
    text = text.replace("api-key: ${BACKUP_API_KEY}", "api-key: ${BACKUP_API_KEY}\n      order: 7")
    result = migrate_text(text)
    assert yaml.safe_load(result.text)["tppc"]["providers"][0]["order"] == 4
    assert chain(text) == chain(result.text)


def test_positional_orders_are_pinned_when_orders_are_mixed() -> None:
    """A provider ordered by position gets that order written, so inserting does not shift it."""
    text = CONFIG.replace("api-key: os.environ/PRIMARY_API_KEY", "api-key: os.environ/PRIMARY_API_KEY\n      order: 2")
    result = migrate_text(text)
    providers = yaml.safe_load(result.text)["tppc"]["providers"]
    assert [(p["name"], p.get("order")) for p in providers] == [("packycode", 1), ("primary", 2), ("backup", 2)]
    assert any("backup" in note for note in result.notes)
    assert chain(text) == chain(result.text)


def test_missing_model_is_added_with_a_note() -> None:
    """The legacy model joins tppc.models when it isn't there."""
    text = CONFIG.replace("    model: gpt-5\n", "    model: gpt-5-codex\n")
    result = migrate_text(text)
    assert "  models: [gpt-5, gpt-5-codex]" in result.text.splitlines()
    assert any('added "gpt-5-codex" to tppc.models' in note for note in result.notes)


def test_models_list_written_when_absent() -> None:
    """Without tppc.models the default list is written out with the legacy model."""
    text = CONFIG.replace("  # served by every provider\n  models: [gpt-5]\n", "").replace(
        "    model: gpt-5\n", "    model: gpt-5-codex\n"
    )
    assert yaml.safe_load(migrate_text(text).text)["tppc"]["models"] == ["gpt-5", "gpt-5-codex"]


def test_block_style_models_list_keeps_its_trailing_comment() -> None:
    """Appending to a block list keeps the comment that followed its last item after the list."""
    text = CONFIG.replace("  models: [gpt-5]\n", "  models:\n    - gpt-5   # default\n\n  # providers next\n").replace(
        "    model: gpt-5\n", "    model: o3\n"
    )
    new = migrate_text(text).text
    assert "    - gpt-5   # default\n    - o3\n\n  # providers next\n  providers:\n" in new


def test_effort_and_storage_differences_warn() -> None:
    """A non-high effort or response storage on gives a warning about the hard-coded defaults."""
    text = CONFIG.replace("model-reasoning-effort: high", "model-reasoning-effort: medium").replace(
        "disable-response-storage: true", "disable-response-storage: false"
    )
    warnings = migrate_text(text).warnings
    assert len(warnings) == 2
    assert "medium" in warnings[0] and '"high"' in warnings[0]
    assert "store: false" in warnings[1]
    assert migrate_text(CONFIG).warnings == ()


@pytest.mark.parametrize("tppc", ["", "tppc:\n", "tppc:\n  models: [gpt-5]\n"])
def test_tppc_section_created_when_needed(tppc: str) -> None:
    """A file with only the legacy block (or an empty tppc:) gets a tppc.providers list."""
    text = (
        tppc
        + "packycode:\n  enabled: true\n  base-url: https://packy.example\n"
        + f"  credentials:\n    openai-api-key: {CANARY_LEGACY}\n"
    )
    new = migrate_text(text).text
    assert [p["name"] for p in yaml.safe_load(new)["tppc"]["providers"]] == ["packycode"]
    assert chain(text) == chain(new)


# ------------------------------------------------------------------ indentation

STYLES = {
    (
        2,
        4,
        2,
    ): "tppc:\n  providers:\n    - name: primary\n      base-url: https://primary.example\n      api-key: {k}\n",
    (2, 2, 0): "tppc:\n  providers:\n  - name: primary\n    base-url: https://primary.example\n    api-key: {k}\n",
    (
        4,
        6,
        4,
    ): (
        "tppc:\n    providers:\n        - name: primary\n"
        "          base-url: https://primary.example\n          api-key: {k}\n"
    ),
}


@pytest.mark.parametrize("style", list(STYLES))
def test_indentation_as_found(style: tuple[int, int, int]) -> None:
    """The file's indentation is guessed and kept: only the new entry and the switch change."""
    text = (
        STYLES[style].format(k=CANARY_PRIMARY)
        + "packycode:\n"
        + "".join(
            " " * style[0] + line + "\n"
            for line in (
                "enabled: true",
                "base-url: https://packy.example",
                "credentials:",
                f"{' ' * style[0]}openai-api-key: x-legacy",
            )
        )
    )
    assert guess_indent(text) == style
    new = migrate_text(text).text
    removed, added = removed_and_added(text, new)
    assert removed == [" " * style[0] + "enabled: true"]
    entry = STYLES[style].splitlines()[2:]
    assert added[0] == entry[0].replace("primary", "packycode")
    assert added[1].index("enabled") == entry[1].index("base-url")


def test_guess_indent_defaults() -> None:
    """A file without nested blocks gets the usual mapping=2, sequence=4, offset=2."""
    assert guess_indent("a: 1\n") == (2, 4, 2)


# ------------------------------------------------------------------ property: same providers, any orders

_provider_specs = st.lists(st.tuples(st.booleans(), st.none() | st.integers(-2, 6)), max_size=5)


@settings(deadline=None)
@given(specs=_provider_specs, legacy_model=st.sampled_from(["gpt-5", "gpt-5-codex"]), with_models=st.booleans())
def test_migration_never_changes_the_providers(
    specs: list[tuple[bool, int | None]], legacy_model: str, with_models: bool
) -> None:
    """For any mix of enabled flags and orders, the migrated file loads to the same chain."""
    lines = ["tppc:"] + (["  models: [gpt-5]"] if with_models else []) + ["  providers:"]
    for i, (enabled, order) in enumerate(specs):
        lines += [
            f"    - name: p{i}",
            f"      enabled: {str(enabled).lower()}",
            f"      base-url: https://p{i}.example",
            f"      api-key: {CANARY_PRIMARY}-{i}",
        ]
        lines += [f"      order: {order}"] if order is not None else []
    if not specs:
        lines[-1] = "  providers: []"
    lines += [
        "packycode:",
        "  enabled: true",
        "  base-url: https://packy.example",
        "  defaults:",
        f"    model: {legacy_model}",
        "  credentials:",
        f"    openai-api-key: {CANARY_LEGACY}",
    ]
    text = "\n".join(lines) + "\n"
    result = migrate_text(text)
    assert chain(text) == chain(result.text)
    assert chain(result.text)[0][:2] == ("packycode", "https://packy.example")
    assert not migrate_text(result.text).changed


# ------------------------------------------------------------------ secrets in a diff


def test_diff_can_be_redacted() -> None:
    """Literal keys written in the file are found and masked; references are left alone."""
    secrets = secret_literals(CONFIG + f"server:\n  api-keys: [{CANARY_THIRD}, os.environ/GATEWAY]\n")
    assert secrets == {CANARY_LEGACY, CANARY_THIRD}
    shown = redact(unified_diff(CONFIG, migrate_text(CONFIG).text, "c.yaml"), secrets)
    assert_no_canary(shown)
    assert "api-key: sk-c...9b1d" in shown
    assert "os.environ/PRIMARY_API_KEY" in shown


def test_unified_diff_labels() -> None:
    """The diff names the file before and after."""
    diff = unified_diff("a: 1", "a: 2\n", "config.yaml")
    assert diff.splitlines()[:2] == ["--- config.yaml", "+++ config.yaml (migrated)"]


# ------------------------------------------------------------------ atomic writes


def _files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_atomic_write_keeps_mode_and_backup(tmp_path: Path) -> None:
    """The new content replaces the old with the same mode; the old one is kept as .bak."""
    path = tmp_path / "config.yaml"
    path.write_text("old\n")
    path.chmod(0o640)
    saved = atomic_write_text(path, "new\n", backup=True)
    assert saved == backup_path(path) == tmp_path / "config.yaml.bak"
    assert (path.read_text(), saved.read_text()) == ("new\n", "old\n")
    assert stat.S_IMODE(path.stat().st_mode) == stat.S_IMODE(saved.stat().st_mode) == 0o640
    assert _files(tmp_path) == ["config.yaml", "config.yaml.bak"]


def test_atomic_write_new_file_is_private(tmp_path: Path) -> None:
    """A file that did not exist is created owner-only, with no backup."""
    path = tmp_path / "new.yaml"
    assert atomic_write_text(path, "x: 1\n", backup=True) is None
    assert stat.S_IMODE(path.stat().st_mode) == NEW_FILE_MODE
    assert _files(tmp_path) == ["new.yaml"]


def test_atomic_write_failure_leaves_original(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """If the final rename fails, the original is untouched and no temporary file is left."""
    path = tmp_path / "config.yaml"
    path.write_text("old\n")

    def fail(*args: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError):
        atomic_write_text(path, "new\n")
    assert path.read_text() == "old\n"
    assert _files(tmp_path) == ["config.yaml"]


def test_atomic_write_follows_symlink(tmp_path: Path) -> None:
    """Writing through a symlink replaces the target and keeps the link."""
    target = tmp_path / "real.yaml"
    target.write_text("old\n")
    link = tmp_path / "config.yaml"
    link.symlink_to(target)
    atomic_write_text(link, "new\n")
    assert link.is_symlink() and target.read_text() == "new\n"


def test_duplicate_key_is_a_config_error_without_the_value() -> None:
    """A YAML duplicate key stops the migration with its line, never quoting the value."""
    text = CONFIG.replace(f"    openai-api-key: {CANARY_LEGACY}\n", f"    openai-api-key: {CANARY_LEGACY}\n" * 2)
    with pytest.raises(ConfigError) as caught:
        migrate_text(text)
    assert caught.value.problems == ["<yaml>: duplicate key at line 26, column 5"]
    assert_no_canary(caught.value)
