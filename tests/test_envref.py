"""The one env-reference syntax: ``os.environ/NAME`` and ``${NAME}``, used by config, migration and masking."""

from __future__ import annotations

import pytest

from tppc_router.config.sanitize import resolve_key
from tppc_router.envref import env_reference, find_env_references, parse_env_reference
from tppc_router.masking import SecretRegistry


@pytest.mark.parametrize(("text", "variable"), [
    ("os.environ/OPENAI_API_KEY", "OPENAI_API_KEY"),
    ("${PRIMARY_KEY}", "PRIMARY_KEY"),
    ("  os.environ/_X1  ", "_X1"),
])
def test_whole_text_reference_names_its_variable(text: str, variable: str) -> None:
    """A text that is exactly one reference (spaces aside) names its variable."""
    assert parse_env_reference(text) == variable


@pytest.mark.parametrize("text", [
    "sk-literal-key-0123456789", "$NAME", "env/NAME", "os.environ/", "${1BAD}", "os.environ/A B", "x ${A}", "${A",
])
def test_anything_else_is_not_a_reference(text: str) -> None:
    """Literal keys, partial or look-alike spellings are not references."""
    assert parse_env_reference(text) is None


def test_references_found_anywhere_in_text() -> None:
    """References inside a larger text are found in order, repeats included."""
    text = "api-key: os.environ/A\nkey: ${B}  # and os.environ/A again\nother: $C"
    assert list(find_env_references(text)) == ["A", "B", "A"]


def test_canonical_spelling_round_trips() -> None:
    """The canonical spelling is LiteLLM's ``os.environ/NAME`` and parses back to the variable."""
    assert env_reference("K") == "os.environ/K"
    assert parse_env_reference(env_reference("K")) == "K"


def test_config_resolution_and_masking_agree_on_the_syntax() -> None:
    """A ``${NAME}`` key is resolved by config and reported canonically; masking never treats it as a secret."""
    assert resolve_key("${TPPC_TEST_KEY}", {"TPPC_TEST_KEY": " value-0123456789 "}) == (
        "value-0123456789", "os.environ/TPPC_TEST_KEY", None)
    assert resolve_key("${TPPC_TEST_KEY}", {}) == (None, "os.environ/TPPC_TEST_KEY", "TPPC_TEST_KEY")
    registry = SecretRegistry()
    registry.add("${TPPC_TEST_KEY_LONG_NAME}")
    registry.add("os.environ/TPPC_TEST_KEY_LONG_NAME")
    assert list(registry) == []
