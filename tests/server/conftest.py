"""Fixtures for the gateway tests: simulators and a real gateway on loopback (see gateway_live)."""

from __future__ import annotations

from gateway_live import backup, gateway, http, live_server, primary, testing_mode

__all__ = ["backup", "gateway", "http", "live_server", "primary", "testing_mode"]
