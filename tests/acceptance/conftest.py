"""Fixtures for the acceptance tests: the same live gateway as tests/server (see gateway_live)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))

from gateway_live import backup, live_server, primary, testing_mode

__all__ = ["backup", "live_server", "primary", "testing_mode"]
