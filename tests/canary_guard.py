"""Canary guard: a pytest plugin that fails any test whose output shows a canary key.

Registered from ``tests/conftest.py`` (``pytest_plugins``). A canary is any constant
of ``tests/canaries.py`` whose name contains ``CANARY``, and anything matching
``sk-canary-[A-Za-z0-9-]+`` or ``mgmt-canary-[A-Za-z0-9-]+``. For every test it checks:

* log output: a handler on the root logger at DEBUG (root, ``tppc_router`` and
  litellm's loggers are set to DEBUG for the test). A record leaks when the line
  the production handler would write (:mod:`tppc_router.ops.logs`: message and
  traceback through ``mask_text``) still shows a canary;
* the test's captured stdout and stderr (``print``, CLI runs, litellm's own handler);
* the failure text of a failing test;
* every ``CliRunner.invoke`` result (output, stderr, exception);
* HTTP response bodies and headers of a live server whose app is wrapped with
  :func:`canary_asgi` (``uvicorn.Config(canary_asgi(app), ...)``); ``/metrics``
  included;
* anything a test hands to :func:`assert_no_canary` (also a fixture).

A test that leaks fails (the guard's report names where, with the canary masked).
Leaks outside any test fail the session. ``@pytest.mark.canary_guard_off(reason)``
turns the guard off for one test that prints a canary on purpose.
"""

from __future__ import annotations

import importlib
import logging
import re
import threading
from collections.abc import Awaitable, Callable, Generator, Iterable, MutableMapping
from typing import Any

import pytest

from tppc_router.ops.logs import LITELLM_LOGGERS, mask_third_party_loggers, route_litellm_through_root
from tppc_router.masking import mask, mask_text

__all__ = [
    "CANARY_PATTERN",
    "CanaryASGI",
    "assert_no_canary",
    "canary_asgi",
    "canary_literals",
    "find_canaries",
    "record_leak",
]

CANARY_PATTERN = re.compile(r"(?:sk|mgmt)-canary-[A-Za-z0-9-]+")
DEBUG_LOGGERS: tuple[str, ...] = ("", "tppc_router", *LITELLM_LOGGERS)
_MARKER = "canary_guard_off"
_MAX_BODY = 16 * 1024 * 1024


def _canary_values(module: Any) -> Iterable[str]:
    for name, value in vars(module).items():
        if "CANARY" not in name.upper() or name.startswith("_"):
            continue
        if isinstance(value, str):
            yield value
        elif isinstance(value, tuple | list | set | frozenset):
            yield from (v for v in value if isinstance(v, str))


