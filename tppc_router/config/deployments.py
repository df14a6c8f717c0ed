"""Pure translation: settings -> LiteLLM ``model_list`` entries. No I/O.

Each enabled provider serves each model ``M`` of ``tppc.models`` as a deployment
of group ``M`` with the hard-coded defaults (Responses wire API, reasoning effort
``high``, ``store: false``), plus a pinned group ``<provider>/M`` that reaches only
that provider. The packycode legacy block, when enabled, comes first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from tppc_router.config.defaults import DEFAULT_REASONING_EFFORT, DEFAULT_STORE, litellm_model
from tppc_router.config.schema import Settings
from tppc_router.errors import ConfigError
from tppc_router.secret import Secret

__all__ = [
    "NO_KEY",
    "Credential",
    "build_model_list",
    "credential_chain",
    "deployment_id",
    "pinned_group",
]

Source = Literal["explicit", "packycode", "tppc"]

# Sent as the key of a legacy provider that requires no auth (openai clients insist on one).
NO_KEY = "no-key-required"


@dataclass(frozen=True, slots=True)
class Credential:
    """A credential taken whole from one source: never one source's key with
    another's base-url."""

    provider: str
    source: Source
    base_url: str
    api_key: Secret
    priority: int
    models: tuple[str, ...]
    reasoning_effort: str = DEFAULT_REASONING_EFFORT
    store: bool = DEFAULT_STORE
    key_source: str = "literal"

    def __repr__(self) -> str:
        return (
            f"Credential(provider={self.provider!r}, source={self.source!r}, base_url={self.base_url!r}, "
            f"api_key={self.api_key.masked!r}, priority={self.priority})"
        )


def credential_chain(
    settings: Settings, *, api_key: str | None = None, api_base: str | None = None
) -> list[Credential]:
    """The credentials to try, in priority order.

    1. An explicit per-request credential (both ``api_key`` and ``api_base``): only that.
    2. The packycode legacy block, if enabled.
    3. The tppc providers by ``order`` (default: list position); equal orders share
       a priority and so the load.

    A partial explicit credential is refused rather than combined with another
    source's half.
    """
    models = tuple(settings.tppc.models)
    if api_key is not None or api_base is not None:
        if not (api_key and api_base):
            raise ConfigError(
                [
                    (
                        "request: an explicit credential needs both api_key and api_base; "
                        "tppc-router never combines one source's key with another's base-url"
                    )
                ]
            )
        return [Credential("explicit", "explicit", api_base.rstrip("/"), Secret(api_key), 1, models)]

    chain: list[Credential] = []
    legacy = settings.packycode
    offset = 0
    legacy_key = legacy.credentials.openai_api_key
    if legacy.enabled and legacy_key is None and not legacy.requires_openai_auth:
        legacy_key = Secret(NO_KEY)  # requires-openai-auth: false: the relay takes no key
    if legacy.enabled and legacy_key is not None:
        chain.append(
            Credential(
                provider="packycode",
                source="packycode",
                base_url=legacy.base_url,
                api_key=legacy_key,
                priority=1,
                models=(legacy.defaults.model,),
                reasoning_effort=legacy.defaults.model_reasoning_effort,
                store=not legacy.privacy.disable_response_storage,
                key_source=legacy.key_source,
            )
        )
        offset = 1

    enabled = [(p.order if p.order is not None else i + 1, i, p) for i, p in enumerate(settings.tppc.providers)]
    enabled = [e for e in enabled if e[2].enabled and e[2].api_key is not None]
    ranks = {order: rank for rank, order in enumerate(sorted({e[0] for e in enabled}), start=1)}
    for order, _, provider in sorted(enabled, key=lambda e: (e[0], e[1])):
        assert provider.api_key is not None
        chain.append(
            Credential(
                provider=provider.name,
                source="tppc",
                base_url=provider.base_url,
                api_key=provider.api_key,
                priority=ranks[order] + offset,
                models=models,
                key_source=provider.key_source,
            )
        )
    return chain


def deployment_id(provider: str, model: str) -> str:
    return f"tppc:{provider}:{model}"


def pinned_group(provider: str, model: str) -> str:
    return f"{provider}/{model}"


def _deployment(cred: Credential, group: str, model: str, *, include_secrets: bool) -> dict[str, Any]:
    key: Any = cred.api_key.get_secret_value() if include_secrets else cred.api_key
    return {
        "model_name": group,
        "litellm_params": {
            "model": litellm_model(model),
            "api_base": cred.base_url,
            "api_key": key,
            "order": cred.priority,
            "reasoning_effort": cred.reasoning_effort,
            "store": cred.store,
        },
        "model_info": {
            "id": deployment_id(cred.provider, model) + ("" if group == model else "#pinned"),
            "tppc_provider": cred.provider,
            "tppc_source": cred.source,
            "tppc_model": model,
            "tppc_priority": cred.priority,
            "tppc_pinned": group != model,
        },
    }


def build_model_list(settings: Settings, *, include_secrets: bool = True) -> list[dict[str, Any]]:
    """LiteLLM ``model_list`` entries: one per (enabled provider, model), in priority
    order, then one pinned group ``<provider>/<model>`` per pair.

    With ``include_secrets=False`` the ``api_key`` values stay :class:`Secret`
    objects (masked in any repr) instead of plain strings.
    """
    chain = credential_chain(settings)
    groups = [_deployment(c, m, m, include_secrets=include_secrets) for c in chain for m in c.models]
    pinned = [
        _deployment(c, pinned_group(c.provider, m), m, include_secrets=include_secrets)
        for c in chain
        for m in c.models
    ]
    return groups + pinned
