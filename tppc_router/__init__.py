"""tppc-router: several OpenAI-Responses ("Codex") providers behind one name, with failover.

Importing this package does not import litellm; :class:`TppcRouter` imports it
when the first router is built.
"""

from tppc_router.routing.breaker import BreakerState, CircuitBreaker
from tppc_router.config.schema import ProviderConfig, Settings
from tppc_router.config.deployments import Credential, build_model_list, credential_chain
from tppc_router.errors import (
    AllProvidersCoolingError,
    AllProvidersFailedError,
    Attempt,
    ConfigError,
    ManagementError,
    Outcome,
    ProviderError,
    StreamInterruptedError,
    TppcRouterError,
)
from tppc_router.routing.failover import FailureKind, RouterPolicy
from tppc_router.config.loader import load_settings
from tppc_router.masking import mask
from tppc_router.routing.router import TppcRouter
from tppc_router.routing.status import ProviderStatus

__all__ = [
    "AllProvidersCoolingError",
    "AllProvidersFailedError",
    "Attempt",
    "BreakerState",
    "CircuitBreaker",
    "ConfigError",
    "Credential",
    "FailureKind",
    "ManagementError",
    "Outcome",
    "ProviderConfig",
    "ProviderError",
    "ProviderStatus",
    "RouterPolicy",
    "Settings",
    "StreamInterruptedError",
    "TppcRouter",
    "TppcRouterError",
    "build_model_list",
    "credential_chain",
    "load_settings",
    "mask",
]
