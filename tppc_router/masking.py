"""The one place that knows how to hide a secret.

``mask("sk-abcdefgh12345678")`` gives ``"sk-a...5678"``; a secret of 8 characters or
fewer is hidden entirely. Every log line, repr, metric label, GET body and CLI line
that could show a key goes through here.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Iterator

from tppc_router.envref import parse_env_reference

__all__ = [
    "FULLY_HIDDEN",
    "MaskingFilter",
    "SecretRegistry",
    "get_logger",
    "mask",
    "mask_redis_url",
    "mask_text",
    "mask_url",
    "register_secret",
    "secrets",
]

FULLY_HIDDEN = "********"
_MIN_SHOWN = 9  # longer than 8 characters: show first 4 + last 4
_MIN_SCRUBBED = 8


def mask(secret: str | None) -> str:
    """First 4 + ``...`` + last 4; 8 characters or fewer are fully hidden."""
    if not secret:
        return ""
    if len(secret) < _MIN_SHOWN:
        return FULLY_HIDDEN
    return f"{secret[:4]}...{secret[-4:]}"


_BEARER = re.compile(r"(?i)(bearer\s+)([A-Za-z0-9._~+/=\-]{4,})")
_HEADER = re.compile(
    r"(?i)((?:authorization|x-api-key|api[-_]key|x-management-key)[\"']?\s*[:=]\s*[\"']?(?:(?:bearer|basic)\s+)?)"
    r"(?=[^\s\"',}]*\d)([^\s\"',}]{8,})"
)
# Key-shaped tokens: OpenAI-style "sk-..." keys even when nobody registered them.
_KEY_SHAPED = re.compile(r"\b(sk-[A-Za-z0-9_\-]{12,})")
_QUERY = re.compile(r"(?i)([?&](?:api[-_]?key|token|key|access_token)=)([^&\s#\"']+)")


def mask_url(url: str) -> str:
    """Mask ``api-key``/``token`` query parameters and URL passwords."""
    url = _QUERY.sub(lambda m: m.group(1) + mask(m.group(2)), url)
    return re.sub(r"(://[^/:@\s]*:)([^@\s]+)(@)", lambda m: m.group(1) + mask(m.group(2)) + m.group(3), url)


_REDIS_PASSWORD_QUERY = re.compile(r"(?i)([?&]password=)([^&#\s]+)")


def mask_redis_url(url: str) -> str:
    """``redis://:s3cret-pass@host:6379/0`` -> ``redis://:s3cr...pass@host:6379/0``.

    :func:`~tppc_router.masking.mask_url` only masks ``user:password@``; Redis URLs
    usually have no user, and may carry ``?password=``. Both are masked here.
    """
    scheme, sep, rest = url.partition("://")
    if sep:
        authority, slash, path = rest.partition("/")
        userinfo, at, hostport = authority.rpartition("@")
        if at:
            user, colon, password = userinfo.partition(":")
            if colon:
                userinfo = f"{user}:{mask(password)}"
            url = f"{scheme}://{userinfo}@{hostport}{slash}{path}"
    url = _REDIS_PASSWORD_QUERY.sub(lambda m: m.group(1) + mask(m.group(2)), url)
    return mask_url(url)


class SecretRegistry:
    """Secrets known to this process, so free text can be scrubbed of them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._secrets: frozenset[str] = frozenset()

    def add(self, secret: str | None) -> None:
        # Shorter strings are too likely to be ordinary words to scrub from free text.
        if secret and len(secret) >= _MIN_SCRUBBED and parse_env_reference(secret) is None:  # names a key, is not one
            with self._lock:
                self._secrets = self._secrets | {secret}

    def __iter__(self) -> Iterator[str]:
        return iter(self._secrets)

    def forget(self, secrets: Iterable[str]) -> None:
        """Stop scrubbing ``secrets`` (keys no longer configured: a deleted provider's)."""
        gone = frozenset(secrets)
        with self._lock:
            self._secrets = self._secrets - gone

    def scrub(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, mask(secret))
        return text


secrets = SecretRegistry()


def register_secret(secret: str | None) -> None:
    """Remember a secret so that :func:`mask_text` hides it wherever it appears."""
    secrets.add(secret)


def mask_text(text: str) -> str:
    """Scrub free text: known secrets, bearer tokens, auth headers, key query params."""
    text = secrets.scrub(text)
    text = _BEARER.sub(lambda m: m.group(1) + mask(m.group(2)), text)
    text = _HEADER.sub(lambda m: m.group(1) + mask(m.group(2)), text)
    text = _KEY_SHAPED.sub(lambda m: mask(m.group(1)), text)
    return mask_url(text)


class MaskingFilter(logging.Filter):
    """A logging filter that masks secrets in every record it sees: the message, and
    the traceback and stack text that would be printed with it."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken record must not break logging
            return True
        masked = mask_text(message)
        if masked != message:
            record.msg = masked
            record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info)
        return True


def get_logger(name: str) -> logging.Logger:
    """``logging.getLogger(name)`` with :class:`MaskingFilter` on it, so every line the
    package logs is masked at the source, whatever handlers the application set up."""
    logger = logging.getLogger(name)
    if not any(isinstance(f, MaskingFilter) for f in logger.filters):
        logger.addFilter(MaskingFilter())
    return logger
