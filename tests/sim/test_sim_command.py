"""``tppc-router simulate``, driven through click's test runner."""

from __future__ import annotations

import httpx
import pytest
from click.testing import CliRunner

from tppc_router.sim import ProviderSimulator, command

KEY = "sk-cli-secret-0123456789"


class _Recording(ProviderSimulator):
    """A simulator that remembers the last instance, so a test can reach it."""

    last: ProviderSimulator | None = None

    def start(self) -> _Recording:
        _Recording.last = self
        super().start()
        return self


def test_simulate_serves_until_interrupted(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command prints one line (masked key, models, faults), serves, and stops on Ctrl-C."""
    statuses: list[int] = []

    def fake_wait() -> None:
        sim = _Recording.last
        assert sim is not None
        headers = {"authorization": f"Bearer {KEY}"}
        body = {"model": "b", "messages": [{"role": "user", "content": "x"}]}
        statuses.append(httpx.post(f"{sim.url}/chat/completions", json=body, headers=headers).status_code)
        statuses.append(httpx.get(f"{sim.url}/models", headers=headers).status_code)
        raise KeyboardInterrupt

    monkeypatch.setattr(command, "ProviderSimulator", _Recording)
    monkeypatch.setattr(command, "wait_for_interrupt", fake_wait)
    args = ["--port", "0", "--name", "relay", "--api-key", KEY, "--model", "a", "--model", "b"]
    result = CliRunner().invoke(command.simulate, [*args, "--fault", "status:503,retry-after=1", "--seed", "3"])
    assert result.exit_code == 0, result.output
    first = result.output.splitlines()[0]
    assert first.startswith("simulator relay at http://127.0.0.1:")
    assert "sk-c...6789" in first and KEY not in result.output
    assert "models: a, b" in first and "faults: status:503,retry-after=1" in first
    assert statuses == [503, 200]
    assert "stopped" in result.output
    assert _Recording.last is not None and not _Recording.last.running


def test_simulate_rejects_bad_fault() -> None:
    """A bad ``--fault`` is a usage error that names the bad part."""
    result = CliRunner().invoke(command.simulate, ["--port", "0", "--fault", "status:abc"])
    assert result.exit_code == 2
    assert "status 'abc' is not an integer" in result.output


def test_simulate_reports_port_in_use() -> None:
    """A taken port is a clean error, not a traceback."""
    with ProviderSimulator() as busy:
        result = CliRunner().invoke(command.simulate, ["--port", str(busy.port)])
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{busy.port}" in result.output


def test_describe_without_key_or_faults() -> None:
    """The status line says when there is no key and no fault."""
    sim = ProviderSimulator("p", models=())
    assert describe_tail(command.describe(sim)) == "(api key: none; models: any; faults: none)"


def describe_tail(line: str) -> str:
    """The parenthesised part of a status line."""
    return line[line.index("(") :]
