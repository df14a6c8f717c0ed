"""``tppc-router serve``: config errors, the startup log, and a real run with ``--no-tppc``."""

from __future__ import annotations

import json
import os
import queue
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from canaries import CANARY_LEGACY, CANARY_MANAGEMENT
from click.testing import CliRunner
from gateway_live import CANARY_BACKUP, CANARY_PRIMARY, free_port

from tppc_router.cli import main
from tppc_router.config.loader import settings_from_data
from tppc_router.cli.serve import startup_lines
from tppc_router.sim import ProviderSimulator

WriteConfig = Callable[..., Path]


@pytest.mark.parametrize("via_group", [True, False], ids=["tppc-router-serve", "serve-command"])
def test_invalid_config_exits_2_listing_each_problem(write_config: WriteConfig, via_group: bool) -> None:
    """An invalid config stops ``serve`` before it binds: exit 2, one problem per line on stderr."""
    path = write_config("""
        tppc:
          providers:
            - name: primary
              api-key: sk-short-but-fine-123
            - name: primary
              base-url: not-a-url
              api-key: sk-short-but-fine-456
    """)
    if via_group:
        result = CliRunner().invoke(main, ["serve", "-c", str(path)])
    else:
        from tppc_router.cli.serve import serve

        result = CliRunner().invoke(serve, ["-c", str(path)])
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert any(line.startswith("tppc.providers[0].base-url:") for line in lines)
    assert any(line.startswith("tppc.providers[1].name: duplicate name") for line in lines)


