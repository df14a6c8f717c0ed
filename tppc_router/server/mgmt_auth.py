"""Who may use ``/v0/management``: the management key, loopback-only access, lockout.

Conventions follow CLIProxyAPI's management API:

- The secret is ``remote-management.secret-key`` (stored bcrypt-hashed; a plaintext
  value is hashed on first load and written back) or the ``TPPC_MANAGEMENT_KEY``
  environment variable. With neither, every management route answers 404.
- The key comes as ``X-Management-Key: <key>`` or ``Authorization: Bearer <key>``.
- A client that is not on loopback gets 403 unless ``remote-management.allow-remote``.
- Five failed attempts from one client lock it out for 30 minutes (429 + Retry-After). The
  client is the real TCP peer (``serve`` believes no proxy header unless
  ``server.trusted-proxies``), every loopback address counting as one; a global budget
  limits failures from everyone (:mod:`tppc_router.server.lockout`).
- A key given in plain text or through the environment has at least 16 characters.

The key is compared in constant time and never logged, echoed or put in a repr.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import math
import os

import secrets
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import bcrypt
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request

from tppc_router.clock import Clock, monotonic
from tppc_router.config.sanitize import BCRYPT_HASH, management_key_problem
from tppc_router.config.schema import Settings
from tppc_router.configfile.document import parse_document
from tppc_router.configfile.store import ConfigStore, store_for
from tppc_router.errors import ConfigError, ManagementError
from tppc_router.configfile.edits import set_secret_key
from tppc_router.secret import Secret
from tppc_router.server.lockout import LOCKOUT_SECONDS, MAX_FAILURES, Lockout, LogBudget
from tppc_router.server.runtime import Runtime
from tppc_router.masking import get_logger

__all__ = [
    "ENV_VAR",
    "Caller",
    "ManagementAuth",
    "ManagementAuthError",
    "auth_for",
    "forwarded_for",
    "hash_secret_on_load",
    "is_bcrypt_hash",
    "is_loopback",
    "is_remote",
    "provided_key",
    "require_management",
    "runtime_of",
]

logger = get_logger("tppc_router.management")

ENV_VAR = "TPPC_MANAGEMENT_KEY"
_BCRYPT = BCRYPT_HASH
_BCRYPT_MAX_BYTES = 72


class ManagementAuthError(ManagementError):
    """401/403/429 from the management gate, with the headers that go with it."""

    type = "authentication_error"

    def __init__(self, message: str, *, status_code: int, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message, status_code=status_code)
        self.headers = dict(headers or {})


# -- pure checks -----------------------------------------------------------------------------


def is_bcrypt_hash(value: str) -> bool:
    """``$2a$``/``$2b$``/``$2y$`` + cost + 53 characters: already hashed, never re-hashed."""
    return bool(_BCRYPT.match(value))


def _address(value: str) -> str:
    """``"[::1]:80"`` -> ``::1``; ``10.0.0.1:80`` -> ``10.0.0.1``; quotes dropped."""
    value = value.strip().strip('"')
    if value.startswith("["):
        return value[1:].partition("]")[0]
    if value.count(":") == 1:
        return value.partition(":")[0]
    return value


def is_loopback(host: str | None) -> bool:
    """True for 127.0.0.0/8, ``::1`` and ``::ffff:127.x``; anything unparsable is not loopback."""
    if not host:
        return False
    try:
        address = ipaddress.ip_address(_address(host))
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def forwarded_for(headers: Mapping[str, str]) -> tuple[str, ...]:
    """Every client address a proxy named: ``X-Forwarded-For``, ``X-Real-IP``, ``Forwarded: for=``."""
    found: list[str] = []
    for part in headers.get("x-forwarded-for", "").split(","):
        if part.strip():
            found.append(_address(part))
    if headers.get("x-real-ip", "").strip():
        found.append(_address(headers["x-real-ip"]))
    for element in headers.get("forwarded", "").split(","):
        for pair in element.split(";"):
            name, _, value = pair.partition("=")
            if name.strip().lower() == "for" and value.strip():
                found.append(_address(value))
    return tuple(found)


def is_remote(peer: str | None, forwarded: Sequence[str] = ()) -> bool:
    """True unless the peer and every address a proxy forwarded for are loopback.

    A forwarded header can only make a request *more* remote: a local proxy that
    names a remote client makes it remote, and a remote client that claims to be
    ``127.0.0.1`` is still judged by its own (remote) peer address.
    """
    return not is_loopback(peer) or not all(is_loopback(a) for a in forwarded)


def provided_key(headers: Mapping[str, str]) -> str | None:
    """The key from ``X-Management-Key``, else from ``Authorization: Bearer <key>``."""
    key = headers.get("x-management-key", "").strip()
    if key:
        return key
    value = headers.get("authorization", "").strip()
    scheme, _, rest = value.partition(" ")
    if scheme.lower() == "bearer":
        rest = rest.strip()
        return rest if rest and not any(c.isspace() for c in rest) else None
    # CLIProxyAPI also takes a bare ``Authorization: <key>``; ``<key> junk`` is no key at all.
    return value if value and not any(c.isspace() for c in value) else None


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: the peer address and any addresses a proxy forwarded for.

    ``peer`` is ``request.client.host``: the TCP peer, since ``serve`` runs uvicorn without
    proxy headers unless ``server.trusted-proxies`` names the proxies to believe. The
    forwarded headers can only make a caller more remote (:func:`is_remote`).
    """

    peer: str
    forwarded: tuple[str, ...] = ()

    @property
    def remote(self) -> bool:
        return is_remote(self.peer, self.forwarded)

    def __str__(self) -> str:
        # The real peer only: a forwarded address is a client's claim, and never reaches the audit log.
        return self.peer

    @classmethod
    def of(cls, request: Request) -> Caller:
        peer = request.client.host if request.client is not None else ""
        return cls(peer, forwarded_for(request.headers))