def canary_literals() -> tuple[str, ...]:
    """The constants of ``tests/canaries.py`` (imported as ``canaries`` or ``tests.canaries``), if it exists."""
    for name in ("canaries", "tests.canaries"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        return tuple(sorted({v for v in _canary_values(module) if len(v) >= 8}, key=len, reverse=True))
    return ()


_LITERALS: tuple[str, ...] | None = None


def _literals() -> tuple[str, ...]:
    global _LITERALS
    if _LITERALS is None:
        _LITERALS = canary_literals()
    return _LITERALS


def find_canaries(text: str) -> list[str]:
    """Every canary in ``text``: the known constants and the pattern's matches."""
    found = {literal for literal in _literals() if literal in text}
    found.update(CANARY_PATTERN.findall(text))
    return sorted(found)


def _shown(canaries: Iterable[str]) -> str:
    return ", ".join(mask(c) for c in canaries)


def assert_no_canary(*texts: object, where: str = "output") -> None:
    """Fail if any canary appears in ``texts`` (``str()`` of each; bytes decoded).
    The message shows the canaries masked, so the failure cannot leak them again."""
    for text in texts:
        shown = text.decode("utf-8", "replace") if isinstance(text, bytes | bytearray) else str(text)
        leaked = find_canaries(shown)
        if leaked:
            raise AssertionError(f"canary key leaked in {where}: {_shown(leaked)}")


# --------------------------------------------------------------------------- leaks seen outside the test's thread


class _Leaks:
    """Leaks reported by log handlers, server threads and CLI runs, until the guard reads them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[str] = []

    def add(self, where: str, canaries: Iterable[str]) -> None:
        with self._lock:
            self._items.append(f"{where}: {_shown(canaries)}")

    def drain(self) -> list[str]:
        with self._lock:
            items, self._items = self._items, []
        return items


LEAKS = _Leaks()


def record_leak(text: object, where: str) -> bool:
    """Note (without raising) any canary in ``text``; the running test fails at its end."""
    shown = text.decode("utf-8", "replace") if isinstance(text, bytes | bytearray) else str(text)
    leaked = find_canaries(shown)
    if leaked:
        LEAKS.add(where, leaked)
    return bool(leaked)


# --------------------------------------------------------------------------- HTTP responses of a live server

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class CanaryASGI:
    """Wraps an ASGI app: every HTTP response's headers and body are checked for
    canaries (streams too, when they end or are cut). Attributes pass through."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        where = f"HTTP response of {scope.get('method', '?')} {scope.get('path', '?')}"
        body = bytearray()
        checked = False

        async def checked_send(message: Message) -> None:
            nonlocal checked
            if message.get("type") == "http.response.start":
                headers = b"\n".join(k + b": " + v for k, v in message.get("headers", []))
                record_leak(headers, where + " (headers)")
            elif message.get("type") == "http.response.body":
                if len(body) < _MAX_BODY:
                    body.extend(message.get("body", b""))
                if not message.get("more_body", False):
                    checked = True
                    record_leak(body, where)
            await send(message)

        try:
            await self.app(scope, receive, checked_send)
        finally:
            if not checked:
                record_leak(body, where)


def canary_asgi(app: Any) -> CanaryASGI:
    """``app`` with every HTTP response checked for canaries; serve this one in live-server fixtures."""
    return CanaryASGI(app)


# --------------------------------------------------------------------------- log records


class _LogGuard(logging.Handler):
    """Checks each record: ours raw, third-party ones as the production handler writes them (masked)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self._formatter = logging.Formatter()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
            if record.exc_info and not record.exc_text:
                text += "\n" + self._formatter.formatException(record.exc_info)
            elif record.exc_text:
                text += "\n" + record.exc_text
            if record.stack_info:
                text += "\n" + record.stack_info
        except Exception:  # noqa: BLE001 - a broken record is not a leak
            return
        if not find_canaries(text):  # fast path: the raw record is clean, so is its masked line
            return
        # Our own log lines must never hold a key, masked or not: check them raw. Third-party lines
        # (litellm at DEBUG) are checked as the production handler writes them, masked.
        own = (record.name or "").startswith("tppc_router")
        record_leak(text if own else mask_text(text), f"log record of {record.name or 'root'} ({record.levelname})")


# --------------------------------------------------------------------------- pytest hooks


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{_MARKER}(reason): the canary guard ignores this test's output")
    mask_third_party_loggers()  # as configure_logging does in the server
    route_litellm_through_root()
    _patch_cli_runner(config)


def pytest_unconfigure(config: pytest.Config) -> None:
    restore = config.stash.get(_RESTORE_CLI, None)
    if restore is not None:
        restore()


_RESTORE_CLI = pytest.StashKey[Callable[[], None]]()
_SESSION_LEAKS = pytest.StashKey[list[str]]()


def _patch_cli_runner(config: pytest.Config) -> None:
    try:
        from click.testing import CliRunner
    except ImportError:  # pragma: no cover - click is a dependency
        return
    original = CliRunner.invoke

    def invoke(self: CliRunner, cli: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, cli, *args, **kwargs)
        name = getattr(cli, "name", None) or "command"
        parts = [result.output]
        try:
            parts.append(result.stderr)
        except ValueError:  # stderr not captured separately
            pass
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            parts.append(repr(result.exception))
        record_leak("\n".join(p for p in parts if p), f"CLI output of {name!r}")
        return result

    CliRunner.invoke = invoke  # type: ignore[method-assign]

    def restore() -> None:
        CliRunner.invoke = original  # type: ignore[method-assign]

    config.stash[_RESTORE_CLI] = restore


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, None, None]:
    stray = LEAKS.drain()  # leaks between tests (module fixtures, collection) belong to the session
    if stray:
        item.config.stash.setdefault(_SESSION_LEAKS, []).extend(stray)
    guard = _LogGuard()
    saved = [(logging.getLogger(name), logging.getLogger(name).level) for name in DEBUG_LOGGERS]
    root = logging.getLogger()
    root.addHandler(guard)
    for logger, _ in saved:
        logger.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        root.removeHandler(guard)
        for logger, level in saved:
            logger.setLevel(level)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    leaks = LEAKS.drain()
    for header, content in report.sections:
        if header.startswith("Captured std") and header.endswith(f" {report.when}"):
            leaked = find_canaries(content)
            if leaked:
                leaks.append(f"{header.lower()}: {_shown(leaked)}")
    if report.longrepr is not None and (report.failed or hasattr(report, "wasxfail")):
        leaked = find_canaries(report.longreprtext)
        if leaked:
            leaks.append(f"failure text: {_shown(leaked)}")
    if not leaks or item.get_closest_marker(_MARKER) is not None:
        return
    message = "canary key leaked (tests/canary_guard.py):\n" + "\n".join(f"  {leak}" for leak in leaks)
    if report.failed:
        report.sections.append(("canary guard", message))
        return
    report.outcome = "failed"
    report.longrepr = message
    if hasattr(report, "wasxfail"):
        del report.wasxfail


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    leaks = session.config.stash.setdefault(_SESSION_LEAKS, [])
    leaks.extend(LEAKS.drain())
    if leaks and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    leaks = config.stash.get(_SESSION_LEAKS, [])
    if leaks:
        terminalreporter.section("canary guard: keys leaked outside any test", red=True)
        for leak in leaks:
            terminalreporter.line(leak)


@pytest.fixture(name="assert_no_canary")
def _assert_no_canary_fixture() -> Callable[..., None]:
    """``assert_no_canary(*texts, where=...)``: fail if any canary appears in ``texts``."""
    return assert_no_canary