def test_missing_config_file_exits_2(tmp_path: Path) -> None:
    """A config file that does not exist is a config error too."""
    result = CliRunner().invoke(main, ["serve", "-c", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


def test_startup_lines_name_each_provider_the_models_and_management() -> None:
    """The startup summary: one line per provider (state, host, masked key, priority), models, management."""
    settings = settings_from_data({
        "tppc": {"providers": [
            {"name": "primary", "base-url": "https://relay-a.example/v1", "api-key": CANARY_PRIMARY},
            {"name": "backup", "base-url": "https://relay-b.example/v1", "api-key": CANARY_BACKUP, "enabled": False},
        ]},
    }, env={})
    lines = startup_lines(settings, "127.0.0.1", 8317, env={})
    assert lines == [
        "provider primary: enabled, host relay-a.example, key sk-c...1e5b, priority 1",
        "provider backup: disabled, host relay-b.example, key sk-c...8a0c, priority -",
        "models: gpt-5, primary/gpt-5",
        "gateway: http://127.0.0.1:8317/v1 (api key not required)",
        "management API: disabled (set remote-management.secret-key or TPPC_MANAGEMENT_KEY)",
    ]
    with_key = startup_lines(settings, "0.0.0.0", 9000, env={"TPPC_MANAGEMENT_KEY": CANARY_MANAGEMENT})
    assert with_key[-1] == "management API: http://0.0.0.0:9000/v0/management/tppc"


def _lines(stream: object, into: queue.Queue[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        into.put(line)


def test_serve_no_tppc_runs_with_only_packycode(tmp_path: Path, primary: ProviderSimulator,
                                               assert_no_canary: Callable[..., None]) -> None:
    """``serve --no-tppc`` (JSON logs) starts with every tppc provider off; packycode answers; keys stay masked."""
    with ProviderSimulator("packycode", api_key=CANARY_LEGACY) as legacy:
        config = tmp_path / "config.yaml"
        config.write_text(json.dumps({
            "tppc": {"providers": [{"name": "primary", "base-url": primary.url, "api-key": CANARY_PRIMARY}]},
            "packycode": {"enabled": True, "base-url": legacy.url, "credentials": {"openai-api-key": CANARY_LEGACY}},
        }), encoding="utf-8")
        port = free_port()
        command = [sys.executable, "-c", "from tppc_router.cli import main; main()", "serve", "-c", str(config),
                   "--port", str(port), "--no-tppc", "--log-format", "json"]
        env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
        process = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
        seen: queue.Queue[str] = queue.Queue()
        threading.Thread(target=_lines, args=(process.stderr, seen), daemon=True).start()
        log: list[str] = []
        try:
            while not any("Application startup complete" in line for line in log):
                log.append(seen.get(timeout=60))
            response = httpx.post(f"http://127.0.0.1:{port}/v1/responses", json={"model": "gpt-5", "input": "hi"})
            assert response.headers["x-tppc-provider"] == "packycode"
        finally:
            process.terminate()
            process.wait(timeout=20)
        while not seen.empty():
            log.append(seen.get())
    messages = [json.loads(line)["message"] for line in log if line.startswith("{")]
    assert f"provider packycode (legacy): enabled, host {legacy.url.split('/')[2]}, key sk-c...9b1d, priority 1" \
        in messages
    assert any(m.startswith("provider primary: disabled") for m in messages)
    assert "models: gpt-5, packycode/gpt-5" in messages
    assert primary.requests == []
    assert_no_canary("".join(log), where="serve's log")


def _run_serve(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", "from tppc_router.cli import main; main()", "serve", "-c", str(config), *args]
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, check=False)


def test_serve_on_a_port_in_use_exits_2_naming_the_port(tmp_path: Path) -> None:
    """``serve`` on a port another program listens on exits 2 with a message naming the port and --port."""
    config = tmp_path / "config.yaml"
    config.write_text("tppc:\n  providers: []\n", encoding="utf-8")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _run_serve(config, "--port", str(port))
    assert done.returncode == 2, done.stderr
    assert f"error: port {port} on 127.0.0.1 is already in use" in done.stderr
    assert "--port" in done.stderr and "server.port" in done.stderr


def test_serve_no_tppc_starts_when_the_tppc_section_is_broken(tmp_path: Path, primary: ProviderSimulator,
                                                            assert_no_canary: Callable[..., None]) -> None:
    """The rollback switch starts precisely when the tppc section is broken: its problems become masked
    warnings and packycode serves; without --no-tppc the same file exits 2."""
    with ProviderSimulator("packycode", api_key=CANARY_LEGACY) as legacy:
        config = tmp_path / "config.yaml"
        config.write_text(json.dumps({
            "tppc": {"providers": [
                {"name": "primary", "base-url": primary.url, "api-key": "os.environ/TPPC_TEST_UNSET_KEY"},
                {"name": "PRIMARY", "base-url": "not a url", "api-key": CANARY_PRIMARY},
            ]},
            "packycode": {"enabled": True, "base-url": legacy.url, "credentials": {"openai-api-key": CANARY_LEGACY}},
        }), encoding="utf-8")
        refused = _run_serve(config, "--port", str(free_port()))
        assert refused.returncode == 2
        assert "TPPC_TEST_UNSET_KEY is not set" in refused.stderr
        port = free_port()
        command = [sys.executable, "-c", "from tppc_router.cli import main; main()", "serve", "-c", str(config),
                   "--port", str(port), "--no-tppc", "--log-format", "json"]
        env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
        process = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
        seen: queue.Queue[str] = queue.Queue()
        threading.Thread(target=_lines, args=(process.stderr, seen), daemon=True).start()
        log: list[str] = []
        try:
            while not any("Application startup complete" in line for line in log):
                log.append(seen.get(timeout=60))
            response = httpx.post(f"http://127.0.0.1:{port}/v1/responses", json={"model": "gpt-5", "input": "hi"})
            assert response.status_code == 200
            assert response.headers["x-tppc-provider"] == "packycode"
        finally:
            process.terminate()
            process.wait(timeout=20)
        while not seen.empty():
            log.append(seen.get())
    records = [json.loads(line) for line in log if line.startswith("{")]
    warnings = [r["message"] for r in records if r.get("level") in ("WARNING", "warning")]
    assert any("TPPC_TEST_UNSET_KEY is not set" in w for w in warnings), warnings
    assert any("tppc.providers[1].base-url" in w for w in warnings), warnings
    assert primary.requests == []
    assert_no_canary("".join(log), where="serve's log")


FILE_LOGGER = '''
import json
from litellm.integrations.custom_logger import CustomLogger

class FileLogger(CustomLogger):
    async def async_log_success_event(self, kwargs, response_obj, start_time, end_time):
        payload = kwargs["standard_logging_object"]
        with open(__file__ + ".events", "a") as out:
            out.write(json.dumps({"group": payload["model_group"], "tokens": payload["total_tokens"]}) + "\\n")

file_logger = FileLogger()
'''


def test_serve_applies_litellm_settings_callbacks(tmp_path: Path, primary: ProviderSimulator) -> None:
    """A CustomLogger named in litellm-settings.callbacks (module next to the config) sees exactly one success
    event, with model_group and usage, per gateway /v1/responses call."""
    (tmp_path / "tppc_serve_file_logger.py").write_text(FILE_LOGGER, encoding="utf-8")
    events = tmp_path / "tppc_serve_file_logger.py.events"
    config = tmp_path / "config.yaml"
    config.write_text(json.dumps({
        "tppc": {"providers": [{"name": "primary", "base-url": primary.url, "api-key": CANARY_PRIMARY}]},
        "litellm-settings": {"callbacks": ["tppc_serve_file_logger.file_logger"]},
    }), encoding="utf-8")
    port = free_port()
    command = [sys.executable, "-c", "from tppc_router.cli import main; main()", "serve", "-c", str(config),
               "--port", str(port)]
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    process = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    seen: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_lines, args=(process.stderr, seen), daemon=True).start()
    log: list[str] = []
    try:
        while not any("Application startup complete" in line for line in log):
            log.append(seen.get(timeout=60))
        for _ in range(2):
            response = httpx.post(f"http://127.0.0.1:{port}/v1/responses", json={"model": "gpt-5", "input": "hi"},
                                  timeout=30)
            assert response.status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=20)  # shutdown drains the events still being dispatched
    while not seen.empty():
        log.append(seen.get())
    assert any("litellm-settings: callbacks: tppc_serve_file_logger.file_logger" in line for line in log)
    lines = [json.loads(line) for line in events.read_text(encoding="utf-8").splitlines()]
    assert [line["group"] for line in lines] == ["gpt-5", "gpt-5"]
    assert all(line["tokens"] > 0 for line in lines)


def test_serve_refuses_a_litellm_callback_it_cannot_import(tmp_path: Path) -> None:
    """serve exits 2 naming the litellm-settings entry that cannot be imported."""
    config = tmp_path / "config.yaml"
    config.write_text(json.dumps({"litellm-settings": {"callbacks": ["no_such_module_q.logger"]}}), encoding="utf-8")
    result = _run_serve(config, "--port", str(free_port()))
    assert result.returncode == 2
    assert "litellm-settings.callbacks[0]: cannot import 'no_such_module_q.logger'" in result.stderr
