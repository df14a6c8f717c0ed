"""The Host rule of the Guard layer (pure): loopback names, IP addresses, allowed names, bind-dependent."""

from __future__ import annotations

import pytest

from tppc_router.server.guards import host_allowed, host_name


@pytest.mark.parametrize(
    ("header", "name"),
    [("localhost:8317", "localhost"), ("[::1]:8317", "::1"), ("Example.COM", "example.com"), ("::1", "::1"),
     ("127.0.0.1", "127.0.0.1")],
)
def test_host_name(header: str, name: str) -> None:
    """The name part of a Host header: port and brackets dropped, lower-cased."""
    assert host_name(header) == name


@pytest.mark.parametrize("header", ["localhost", "localhost:1", "app.localhost", "127.0.0.1:8317", "127.9.9.9",
                                    "[::1]:8317", "[::ffff:127.0.0.1]", None])
def test_loopback_names_pass_on_every_bind(header: str | None) -> None:
    """Loopback names and addresses (and no Host at all, HTTP/1.0) pass whatever the bind."""
    assert host_allowed(header, bound_to_loopback=True)
    assert host_allowed(header, bound_to_loopback=False)


@pytest.mark.parametrize("header", ["evil.example", "evil.example:8317", "localhost.evil.example", "127.0.0.1.nip.io",
                                    "gw.internal.evil"])
def test_names_that_could_rebind_are_refused(header: str) -> None:
    """A DNS name that is not a loopback name nor allowed is refused on any bind (DNS rebinding)."""
    assert not host_allowed(header, bound_to_loopback=True, allowed=["gw.internal"])
    assert not host_allowed(header, bound_to_loopback=False, allowed=["gw.internal"])


def test_ip_literals_pass_only_off_loopback() -> None:
    """A non-loopback IP Host passes when the socket is not bound to loopback (a LAN client), never on loopback."""
    assert not host_allowed("192.168.1.10:8317", bound_to_loopback=True)
    assert host_allowed("192.168.1.10:8317", bound_to_loopback=False)
    assert host_allowed("[2001:db8::1]:8317", bound_to_loopback=False)


def test_allowed_names_pass() -> None:
    """server.allowed-hosts names pass, with or without a port, case-insensitively."""
    assert host_allowed("GW.internal:8317", bound_to_loopback=True, allowed=["gw.internal"])
    assert host_allowed("gw.internal", bound_to_loopback=False, allowed=["GW.INTERNAL"])
