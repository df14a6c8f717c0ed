"""Settings -> a LiteLLM proxy config (``model_list`` + ``router_settings``). Pure; no litellm import.

Keys never travel as text unless asked: a key that came from an environment
reference stays that reference (``os.environ/NAME``, which LiteLLM resolves
itself), and a literal key becomes ``os.environ/TPPC_<NAME>_API_KEY``, listed in
:attr:`LitellmExport.env_vars` so the caller can say which variables to set.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from tppc_router.config.schema import Settings
from tppc_router.config.deployments import Credential, build_model_list, credential_chain

__all__ = ["EnvVar", "LitellmExport", "env_var_name", "litellm_config", "router_settings"]


@dataclass(frozen=True, slots=True)
class EnvVar:
    """A variable the exported config reads: set it to ``provider``'s key."""

    name: str
    provider: str


@dataclass(frozen=True, slots=True)
class LitellmExport:
    """An exported config and the variables its literal keys were moved to."""

    config: dict[str, Any]
    env_vars: tuple[EnvVar, ...] = field(default=())

    def to_yaml(self, header: str = "") -> str:
        """The config as YAML, after ``header`` written as comment lines."""
        comments = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
        body = yaml.safe_dump(self.config, sort_keys=False, default_flow_style=False, allow_unicode=True)
        return comments + body


def env_var_name(provider: str) -> str:
    """``primary-eu`` -> ``TPPC_PRIMARY_EU_API_KEY``: upper case, runs of non-alphanumerics as ``_``."""
    stem = re.sub(r"[^A-Z0-9]+", "_", provider.upper()).strip("_") or "PROVIDER"
    return f"TPPC_{stem}_API_KEY"


def router_settings(settings: Settings) -> dict[str, Any]:
    """LiteLLM ``router_settings`` closest to ours: lowest ``order`` first, no pre-call checks."""
    router = settings.router
    return {
        "routing_strategy": "simple-shuffle",
        "enable_pre_call_checks": False,
        "num_retries": router.same_provider_retries,
        "timeout": router.timeout,
        "allowed_fails": router.failure_threshold,
        "cooldown_time": router.cooldown,
    }


def _key_values(chain: list[Credential], include_secrets: bool) -> tuple[dict[str, str], tuple[EnvVar, ...]]:
    values: dict[str, str] = {}
    moved: list[EnvVar] = []
    used: set[str] = set()
    for cred in chain:
        if cred.key_source != "literal":
            values[cred.provider] = cred.key_source
        elif include_secrets:
            values[cred.provider] = cred.api_key.get_secret_value()
        else:
            name, n = env_var_name(cred.provider), 1
            while name in used:
                n += 1
                name = f"{env_var_name(cred.provider)[: -len('_API_KEY')]}_{n}_API_KEY"
            used.add(name)
            moved.append(EnvVar(name, cred.provider))
            values[cred.provider] = f"os.environ/{name}"
    return values, tuple(moved)


def litellm_config(settings: Settings, *, include_secrets: bool = False) -> LitellmExport:
    """A LiteLLM proxy config for ``settings`` that ``litellm.Router(model_list=...)`` accepts.

    With ``include_secrets=True`` literal keys are written as they are;
    references stay references either way.
    """
    values, moved = _key_values(credential_chain(settings), include_secrets)
    model_list = build_model_list(settings, include_secrets=False)
    for deployment in model_list:
        deployment["litellm_params"]["api_key"] = values[deployment["model_info"]["tppc_provider"]]
    return LitellmExport({"model_list": model_list, "router_settings": router_settings(settings)}, moved)
