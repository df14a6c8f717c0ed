"""A real LiteLLM proxy (``litellm --config``, litellm[proxy] 1.106.2 from tests/requirements-proxy.txt) set up
from ``tppc-router export --format litellm-proxy``, with the tppc gateway beside it, driven by the openai SDK
and Codex CLI.

These tests run in ``.venv-proxy`` (``scripts/test.sh`` builds it and runs them with ``--litellm-proxy``);
in the main venv they are skipped, since its litellm (1.110) has no installable proxy.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import yaml
from canaries import CANARY_BACKUP, CANARY_PRIMARY
from gateway_live import LiveServer, free_port, running
from test_codex_cli import CONFIG as CODEX_CONFIG
from test_codex_cli import PROMPT, _in_ci

from tppc_router.config.loader import load_settings
from tppc_router.routing.failover import set_testing
from tppc_router.server import create_app
from tppc_router.sim import ProviderSimulator

pytestmark = pytest.mark.litellm_proxy

ROOT = Path(__file__).resolve().parents[2]
CODEX = ROOT / "node_modules" / ".bin" / "codex"
MASTER_KEY = "sk-litellm-master-for-tests-91c2"
PROXY_START_S = 240.0
RETRIES = 1  # router.same-provider-retries in the test config: a 503 is tried 1 + 1 times on one provider
BODY: dict[str, Any] = {"model": "gpt-5", "input": "Tell me something", "include": ["reasoning.encrypted_content"]}


class Stack:
    """Two simulators, the tppc gateway, and a LiteLLM proxy in front of it."""

    def __init__(self, primary: ProviderSimulator, backup: ProviderSimulator, gateway: LiveServer, proxy_url: str,
                 export: dict[str, Any]) -> None:
        self.primary = primary
        self.backup = backup
        self.gateway = gateway
        self.proxy_url = proxy_url
        self.export = export

    def client(self) -> openai.OpenAI:
        """An openai SDK client on the proxy (no SDK retries: what happens is the proxy's and ours)."""
        return openai.OpenAI(base_url=self.proxy_url + "/v1", api_key=MASTER_KEY, max_retries=0, timeout=60)

    def reset(self) -> None:
        for sim in (self.primary, self.backup):
            sim.clear_faults()
            sim.clear_requests()


def _wait_for_proxy(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + PROXY_START_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"litellm proxy exited ({process.returncode}):\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url + "/health/liveliness", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"litellm proxy did not start in {PROXY_START_S:.0f} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Everything running, set up as the docs say: validate a tppc config, export it, serve it, start the proxy."""
    litellm_cli = Path(sys.executable).with_name("litellm")
    if not litellm_cli.exists():
        pytest.fail(f"no litellm proxy CLI at {litellm_cli}: build .venv-proxy with scripts/test.sh")
    set_testing(True)
    tmp = tmp_path_factory.mktemp("litellm-proxy")
    env = {**os.environ, "PRIMARY_API_KEY": CANARY_PRIMARY, "BACKUP_API_KEY": CANARY_BACKUP}
    with ProviderSimulator("primary", api_key=CANARY_PRIMARY) as primary, \
            ProviderSimulator("backup", api_key=CANARY_BACKUP) as backup:
        config = tmp / "tppc.yaml"

        def write_config(port: int) -> None:
            config.write_text(yaml.safe_dump({
                "tppc": {"models": ["gpt-5"], "providers": [
                    {"name": "primary", "base-url": primary.url, "api-key": "os.environ/PRIMARY_API_KEY"},
                    {"name": "backup", "base-url": backup.url, "api-key": "os.environ/BACKUP_API_KEY"},
                ]},
                "router": {"same-provider-retries": RETRIES, "failure-threshold": 1000},
                "server": {"host": "127.0.0.1", "port": port},
            }), encoding="utf-8")

        write_config(0)
        os.environ.update(PRIMARY_API_KEY=CANARY_PRIMARY, BACKUP_API_KEY=CANARY_BACKUP)
        try:
            settings = load_settings(config)
        finally:
            for name in ("PRIMARY_API_KEY", "BACKUP_API_KEY"):
                os.environ.pop(name, None)
        with running(create_app(settings)) as gateway:
            write_config(gateway.port)  # the port the gateway got, as an operator would write it
            exported = subprocess.run(
                [sys.executable, "-m", "tppc_router.cli", "export", "--format", "litellm-proxy", str(config)],
                env=env, capture_output=True, text=True, check=True, timeout=60)
            proxy_config = tmp / "proxy.yaml"
            proxy_config.write_text(exported.stdout, encoding="utf-8")
            proxy_port = free_port()
            proxy_url = f"http://127.0.0.1:{proxy_port}"
            log = tmp / "proxy.log"
            proxy_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp),
                         "LITELLM_MASTER_KEY": MASTER_KEY, "LITELLM_LOCAL_MODEL_COST_MAP": "True",
                         "LITELLM_TELEMETRY": "False"}
            with log.open("wb") as sink:
                process = subprocess.Popen(
                    [str(litellm_cli), "--config", str(proxy_config), "--host", "127.0.0.1", "--port",
                     str(proxy_port)], cwd=tmp, env=proxy_env, stdin=subprocess.DEVNULL, stdout=sink,
                    stderr=subprocess.STDOUT)
                try:
                    _wait_for_proxy(process, proxy_url, log)
                    yield Stack(primary, backup, gateway, proxy_url, yaml.safe_load(exported.stdout))
                finally:
                    process.terminate()
                    try:
                        process.wait(20)
                    except subprocess.TimeoutExpired:
                        process.kill()
                        process.wait(20)
    set_testing(False)


@pytest.fixture
def proxy(stack: Stack) -> Stack:
    """The stack with healthy providers and empty request logs."""
    stack.reset()
    return stack


def _sse_types(response: httpx.Response) -> list[str]:
    """The ``type`` of every event's data, in order (LiteLLM's proxy writes no ``event:`` lines)."""
    payloads = [line[6:] for line in response.iter_lines() if line.startswith("data: ") and line != "data: [DONE]"]
    return [str(json.loads(payload).get("type")) for payload in payloads]


def _stream_types(url: str, key: str) -> list[str]:
    with httpx.stream("POST", url + "/v1/responses", json={**BODY, "stream": True},
                      headers={"authorization": f"Bearer {key}"}, timeout=60) as response:
        assert response.status_code == 200, response.read()
        return _sse_types(response)


def test_export_has_no_secret_and_reads_the_master_key_from_the_env(proxy: Stack) -> None:
    """The exported proxy config names LITELLM_MASTER_KEY by reference and holds no provider key."""
    assert proxy.export["general_settings"]["master_key"] == "os.environ/LITELLM_MASTER_KEY"
    text = yaml.safe_dump(proxy.export)
    assert MASTER_KEY not in text and CANARY_PRIMARY not in text and CANARY_BACKUP not in text


def test_proxy_refuses_a_client_without_its_key(proxy: Stack) -> None:
    """The proxy keeps its own auth: a request without the master key, or with another key, is refused and
    reaches no provider (LiteLLM 1.106.2 without a database answers them 500 and 400 "No connected db")."""
    missing = httpx.post(proxy.proxy_url + "/v1/responses", json=BODY, timeout=30)
    wrong = httpx.post(proxy.proxy_url + "/v1/responses", json=BODY, headers={"authorization": "Bearer sk-wrong-1"},
                       timeout=30)
    assert missing.status_code >= 400 and wrong.status_code >= 400
    assert proxy.primary.requests == [] and proxy.backup.requests == []


def test_responses_fail_over_to_the_backup_through_the_proxy(proxy: Stack) -> None:
    """Primary 503: the openai SDK gets the backup's answer, reasoning included; the primary is tried only as
    often as our fault table says (1 + same-provider-retries), the proxy adds no retry."""
    proxy.primary.set_fault("status:503")
    answer = proxy.client().responses.create(**BODY)
    assert answer.output_text.startswith("Hello from backup.")
    reasoning = [item for item in answer.output if item.type == "reasoning"]
    assert reasoning and reasoning[0].encrypted_content
    assert len(proxy.primary.requests) == 1 + RETRIES
    assert [r.outcome for r in proxy.backup.requests] == ["ok"]


def test_streamed_responses_keep_every_event_type(proxy: Stack) -> None:
    """Through the proxy a stream carries the same event types, in the same order, as from the gateway itself
    (reasoning summary events and encrypted reasoning included), also after a failover."""
    direct = _stream_types(proxy.gateway.url, "unused")
    proxy.reset()
    proxy.primary.set_fault("status:503")
    via_proxy = _stream_types(proxy.proxy_url, MASTER_KEY)
    assert via_proxy == direct
    assert {"response.reasoning_summary_text.delta", "response.output_item.done", "response.completed"} <= set(direct)
    assert len(proxy.primary.requests) == 1 + RETRIES
    assert [r.outcome for r in proxy.backup.requests] == ["ok"]
    with proxy.client().responses.stream(**BODY) as stream:
        items = [event.item for event in stream if event.type == "response.output_item.done"]
    assert [item.type for item in items] == ["reasoning", "message"]
    assert items[0].encrypted_content


def test_chat_completions_fail_over_through_the_proxy(proxy: Stack) -> None:
    """/v1/chat/completions, plain and streamed, is answered by the backup when the primary answers 503."""
    proxy.primary.set_fault("status:503")
    client = proxy.client()
    messages = [{"role": "user", "content": "Tell me something"}]
    answer = client.chat.completions.create(model="gpt-5", messages=messages)  # type: ignore[arg-type]
    assert (answer.choices[0].message.content or "").startswith("Hello from backup.")
    chunks = client.chat.completions.create(model="gpt-5", messages=messages, stream=True)  # type: ignore[arg-type]
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text.startswith("Hello from backup.")


def test_codex_cli_through_the_proxy_gets_the_backup_answer(proxy: Stack, tmp_path: Path) -> None:
    """Codex CLI pointed at the LiteLLM proxy (its master key as the provider key) prints the backup's answer
    when the primary answers 503."""
    if not CODEX.exists():
        message = f"Codex CLI not installed at {CODEX.relative_to(ROOT)}: run `npm ci` at the repo root"
        if _in_ci():
            pytest.fail(message)
        pytest.skip(message)
    proxy.primary.set_fault("status:503")
    home, work = tmp_path / "codex-home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    config = CODEX_CONFIG.format(base_url=proxy.proxy_url + "/v1").replace('env_key = "TPPC_GATEWAY_KEY"',
                                                                           'env_key = "LITELLM_KEY"')
    (home / "config.toml").write_text(config, encoding="utf-8")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "CODEX_HOME": str(home),
           "LITELLM_KEY": MASTER_KEY, "NO_COLOR": "1"}
    result = subprocess.run([str(CODEX), "exec", "--strict-config", "--skip-git-repo-check", PROMPT], cwd=work,
                            env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"Hello from backup. You said: {PROMPT}" in result.stdout
    assert 1 <= len(proxy.primary.requests) <= 1 + RETRIES
    request = proxy.backup.requests[-1]
    assert (request.path, request.stream, request.outcome) == ("/v1/responses", True, "ok")
    assert MASTER_KEY not in result.stdout + result.stderr

