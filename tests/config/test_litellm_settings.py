"""The ``litellm-settings:`` section: checked by validate, imported by serve at start-up only."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tppc_router.config.litellm_settings import apply_litellm_settings, resolve
from tppc_router.config.loader import settings_from_data
from tppc_router.config.schema import LitellmSettingsSection
from tppc_router.errors import ConfigError

LOGGER_MODULE = '''
from litellm.integrations.custom_logger import CustomLogger

class Recorder(CustomLogger):
    pass

recorder = Recorder()
not_a_logger = 42

def on_success(kwargs, response, start, end):
    pass
'''


def test_the_proxys_keys_are_accepted_as_written() -> None:
    """callbacks, success_callback, failure_callback and drop_params load in snake_case and kebab-case."""
    settings = settings_from_data({"litellm-settings": {"callbacks": ["my_callbacks.handler"],
                                                        "success-callback": ["langfuse"], "drop_params": True}}, env={})
    section = settings.litellm_settings
    assert (section.callbacks, section.success_callback, section.drop_params) == (
        ["my_callbacks.handler"], ["langfuse"], True)


def test_an_unknown_key_or_a_bad_reference_is_a_config_error_naming_it() -> None:
    """A key the section does not have, and an entry that is no reference, are reported with their path."""
    with pytest.raises(ConfigError) as caught:
        settings_from_data({"litellm-settings": {"callbacks": ["not a/reference"], "cache": True}}, env={})
    text = "\n".join(caught.value.problems)
    assert "litellm_settings.cache" in text or "litellm-settings.cache" in text
    assert "litellm-settings.callbacks[0]" in text


def test_references_are_imported_from_the_config_directory(tmp_path: Path) -> None:
    """module.attribute resolves next to the config file (as the LiteLLM proxy does); names stay names."""
    (tmp_path / "tppc_test_loggers_a.py").write_text(textwrap.dedent(LOGGER_MODULE), encoding="utf-8")
    section = LitellmSettingsSection(callbacks=["tppc_test_loggers_a.recorder"],
                                     success_callback=["tppc_test_loggers_a.on_success", "langfuse"])
    resolved = resolve(section, base=tmp_path, is_logger=lambda value: type(value).__name__ == "Recorder")
    assert type(resolved["callbacks"][0]).__name__ == "Recorder"
    assert callable(resolved["success_callback"][0]) and resolved["success_callback"][1] == "langfuse"


def test_every_unusable_reference_is_reported_and_nothing_applied(tmp_path: Path) -> None:
    """A missing module, a missing attribute and a value that is no logger are all listed at once."""
    (tmp_path / "tppc_test_loggers_b.py").write_text(textwrap.dedent(LOGGER_MODULE), encoding="utf-8")
    section = LitellmSettingsSection(callbacks=["tppc_test_loggers_b.not_a_logger", "no_such_module_x.logger"],
                                     failure_callback=["tppc_test_loggers_b.missing"])
    import litellm

    before = list(litellm.callbacks)
    with pytest.raises(ConfigError) as caught:
        apply_litellm_settings(section, base=tmp_path)
    problems = caught.value.problems
    assert any(p.startswith("litellm-settings.callbacks[0]:") and "not a litellm CustomLogger" in p for p in problems)
    assert any(p.startswith("litellm-settings.callbacks[1]: cannot import") for p in problems)
    assert any(p.startswith("litellm-settings.failure_callback[0]: cannot import") for p in problems)
    assert litellm.callbacks == before


def test_an_empty_section_applies_nothing() -> None:
    """No litellm-settings: nothing is applied (and litellm is not even imported for it)."""
    assert apply_litellm_settings(LitellmSettingsSection()) == []
