"""Codex CLI (``@openai/codex`` 0.169.0, from the repo's package-lock.json) against a live gateway.

Codex runs ``codex exec`` with its own ``CODEX_HOME`` whose ``config.toml`` points
its model provider at the gateway (``wire_api = "responses"``), with update checks,
analytics, feedback, history and web search off, so nothing leaves loopback. The
config is read with ``--strict-config``: a key this Codex does not know fails the test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from pathlib import Path

import pytest
from gateway_live import CANARY_GATEWAY, LiveServer, StartServer, gateway_settings

from tppc_router.sim import ProviderSimulator

ROOT = Path(__file__).resolve().parents[2]
CODEX = ROOT / "node_modules" / ".bin" / "codex"
PROMPT = "say hello"
TIMEOUT_S = 60

CONFIG = """\
model = "gpt-5"
model_provider = "tppc"
model_reasoning_effort = "high"
check_for_update_on_startup = false
web_search = "disabled"

[analytics]
enabled = false

[feedback]
enabled = false

[history]
persistence = "none"

[model_providers.tppc]
name = "tppc"
base_url = "{base_url}"
wire_api = "responses"
env_key = "TPPC_GATEWAY_KEY"
request_max_retries = 0
stream_max_retries = 5
"""


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="module")
def codex() -> Path:
    """The Codex CLI from node_modules: skipped locally when not installed, a failure in CI."""
    if not CODEX.exists():
        message = f"Codex CLI not installed at {CODEX.relative_to(ROOT)}: run `npm ci` at the repo root"
        if _in_ci():
            pytest.fail(message)
        pytest.skip(message)
    if shutil.which("node") is None and _in_ci():
        pytest.fail("node is not on PATH")
    return CODEX


@pytest.fixture
def gateway(live_server: StartServer, primary: ProviderSimulator, backup: ProviderSimulator) -> LiveServer:
    """The gateway Codex talks to: primary then backup, behind a gateway key."""
    settings = gateway_settings({"primary": primary, "backup": backup}, server={"api-keys": [CANARY_GATEWAY]},
                                router={"first-byte-timeout": 2})
    return live_server(settings)


def run_codex(codex: Path, gateway: LiveServer, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """``codex exec`` in an empty directory, stdin closed, with only the environment it needs."""
    home = tmp_path / "codex-home"
    work = tmp_path / "work"
    home.mkdir(exist_ok=True)
    work.mkdir(exist_ok=True)
    (home / "config.toml").write_text(CONFIG.format(base_url=gateway.base_url), encoding="utf-8")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "CODEX_HOME": str(home),
        "TPPC_GATEWAY_KEY": CANARY_GATEWAY,
        "NO_COLOR": "1",
    }
    return subprocess.run(
        [str(codex), "exec", "--strict-config", "--skip-git-repo-check", PROMPT],
        cwd=work, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=TIMEOUT_S, check=False,
    )


def test_codex_gets_the_primary_answer(codex: Path, gateway: LiveServer, tmp_path: Path,
                                       primary: ProviderSimulator, backup: ProviderSimulator) -> None:
    """With every provider healthy, Codex prints the primary's answer, sent through the gateway."""
    result = run_codex(codex, gateway, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"Hello from primary. You said: {PROMPT}" in result.stdout
    request = primary.requests[-1]
    assert (request.path, request.stream, request.outcome) == ("/v1/responses", True, "ok")
    assert request.headers.get("originator") == "codex_exec"
    assert backup.requests == []
    assert CANARY_GATEWAY not in result.stdout + result.stderr


def test_codex_gets_the_backup_answer_when_primary_fails(codex: Path, gateway: LiveServer, tmp_path: Path,
                                                         primary: ProviderSimulator) -> None:
    """With the primary answering 500, Codex still gets an answer: the backup's."""
    primary.set_fault("status:500")
    result = run_codex(codex, gateway, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"Hello from backup. You said: {PROMPT}" in result.stdout
    assert primary.requests and {r.outcome for r in primary.requests} == {"status"}


def test_codex_retries_a_stream_cut_after_content(codex: Path, gateway: LiveServer, tmp_path: Path,
                                                  primary: ProviderSimulator, backup: ProviderSimulator) -> None:
    """A stream cut mid-answer ends with ``error`` + ``response.failed``, which Codex retries: the primary is
    healed as soon as it has cut one stream, and the retry gets the whole answer."""
    primary.set_fault("cut-after:12")
    stop = threading.Event()

    def heal_after_first_cut() -> None:
        while not stop.wait(0.005):
            if any(r.outcome == "cut-after" for r in primary.requests):
                primary.clear_faults()
                return

    healer = threading.Thread(target=heal_after_first_cut, daemon=True)
    healer.start()
    try:
        result = run_codex(codex, gateway, tmp_path)
    finally:
        stop.set()
        healer.join()
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"Hello from primary. You said: {PROMPT}" in result.stdout
    assert "Reconnecting... 1/5" in result.stderr
    assert [r.outcome for r in primary.requests] == ["cut-after", "ok"]
    assert backup.requests == []
