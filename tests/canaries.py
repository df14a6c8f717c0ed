"""Canary keys: every config a test builds uses these, and no output may contain one."""

from __future__ import annotations

CANARY_PRIMARY = "sk-canary-primary-7f3a9c1e5b"
CANARY_BACKUP = "sk-canary-backup-2d4e6f8a0c"
CANARY_THIRD = "sk-canary-third-9a8b7c6d5e"
CANARY_LEGACY = "sk-canary-legacy-3c5e7a9b1d"
CANARY_OPENAI = "sk-canary-openai-4b6d8f0a2c"
CANARY_GATEWAY = "sk-canary-gateway-5e7f9a1b3c"
CANARY_MANAGEMENT = "sk-canary-management-6f8a0b2c4d"

ALL_CANARIES = (
    CANARY_PRIMARY,
    CANARY_BACKUP,
    CANARY_THIRD,
    CANARY_LEGACY,
    CANARY_OPENAI,
    CANARY_GATEWAY,
    CANARY_MANAGEMENT,
)


def assert_no_canary(*texts: object) -> None:
    """Fail if any canary key appears in ``texts`` (str() of each)."""
    for text in texts:
        shown = str(text)
        leaked = [canary for canary in ALL_CANARIES if canary in shown]
        assert not leaked, f"key leaked: {leaked} in {shown[:200]!r}"
