"""``tppc-router status`` against a real gateway on loopback (CliRunner)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any
from pathlib import Path

import httpx
import pytest
from canaries import CANARY_MANAGEMENT, CANARY_PRIMARY
from canary_guard import assert_no_canary
from simfixtures import instant_backoff, sim_providers
from click.testing import CliRunner

from tppc_router.masking import mask
from tppc_router.server import create_app
from tppc_router.sim import ProviderSimulator
from tppc_router.cli.status import status

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))  # as tests/acceptance/conftest.py does

from gateway_live import LiveServer, free_port, gateway_settings, running

BODY = {"model": "gpt-5", "input": "hello"}


_instant_backoff = instant_backoff()
sims = sim_providers()


@pytest.fixture
def server(sims: dict[str, ProviderSimulator]) -> Iterator[LiveServer]:
    with running(create_app(gateway_settings(sims, router={"failure-threshold": 1}))) as live:
        yield live


@pytest.fixture
def managed_server(sims: dict[str, ProviderSimulator]) -> Iterator[LiveServer]:
    """A gateway whose management API takes CANARY_MANAGEMENT."""
    settings = gateway_settings(sims, **{"remote-management": {"secret-key": CANARY_MANAGEMENT}})
    with running(create_app(settings)) as live:
        yield live


def test_status_prints_a_table_of_providers(server: LiveServer, sims: dict[str, ProviderSimulator]) -> None:
    """The table names each provider with its state and error rate; a ready server exits 0."""
    sims["primary"].set_fault("status:500")
    assert httpx.post(server.base_url + "/responses", json=BODY, timeout=10).status_code == 200
    result = CliRunner().invoke(status, ["--url", server.url])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"{server.url}: ready (backup available)"
    primary = next(line for line in lines if line.startswith("primary"))
    assert "open" in primary and "100.0%" in primary
    backup = next(line for line in lines if line.startswith("backup"))
    assert "closed" in backup and "0.0%" in backup
    assert "models: gpt-5 -> primary, backup" in result.output
    assert "state backend: memory (reachable)" in result.output


def test_status_json(server: LiveServer) -> None:
    """--json prints one object with readiness, providers, model groups and the state backend."""
    result = CliRunner().invoke(status, ["--url", server.url, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["ready"] is True
    assert [p["name"] for p in data["providers"]] == ["primary", "backup"]
    assert data["providers"][0]["state"] == "closed"
    assert data["state_backend"] == {"backend": "memory", "reachable": True}


def test_status_exits_1_when_not_ready(server: LiveServer) -> None:
    """With every breaker open the command says NOT READY, names why, and exits 1."""
    for name in ("primary", "backup"):
        server.runtime.router.breakers.get(name, "gpt-5").record_failure(open_now=True)
    result = CliRunner().invoke(status, ["--url", server.url])
    assert result.exit_code == 1
    assert "NOT READY: every enabled provider's breaker is open" in result.output


def test_status_exits_2_when_unreachable() -> None:
    """A URL nobody listens on is reported with exit status 2."""
    url = f"http://127.0.0.1:{free_port()}"
    result = CliRunner().invoke(status, ["--url", url, "--timeout", "2"])
    assert result.exit_code == 2
    assert f"cannot reach {url}" in result.output


def test_status_with_management_key_shows_masked_keys(managed_server: LiveServer,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """With TPPC_MANAGEMENT_KEY the table adds each provider's host, masked key and key source."""
    monkeypatch.setenv("TPPC_MANAGEMENT_KEY", CANARY_MANAGEMENT)
    result = CliRunner().invoke(status, ["--url", managed_server.url])
    assert result.exit_code == 0, result.output
    primary = next(line for line in result.output.splitlines() if line.startswith("primary"))
    assert mask(CANARY_PRIMARY) in primary and "127.0.0.1:" in primary and "literal" in primary
    assert_no_canary(result.output, where="status output")


def test_status_with_a_wrong_management_key_still_shows_states(managed_server: LiveServer) -> None:
    """A refused management key is reported, and the public states are still shown."""
    result = CliRunner().invoke(status, ["--url", managed_server.url, "--management-key", "wrong-key-123456"])
    assert result.exit_code == 0, result.output
    assert "management: the management API refused the key" in result.output
    assert "primary" in result.output


def test_status_when_the_management_api_is_off(server: LiveServer) -> None:
    """A server without a management secret answers 404; status says so and shows the public view."""
    result = CliRunner().invoke(status, ["--url", server.url, "--management-key", "any-key-123456789"])
    assert result.exit_code == 0, result.output
    assert "management: the management API is off on this server" in result.output


def test_status_does_not_import_litellm() -> None:
    """Importing the status command never imports litellm."""
    code = "import sys, tppc_router.cli.status; sys.exit('litellm' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_status_reads_host_and_port_from_the_config(server: LiveServer, write_config: Any,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Without --url, ``status -c FILE`` (or TPPC_CONFIG) asks the server at the file's server.host/port."""
    path = write_config(f"""
        server:
          host: 0.0.0.0
          port: {server.port}
        tppc:
          providers:
            - name: primary
              api-key: os.environ/NOT_SET_ON_THIS_HOST
    """)
    result = CliRunner().invoke(status, ["-c", str(path), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["url"] == f"http://127.0.0.1:{server.port}"
    monkeypatch.setenv("TPPC_CONFIG", str(path))
    from_env = CliRunner().invoke(status, ["--json"])
    assert from_env.exit_code == 0, from_env.output
    assert json.loads(from_env.output)["ready"] is True


def test_status_with_a_missing_config_file_exits_2(tmp_path: Path) -> None:
    """``status -c`` naming a file that does not exist says so and exits 2."""
    result = CliRunner().invoke(status, ["-c", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


def test_status_dash_c_through_the_real_cli_does_not_import_litellm(server: LiveServer, tmp_path: Path) -> None:
    """``tppc-router status -c FILE`` as a process: reaches the configured port, never imports litellm."""
    path = tmp_path / "config.yaml"
    path.write_text(f"server:\n  port: {server.port}\n", encoding="utf-8")
    code = ("import sys\nfrom tppc_router.cli import main\ntry:\n    main(['status', '-c', sys.argv[1], '--json'])\n"
            "except SystemExit as e:\n    assert 'litellm' not in sys.modules, 'litellm imported'\n    raise\n")
    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=False,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["url"] == f"http://127.0.0.1:{server.port}"
