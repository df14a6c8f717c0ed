"""Config errors carry no HTTP; the server maps each kind to its status at the management boundary."""

from __future__ import annotations

import pytest

from tppc_router import ManagementError
from tppc_router.errors import (
    ConfigConflictError,
    ConfigEditError,
    ConfigError,
    ConfigFileError,
    ConfigNotFoundError,
)
from tppc_router.server.config_errors import management_error, map_config_errors


@pytest.mark.parametrize(("error", "status", "message"), [
    (ConfigNotFoundError(["tppc.providers[zeta]: no provider has this name"], summary="no provider named 'zeta'"),
     404, "no provider named 'zeta'"),
    (ConfigConflictError(["tppc.providers[1].name: 'a' is taken"], summary="a provider named 'a' already exists"),
     409, "a provider named 'a' already exists"),
    (ConfigFileError(["<yaml>: bad"], summary="the config file on disk is not valid YAML; fix it by hand first"),
     409, "the config file on disk is not valid YAML; fix it by hand first"),
    (ConfigEditError(["tppc.providers[0].order: must be an integer"], summary="invalid request body"),
     422, "invalid request body"),
    (ConfigError(["tppc.providers[0].base-url: must be an http(s) URL"], source="c.yaml"),
     422, "invalid config: the change was not applied"),
])
def test_each_config_error_maps_to_its_status(error: ConfigError, status: int, message: str) -> None:
    """The status comes from the error's kind; the summary and field-path problems are kept."""
    mapped = management_error(error)
    assert (mapped.status_code, str(mapped), mapped.problems) == (status, message, error.problems)
    assert mapped.body["error"]["problems"] == error.problems


def test_map_config_errors_raises_the_management_error() -> None:
    """Inside map_config_errors a config error leaves as a ManagementError; other errors pass through."""
    with pytest.raises(ManagementError) as info, map_config_errors():
        raise ConfigNotFoundError(["tppc.providers[9]: no such index (there are 2)"], summary="no provider at index 9")
    assert info.value.status_code == 404
    with pytest.raises(KeyError), map_config_errors():
        raise KeyError("not a config error")


def test_config_errors_are_not_management_errors() -> None:
    """Config code's errors are config errors (ValueError too), never HTTP-shaped management errors."""
    for kind in (ConfigNotFoundError, ConfigConflictError, ConfigFileError, ConfigEditError):
        assert issubclass(kind, ConfigError) and issubclass(kind, ValueError)
        assert not issubclass(kind, ManagementError)