# -- lockout -----------------------------------------------------------------------------------


def _in_words(seconds: float) -> str:
    whole = math.ceil(seconds)
    minutes, secs = divmod(whole, 60)
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def _checkpw(candidate: bytes, hashed: str) -> bool:
    try:
        return bcrypt.checkpw(candidate, hashed.encode("ascii"))
    except ValueError:  # longer than bcrypt's 72 bytes, or a malformed hash
        return False


# -- the gate --------------------------------------------------------------------------------------


class ManagementAuth:
    """The management gate of one app: the env key, the lockout table, verified-key cache."""

    def __init__(
        self,
        *,
        clock: Clock = monotonic,
        env: Mapping[str, str] | None = None,
        max_failures: int = MAX_FAILURES,
        lockout_seconds: float = LOCKOUT_SECONDS,
    ) -> None:
        env = os.environ if env is None else env
        raw = env.get(ENV_VAR, "").strip()
        problem = management_key_problem(raw, ENV_VAR)
        if problem is not None:
            logger.error("management API: %s; the key is ignored", problem)
            raw = ""
        self._env_key = Secret(raw) if raw else None
        self.lockout = Lockout(clock, max_failures, lockout_seconds)
        self._log_budget = LogBudget(clock)
        self.failures: Counter[str] = Counter()  # by reason: missing_key, invalid_key, remote, locked_out
        self._salt = secrets.token_bytes(32)
        self._verified: dict[str, bytes] = {}  # bcrypt hash -> HMAC of the key that matched it
        self._verify_lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"ManagementAuth(env_key={'set' if self._env_key else 'unset'}, failures={dict(self.failures)})"

    def configured(self, settings: Settings) -> bool:
        stored = settings.remote_management.secret_key
        return self._env_key is not None or (stored is not None and bool(stored.get_secret_value()))

    def _refuse_if_locked(self, caller: Caller) -> None:
        left = self.lockout.remaining(caller.peer)
        if left is not None:
            self.failures["locked_out"] += 1
            who = "" if self.lockout.globally_locked() else f" from {caller.peer}"
            raise ManagementAuthError(
                f"too many failed management key attempts{who}; try again in {_in_words(left)}",
                status_code=429,
                headers={"Retry-After": str(math.ceil(left))},
            )

    def _fail(self, caller: Caller, reason: str, message: str) -> ManagementAuthError:
        self.failures[reason] += 1
        count = self.lockout.fail(caller.peer)
        allowed, suppressed = self._log_budget.take()
        if suppressed:
            logger.warning("management auth: %d more failure line(s) suppressed", suppressed)
        if not allowed:
            return ManagementAuthError(message, status_code=401, headers={"WWW-Authenticate": "Bearer"})
        if count == 0:
            logger.warning(
                "management auth: %s from %s; locked out for %s after %d failures",
                message, caller, _in_words(self.lockout.seconds), self.lockout.max_failures,
            )
        else:
            logger.warning("management auth: %s from %s (failure %d of %d)",
                           message, caller, count, self.lockout.max_failures)
        return ManagementAuthError(message, status_code=401, headers={"WWW-Authenticate": "Bearer"})

    async def authorize(self, caller: Caller, headers: Mapping[str, str], settings: Settings) -> Caller:
        """Let ``caller`` in, or raise :class:`ManagementAuthError` (429, 403 or 401).

        Without a secret it raises the app's plain 404, as for a route that does not exist.
        """
        if not self.configured(settings):
            raise HTTPException(status_code=404)
        self._refuse_if_locked(caller)
        if caller.remote and not settings.remote_management.allow_remote:
            self.failures["remote"] += 1
            logger.warning("management auth: refused remote client %s (allow-remote is off)", caller)
            raise ManagementAuthError(
                f"remote management is disabled: {caller} is not on loopback "
                "(set remote-management.allow-remote: true to allow it)",
                status_code=403,
            )
        key = provided_key(headers)
        if key is None:
            raise self._fail(caller, "missing_key", "missing management key")
        if await self._matches(caller, key.encode("utf-8", "surrogatepass"), settings):
            self.lockout.reset(caller.peer)
            return caller
        raise self._fail(caller, "invalid_key", "invalid management key")

    async def _matches(self, caller: Caller, candidate: bytes, settings: Settings) -> bool:
        if self._env_key is not None and hmac.compare_digest(
            candidate, self._env_key.get_secret_value().encode("utf-8")
        ):
            return True
        stored = settings.remote_management.secret_key
        value = stored.get_secret_value() if stored is not None else ""
        if not value:
            return False
        if not is_bcrypt_hash(value):
            return hmac.compare_digest(candidate, value.encode("utf-8"))
        digest = hmac.new(self._salt, candidate, hashlib.sha256).digest()
        if self._known(value, digest):
            return True
        async with self._verify_lock:  # one bcrypt check at a time: guesses cannot race the lockout
            self._refuse_if_locked(caller)
            if self._known(value, digest):
                return True
            ok = await run_in_threadpool(_checkpw, candidate, value)
        if ok:
            self._verified = {value: digest}
        return ok

    def _known(self, hashed: str, digest: bytes) -> bool:
        known = self._verified.get(hashed)
        return known is not None and hmac.compare_digest(known, digest)


