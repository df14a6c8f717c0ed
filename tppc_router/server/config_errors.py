"""Config errors become HTTP answers here, at the server's boundary (as httpx maps
httpcore's transport errors to its own in ``map_httpcore_exceptions``).

Config code (``config/``, ``configfile/``) raises :class:`~tppc_router.errors.ConfigError`
and its subclasses, with field paths and no HTTP in sight; the management routes turn
them into :class:`~tppc_router.errors.ManagementError` with a status:

==========================  ======  ==============================================
config error                status  meaning
==========================  ======  ==============================================
``ConfigNotFoundError``     404     the edit names a provider that is not there
``ConfigConflictError``     409     a name is taken, or the file changed meanwhile
``ConfigFileError``         409     the file on disk must be fixed by hand first
``ConfigEditError``         422     the request body itself is invalid
``ConfigError``             422     the config the edit would make is invalid
==========================  ======  ==============================================
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from tppc_router.errors import (
    ConfigConflictError,
    ConfigEditError,
    ConfigError,
    ConfigFileError,
    ConfigNotFoundError,
    ManagementError,
)

__all__ = ["CONFIG_ERROR_STATUS", "management_error", "map_config_errors"]

#: Most specific first; a plain ConfigError (the resulting config is invalid) is 422.
CONFIG_ERROR_STATUS: tuple[tuple[type[ConfigError], int], ...] = (
    (ConfigNotFoundError, 404),
    (ConfigConflictError, 409),
    (ConfigFileError, 409),
    (ConfigEditError, 422),
)
INVALID_CONFIG = "invalid config: the change was not applied"


def management_error(exc: ConfigError) -> ManagementError:
    """The HTTP answer to ``exc``: its status from :data:`CONFIG_ERROR_STATUS`, its summary and problems."""
    for kind, status in CONFIG_ERROR_STATUS:
        if isinstance(exc, kind):
            return ManagementError(exc.summary, status_code=status, problems=exc.problems)
    return ManagementError(INVALID_CONFIG, status_code=422, problems=exc.problems)


@contextmanager
def map_config_errors() -> Iterator[None]:
    """Inside, a :class:`ConfigError` is raised as the :class:`ManagementError` it maps to."""
    try:
        yield
    except ConfigError as exc:
        raise management_error(exc) from None
