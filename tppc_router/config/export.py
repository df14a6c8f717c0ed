"""Settings -> LiteLLM configs. Pure; no litellm import.

Two formats:

* ``litellm`` (:func:`litellm_config`): plain deployments that LiteLLM routes by itself,
  with our failover rules carried as far as LiteLLM can express them (``order``,
  ``stream_timeout``, ``retry_policy``, ``allowed_fails_policy``, ``cooldown_time``).
  No tppc-router at runtime; what still differs is in docs/litellm-proxy.md.
* ``litellm-proxy`` (:func:`litellm_proxy_config`): a complete ``litellm --config`` file
  whose tppc groups are served by the tppc-router gateway running beside the proxy
  (``tppc-router serve``), so our engine does the failover and every Responses event
  reaches the client; the proxy keeps its own auth, keys and logging. The master key is
  ``os.environ/LITELLM_MASTER_KEY``, never a value.

Keys never travel as text unless asked: a key that came from an environment
reference stays that reference (``os.environ/NAME``, which LiteLLM resolves
itself), and a literal key becomes ``os.environ/TPPC_<NAME>_API_KEY``, listed in
:attr:`LitellmExport.env_vars` so the caller can say which variables to set.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import yaml

from tppc_router.config.deployments import Credential, build_model_list, credential_chain
from tppc_router.config.schema import Settings
from tppc_router.masking import mask_url
from tppc_router.envref import env_reference

__all__ = [
    "GATEWAY_KEY_VAR",
    "MASTER_KEY_REF",
    "EnvVar",
    "LitellmExport",
    "allowed_fails_policy",
    "env_var_name",
    "litellm_config",
    "litellm_proxy_config",
    "retry_policy",
    "router_settings",
]

MASTER_KEY_REF = env_reference("LITELLM_MASTER_KEY")
GATEWAY_KEY_VAR = "TPPC_GATEWAY_API_KEY"

# LiteLLM never cools a deployment down for these; the number only has to be out of reach.
_NEVER = 1000


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


def retry_policy(settings: Settings, providers: int) -> dict[str, int]:
    """Our fault table as LiteLLM's ``retry_policy`` for a group of ``providers`` deployments.

    LiteLLM fails over by retrying: each retry picks the lowest-``order`` deployment
    that is not cooling down. So a failure that fails over once here is one retry
    there (the failed deployment is cooled at once by :func:`allowed_fails_policy`),
    and a 5xx gets ``same-provider-retries`` retries on each provider first. An
    invalid request is never retried.
    """
    others = max(providers - 1, 0)
    server = providers * (1 + settings.router.same_provider_retries) - 1
    return {
        "BadRequestErrorRetries": 0,
        "ContentPolicyViolationErrorRetries": 0,
        "AuthenticationErrorRetries": others,
        "NotFoundErrorRetries": others,
        "RateLimitErrorRetries": others,
        "TimeoutErrorRetries": others,
        "InternalServerErrorRetries": server,
    }


def allowed_fails_policy(settings: Settings) -> dict[str, int]:
    """How many failures of each kind a deployment takes before LiteLLM cools it down.

    401/403, 404, 429 and timeouts bench a provider at once here; a 5xx after its
    same-provider retries; an invalid request is never held against it.
    """
    return {
        "BadRequestErrorAllowedFails": _NEVER,
        "ContentPolicyViolationErrorAllowedFails": _NEVER,
        "AuthenticationErrorAllowedFails": 0,
        "NotFoundErrorAllowedFails": 0,
        "RateLimitErrorAllowedFails": 0,
        "TimeoutErrorAllowedFails": 0,
        "InternalServerErrorAllowedFails": settings.router.same_provider_retries,
    }


def _group_sizes(model_list: list[dict[str, Any]]) -> Counter[str]:
    return Counter(d["model_name"] for d in model_list)


def router_settings(settings: Settings, model_list: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """LiteLLM ``router_settings`` closest to ours: lowest ``order`` first, per-error retries and cooldowns.

    Pinned ``<provider>/<model>`` groups (one deployment) get a policy of their own.
    """
    router = settings.router
    sizes = _group_sizes(model_list if model_list is not None else build_model_list(settings, include_secrets=False))
    widest = max(sizes.values(), default=1)
    policy = retry_policy(settings, widest)
    out: dict[str, Any] = {
        "routing_strategy": "simple-shuffle",
        "enable_pre_call_checks": False,
        "num_retries": policy["InternalServerErrorRetries"],
        "timeout": router.timeout,
        "stream_timeout": router.first_byte_timeout,
        "cooldown_time": router.cooldown,
        "retry_policy": policy,
        "allowed_fails_policy": allowed_fails_policy(settings),
    }
    narrower = {group: retry_policy(settings, n) for group, n in sizes.items() if n != widest}
    if narrower:
        out["model_group_retry_policy"] = narrower
    return out


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
            values[cred.provider] = env_reference(name)
    return values, tuple(moved)


def litellm_config(settings: Settings, *, include_secrets: bool = False) -> LitellmExport:
    """A LiteLLM config for ``settings`` that ``litellm.Router(model_list=..., **router_settings)``
    and ``litellm --config`` accept: LiteLLM does the routing, no tppc-router at runtime.

    With ``include_secrets=True`` literal keys (and credentials in a base-url) are written
    as they are; references stay references either way.
    """
    values, moved = _key_values(credential_chain(settings), include_secrets)
    model_list = build_model_list(settings, include_secrets=False)
    for deployment in model_list:
        params = deployment["litellm_params"]
        params["api_key"] = values[deployment["model_info"]["tppc_provider"]]
        params["stream_timeout"] = settings.router.first_byte_timeout
        if not include_secrets and isinstance(params.get("api_base"), str):
            params["api_base"] = mask_url(params["api_base"])  # credentials in a base-url's userinfo, too
    return LitellmExport({"model_list": model_list, "router_settings": router_settings(settings, model_list)}, moved)


def gateway_url(settings: Settings) -> str:
    """Where the proxy reaches ``tppc-router serve``: its host (a wildcard as loopback) and port, ``/v1``."""
    host = settings.server.host
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{settings.server.port}/v1"


def litellm_proxy_config(settings: Settings) -> LitellmExport:
    """A complete ``litellm --config`` file serving every tppc group through the tppc-router gateway.

    Each group (and pinned ``<provider>/<model>`` group) is one ``openai/<group>``
    deployment with ``api_base`` = the gateway, so LiteLLM forwards Responses and
    chat calls to it natively and our engine fails over. LiteLLM neither retries nor
    cools these deployments down (the engine already did): ``num_retries: 0``,
    ``disable_cooldowns: true``. The timeouts leave the gateway its whole budget.
    Provider keys stay with the gateway; the proxy only needs ``LITELLM_MASTER_KEY``
    (and ``TPPC_GATEWAY_API_KEY`` when the gateway asks for a key).
    """
    groups = list(dict.fromkeys(d["model_name"] for d in build_model_list(settings, include_secrets=False)))
    needs_key = bool(settings.server.api_keys)
    key = env_reference(GATEWAY_KEY_VAR) if needs_key else "tppc-gateway-no-key"
    budget = settings.router.total_budget + 5.0
    model_list = [
        {
            "model_name": group,
            "litellm_params": {
                "model": f"openai/{group}",
                "api_base": gateway_url(settings),
                "api_key": key,
                "timeout": budget,
                "stream_timeout": budget,
            },
            "model_info": {"id": f"tppc-gateway:{group}", "tppc_gateway": True},
        }
        for group in groups
    ]
    config = {
        "model_list": model_list,
        "router_settings": {"num_retries": 0, "disable_cooldowns": True, "timeout": budget},
        "litellm_settings": {"num_retries": 0, "request_timeout": budget},
        "general_settings": {"master_key": MASTER_KEY_REF},
    }
    env = (EnvVar(GATEWAY_KEY_VAR, "tppc-gateway"),) if needs_key else ()
    return LitellmExport(config, env)
