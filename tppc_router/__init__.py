"""tppc-router: several OpenAI-Responses ("Codex") providers behind one name, with failover.

Importing this package does not import litellm; :class:`TppcRouter` imports it
when the first router is built.
"""

from .breaker import BreakerState, CircuitBreaker
from .config import ProviderConfig, Settings
from .deployments import Credential, build_model_list, credential_chain
from .errors import (
    AllProvidersCoolingError,
    AllProvidersFailedError,
    Attempt,
    ConfigError,
    ManagementError,
    ProviderError,
    StreamInterruptedError,
    TppcRouterError,
)
from .failover import FailureKind, RouterPolicy
from .loader import load_settings
from .masking import mask
from .router import TppcRouter

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
    "ProviderConfig",
    "ProviderError",
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
