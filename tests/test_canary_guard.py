"""The canary guard can fail: leaking tests in a separate pytest run are caught, clean ones pass."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import canary_guard
import pytest
from canary_guard import CANARY_PATTERN, assert_no_canary, find_canaries

from tppc_router.masking import mask

TESTS_DIR = Path(__file__).resolve().parent
LEAK = "sk-canary-inner-0123456789"
LOG_LEAK = "mgmt-canary-inner-0123456789"  # mask_text hides any sk-... token in a log line; this one it cannot

INNER_TESTS = '''
import asyncio
import logging

import click
import pytest
from click.testing import CliRunner

from canary_guard import canary_asgi

LEAK = "sk-canary-" + "inner-0123456789"
LOG_LEAK = "mgmt-canary-" + "inner-0123456789"


def test_clean():
    print("nothing secret here")
    logging.getLogger("tppc_router.routing.failover").warning("failover for gpt-5: primary -> backup")


def test_print_leak():
    print("key is", LEAK)


def test_log_leak():
    logging.getLogger("tppc_router.routing.upstream").debug("sending %s", LOG_LEAK)


def test_log_masked_at_source():
    from tppc_router.masking import get_logger

    get_logger("tppc_router.routing.upstream").info("headers: Authorization: Bearer %s", LOG_LEAK)


def test_own_log_unmasked_leak():
    logging.getLogger("tppc_router.elsewhere").info("headers: Authorization: Bearer %s", LOG_LEAK)


def test_litellm_debug_leak():
    logging.getLogger("LiteLLM").debug("litellm params: %s", LOG_LEAK)


def test_exception_log_leak():
    try:
        raise RuntimeError("bad key " + LOG_LEAK)
    except RuntimeError:
        logging.getLogger("tppc_router.server").exception("request failed")


def test_cli_leak():
    @click.command()
    def show():
        click.echo(LEAK)

    assert CliRunner().invoke(show).exit_code == 0


def test_http_body_leak():
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"metric{key=\\"" + LEAK.encode() + b"\\"} 1"})

    async def call():
        sent = []

        async def receive():
            return {"type": "http.request", "body": b""}

        async def send(message):
            sent.append(message)

        await canary_asgi(app)({"type": "http", "method": "GET", "path": "/metrics"}, receive, send)

    asyncio.run(call())


def test_failure_text_leak():
    assert LEAK == "something else"


def test_management_pattern_leak():
    print("mgmt-canary-" + "abc123")


@pytest.mark.canary_guard_off("prints a canary on purpose")
def test_marked_off():
    print(LEAK)
'''

SESSION_LEAK = '''
from canary_guard import record_leak

record_leak("sk-canary-" + "at-import-0123456789", "module import")


def test_passes():
    pass
'''


def run_inner(tmp_path: Path, source: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "pytest.ini").write_text("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    (tmp_path / "test_inner.py").write_text(textwrap.dedent(source))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS_DIR), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "canary_guard", "-p", "no:cacheprovider", "-rA", "-q", "test_inner.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )


def outcomes(output: str) -> dict[str, str]:
    return {name: status for status, name in re.findall(r"^(PASSED|FAILED|ERROR) test_inner\.py::(\w+)", output,
                                                             re.MULTILINE)}


@pytest.fixture(scope="module")
def inner_run(tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess[str]:
    return run_inner(tmp_path_factory.mktemp("inner"), INNER_TESTS)


@pytest.mark.parametrize(
    ("test", "expected"),
    [
        ("test_clean", "PASSED"),
        ("test_print_leak", "FAILED"),
        ("test_log_leak", "FAILED"),
        ("test_log_masked_at_source", "PASSED"),
        ("test_own_log_unmasked_leak", "FAILED"),
        ("test_litellm_debug_leak", "FAILED"),
        ("test_exception_log_leak", "FAILED"),
        ("test_cli_leak", "FAILED"),
        ("test_http_body_leak", "FAILED"),
        ("test_failure_text_leak", "FAILED"),
        ("test_management_pattern_leak", "FAILED"),
        ("test_marked_off", "PASSED"),
    ],
)
def test_guard_outcome(inner_run: subprocess.CompletedProcess[str], test: str, expected: str) -> None:
    """Each kind of leak fails its test; a clean, a masked and a marked test pass."""
    assert outcomes(inner_run.stdout).get(test) == expected, f"{test}: see the inner run (exit {inner_run.returncode})"


def test_guard_reports_where_with_the_canary_masked(inner_run: subprocess.CompletedProcess[str]) -> None:
    """The guard's report says where the key leaked and shows it only masked."""
    out = inner_run.stdout
    assert inner_run.returncode == 1
    assert f"captured stdout call: {mask(LEAK)}" in out
    assert f"log record of LiteLLM (DEBUG): {mask(LOG_LEAK)}" in out
    assert f"log record of tppc_router.server (ERROR): {mask(LOG_LEAK)}" in out
    assert f"CLI output of 'show': {mask(LEAK)}" in out
    assert f"HTTP response of GET /metrics: {mask(LEAK)}" in out
    assert f"failure text: {mask(LEAK)}" in out
    kinds = ("  captured", "  log record", "  CLI output", "  HTTP response", "  failure text")
    guard_lines = [line for line in out.splitlines() if line.startswith(kinds)]
    assert len(guard_lines) >= 8 and all(LEAK not in line and LOG_LEAK not in line for line in guard_lines)


def test_leak_outside_any_test_fails_the_session(tmp_path: Path) -> None:
    """A leak at import time fails the run even though every test passed."""
    result = run_inner(tmp_path, SESSION_LEAK)
    assert outcomes(result.stdout) == {"test_passes": "PASSED"}
    assert result.returncode == 1
    assert "canary guard: keys leaked outside any test" in result.stdout
    assert "module import: sk-c...6789" in result.stdout


def test_find_canaries_uses_literals_and_patterns(monkeypatch: pytest.MonkeyPatch) -> None:
    """Known constants are found even without the sk-canary- shape; the patterns catch the rest."""
    monkeypatch.setattr(canary_guard, "_LITERALS", ("plain-secret-value-42",))
    text = "a plain-secret-value-42 b sk-canary-x1 c mgmt-canary-y-2 d sk-c...9c1e"
    assert find_canaries(text) == ["mgmt-canary-y-2", "plain-secret-value-42", "sk-canary-x1"]
    assert CANARY_PATTERN.search(mask("sk-canary-primary-7f3a9c1e5b")) is None


def test_assert_no_canary_masks_its_own_message() -> None:
    """assert_no_canary fails on a canary, and its message shows the canary masked."""
    assert_no_canary("clean text", b"clean bytes")
    with pytest.raises(AssertionError) as info:
        assert_no_canary(b"body " + LEAK.encode(), where="a response")
    assert str(info.value) == f"canary key leaked in a response: {mask(LEAK)}"


def test_canaries_module_is_loaded() -> None:
    """The constants of tests/canaries.py are known to the guard."""
    from canaries import ALL_CANARIES

    assert set(ALL_CANARIES) <= set(canary_guard.canary_literals())
