"""The config schema: ``tppc:``, the legacy ``packycode:`` block, ``router:``,
``server:`` and ``remote-management:``.

Field names are snake_case in Python and kebab-case in YAML (``base-url``); the
loader folds YAML keys to snake_case before validation, and dumps use kebab-case.
Types are checked here; the cross-field rules (unique names, URLs, keys of
enabled providers) live in :mod:`tppc_router.config.sanitize`, which reports every
problem at once.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AliasGenerator, BaseModel, ConfigDict, Field, PrivateAttr
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from tppc_router.config.defaults import DEFAULT_MODEL, DEFAULT_REASONING_EFFORT
from tppc_router.config.sources import FoldedEnvSource, YamlDataSource
from tppc_router.secret import Secret

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_REASONING_EFFORT",
    "HealthCheckSection",
    "LitellmSettingsSection",
    "LimitsSection",
    "PackycodeConfig",
    "ProviderConfig",
    "RemoteManagementSection",
    "RouterSection",
    "ServerSection",
    "Settings",
    "StateSection",
    "TppcSection",
    "kebab",
]

Effort = Literal["low", "medium", "high"]


def kebab(name: str) -> str:
    """``base_url`` -> ``base-url``: how a field is spelled in YAML and in paths."""
    return name.replace("_", "-")


_MODEL_CONFIG = ConfigDict(
    extra="forbid",
    alias_generator=AliasGenerator(serialization_alias=kebab),
    validate_assignment=False,
)


class _Section(BaseModel):
    model_config = _MODEL_CONFIG


class _KeySourced(_Section):
    """A section holding a key that may come from the environment: records where it came from."""

    # Where the key came from: "literal" or the reference as written ("os.environ/NAME").
    _key_source: str = PrivateAttr(default="literal")

    @property
    def key_source(self) -> str:
        """Where the key came from: ``"literal"`` or the reference as written (``os.environ/NAME``)."""
        return self._key_source

    def set_key_source(self, source: str) -> None:
        """Record where the key came from (sanitize does, when it resolves the key)."""
        self._key_source = source


class ProviderConfig(_KeySourced):
    """One third-party provider. A disabled provider may be incomplete."""

    name: str = ""
    enabled: bool = True
    base_url: str = ""
    api_key: Secret | None = None
    order: int | None = None


class TppcSection(_Section):
    models: list[str] = Field(default_factory=lambda: [DEFAULT_MODEL])
    providers: list[ProviderConfig] = Field(default_factory=list)


class PackycodePrivacy(_Section):
    disable_response_storage: bool = True


class PackycodeDefaults(_Section):
    model: str = DEFAULT_MODEL
    model_reasoning_effort: str = DEFAULT_REASONING_EFFORT


class PackycodeCredentials(_Section):
    openai_api_key: Secret | None = None


class PackycodeConfig(_Section):
    """The legacy single-provider block. Served first when enabled."""

    enabled: bool = False
    base_url: str = ""
    requires_openai_auth: bool = True
    wire_api: str = "responses"
    privacy: PackycodePrivacy = Field(default_factory=PackycodePrivacy)
    defaults: PackycodeDefaults = Field(default_factory=PackycodeDefaults)
    credentials: PackycodeCredentials = Field(default_factory=PackycodeCredentials)
    _key_source: str = PrivateAttr(default="literal")

    @property
    def key_source(self) -> str:
        """Where the key came from: ``"literal"`` or the reference as written (``os.environ/NAME``)."""
        return self._key_source

    def set_key_source(self, source: str) -> None:
        """Record where the key came from (sanitize does, when it resolves the key)."""
        self._key_source = source


class HealthCheckSection(_Section):
    enabled: bool = False
    interval: float = Field(default=30.0, gt=0)
    timeout: float = Field(default=10.0, gt=0)


class StateSection(_Section):
    backend: Literal["memory", "redis"] = "memory"
    url: str = "redis://127.0.0.1:6379/0"
    prefix: str = "tppc"
    op_timeout: float = Field(default=0.05, gt=0)


class RouterSection(_Section):
    """Failover rules. Durations are seconds."""

    same_provider_retries: int = Field(default=1, ge=0, le=5)
    retry_backoff: float = Field(default=0.2, ge=0, le=1)
    rate_limit_backoff: float = Field(default=1.0, ge=0)
    auth_cooldown: float = Field(default=300.0, ge=0)
    not_found_cooldown: float = Field(default=300.0, ge=0)
    failure_threshold: int = Field(default=3, ge=1)
    cooldown: float = Field(default=30.0, ge=0)
    total_budget: float = Field(default=900.0, gt=0)
    first_byte_timeout: float = Field(default=10.0, gt=0)
    first_token_timeout: float | None = Field(default=None, gt=0)
    stream_idle_timeout: float = Field(default=300.0, gt=0)
    timeout: float = Field(default=600.0, gt=0)
    max_cooldown_wait: float = Field(default=10.0, ge=0)
    allow_client_store: bool = False  # false: a client's `store: true` is sent as the provider's default (false)
    health_check: HealthCheckSection = Field(default_factory=HealthCheckSection)
    state: StateSection = Field(default_factory=StateSection)


class LimitsSection(_Section):
    """What one client may send (see docs/security.md). Sizes are bytes, durations seconds."""

    max_body_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    management_max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_json_depth: int = Field(default=64, ge=4, le=512)
    max_header_bytes: int = Field(default=64 * 1024, ge=1024)
    header_timeout: float = Field(default=10.0, gt=0)
    max_connections: int = Field(default=1024, ge=1)
    max_providers: int = Field(default=256, ge=1)
    max_field_length: int = Field(default=4096, ge=64)


class ServerSection(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8317, ge=0, le=65535)
    api_keys: list[Secret] = Field(default_factory=list)
    # Host names (beyond loopback names and addresses) a request's Host header may carry.
    allowed_hosts: list[str] = Field(default_factory=list)
    # Proxies whose X-Forwarded-For is believed (uvicorn's forwarded_allow_ips); none by default.
    trusted_proxies: list[str] = Field(default_factory=list)
    limits: LimitsSection = Field(default_factory=LimitsSection)
    # Seconds between ": keep-alive" SSE comments while a stream waits for its first content.
    stream_keepalive: float = Field(default=10.0, gt=0, le=300)


class RemoteManagementSection(_KeySourced):
    secret_key: Secret | None = None
    allow_remote: bool = False
    # Origins (scheme://host[:port]) whose browser requests may reach the management API.
    allowed_origins: list[str] = Field(default_factory=list)
    # Environment variables a management write may reference (os.environ/NAME), beyond those the
    # config file referenced at start-up.
    allowed_env: list[str] = Field(default_factory=list)


class LitellmSettingsSection(_Section):
    """The LiteLLM proxy's ``litellm_settings`` keys that ``serve`` applies to litellm at start-up
    (never on a live reload). A reference ``module.attribute`` is imported from the config file's
    directory first, as the proxy does; a plain name (``langfuse``) is a LiteLLM integration."""

    callbacks: list[str] = Field(default_factory=list)
    success_callback: list[str] = Field(default_factory=list)
    failure_callback: list[str] = Field(default_factory=list)
    drop_params: bool | None = None


class Settings(BaseSettings):
    """The whole config. Sources, highest first: init args > ``TPPC_*`` env > YAML > defaults.

    Build it with :func:`tppc_router.config.loader.load_settings`, which also sanitizes and
    validates; constructing ``Settings`` directly only checks types.
    """

    model_config = SettingsConfigDict(
        env_prefix="TPPC_",
        env_nested_delimiter="__",
        extra="forbid",
        alias_generator=AliasGenerator(serialization_alias=kebab),
        nested_model_default_partial_update=False,
    )

    tppc: TppcSection = Field(default_factory=TppcSection)
    packycode: PackycodeConfig = Field(default_factory=PackycodeConfig)
    router: RouterSection = Field(default_factory=RouterSection)
    server: ServerSection = Field(default_factory=ServerSection)
    remote_management: RemoteManagementSection = Field(default_factory=RemoteManagementSection)
    litellm_settings: LitellmSettingsSection = Field(default_factory=LitellmSettingsSection)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """init args > ``TPPC_*`` env (kebab keys folded) > the YAML file > defaults; no dotenv, no secrets dir."""
        return init_settings, FoldedEnvSource(env_settings), YamlDataSource(settings_cls)