def runtime_of(request: Request) -> Runtime:
    """The app's :class:`Runtime` (``app.state.runtime``)."""
    runtime: Runtime = request.app.state.runtime
    return runtime


def auth_for(runtime: Runtime) -> ManagementAuth:
    """The runtime's gate (``runtime.management_auth``), made on first use; tests may set their own."""
    if runtime.management_auth is None:
        runtime.management_auth = ManagementAuth()
    return runtime.management_auth


async def require_management(request: Request) -> Caller:
    """FastAPI dependency of every management route."""
    runtime = runtime_of(request)
    settings = runtime.file_settings or runtime.settings
    return await auth_for(runtime).authorize(Caller.of(request), request.headers, settings)


# -- hashing a plaintext secret ----------------------------------------------------------------------


def _with_secret(settings: Settings, value: str) -> Settings:
    section = settings.remote_management.model_copy(update={"secret_key": Secret(value)})
    return settings.model_copy(update={"remote_management": section})


def _document_holds(store: ConfigStore, plaintext: str) -> bool:
    try:
        doc = parse_document(store.read())
    except (ConfigError, OSError):
        return False
    section = doc.get("remote-management", doc.get("remote_management"))
    if not isinstance(section, Mapping):
        return False
    value = section.get("secret-key", section.get("secret_key"))
    return isinstance(value, str) and value.strip() == plaintext


def hash_secret_on_load(runtime: Runtime, *, rounds: int = 12) -> bool:
    """Replace a plaintext ``remote-management.secret-key`` by its bcrypt hash, in memory and
    in the config file (round-trip edit, atomic write). Returns True when it hashed one.

    Call it at startup before serving (or while holding ``runtime.write_lock``).
    """
    settings = runtime.file_settings or runtime.settings
    stored = settings.remote_management.secret_key
    plaintext = stored.get_secret_value().strip() if stored is not None else ""
    if not plaintext or is_bcrypt_hash(plaintext) or settings.remote_management.key_source != "literal":
        return False  # an os.environ/NAME reference stays in the file as written
    if len(plaintext.encode("utf-8")) > _BCRYPT_MAX_BYTES:
        logger.warning("remote-management.secret-key is longer than %d bytes and cannot be bcrypt-hashed; "
                       "it stays as written (use a shorter key)", _BCRYPT_MAX_BYTES)
        return False
    hashed = bcrypt.hashpw(plaintext.encode("utf-8"), bcrypt.gensalt(rounds)).decode("ascii")
    store = store_for(runtime)
    if _document_holds(store, plaintext):
        try:
            proposal = store.propose(lambda doc: set_secret_key(doc, hashed))
            store.commit(proposal.new_text, expected=proposal.old_text)
        except (ConfigError, OSError) as exc:  # ConfigError is also a ValueError
            reason = getattr(exc, "strerror", None) or type(exc).__name__
            logger.warning("could not write the hashed remote-management.secret-key to %s: %s", store.source, reason)
        else:
            logger.info("remote-management.secret-key was plaintext; stored its bcrypt hash in %s", store.source)
    runtime.file_settings = _with_secret(settings, hashed)
    return True
