"""Fault specs: parsing, writing back, validation, and the flap window."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tppc_router.sim import Fault

seconds = st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False)
counts = st.integers(min_value=0, max_value=10_000)
probability = st.floats(min_value=1e-6, max_value=1.0, allow_nan=False)
statuses = st.integers(min_value=400, max_value=599)
words = st.text(min_size=1, max_size=30)

faults = st.one_of(
    st.builds(
        Fault,
        kind=st.just("status"),
        status=statuses,
        retry_after=st.none() | seconds,
        message=st.none() | words,
        code=st.none() | words,
        type=st.none() | words,
        p=probability,
    ),
    st.builds(Fault, kind=st.sampled_from(["reset", "no-terminal"]), p=probability),
    st.builds(Fault, kind=st.just("no-response"), seconds=st.none() | seconds, p=probability),
    st.builds(Fault, kind=st.just("slow-first-token"), seconds=seconds, p=probability),
    st.builds(Fault, kind=st.just("cut-after"), count=counts, p=probability),
    st.builds(Fault, kind=st.just("stall"), count=st.none() | counts, seconds=st.none() | seconds, p=probability),
    st.builds(Fault, kind=st.just("malformed"), count=st.none() | counts, p=probability),
    st.builds(
        Fault,
        kind=st.just("flap"),
        down=st.floats(min_value=0.001, max_value=1e6),
        up=st.none() | seconds,
        status=st.none() | statuses,
        mode=st.none() | st.sampled_from(["status", "reset"]),
        p=probability,
    ),
)


@given(faults)
def test_round_trip(fault: Fault) -> None:
    """``Fault.parse(str(fault))`` gives the same fault back, for every kind and option."""
    assert Fault.parse(str(fault)) == fault


@given(st.text(max_size=60))
def test_parse_raises_only_value_error(spec: str) -> None:
    """Any text either parses or raises ``ValueError`` (never another exception)."""
    try:
        Fault.parse(spec)
    except ValueError as error:
        assert "bad fault spec" in str(error)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("status:503", Fault("status", status=503)),
        (" STATUS:429 , retry-after=1.5 , p=0.25", Fault("status", status=429, retry_after=1.5, p=0.25)),
        ("status:400,code=context_length_exceeded", Fault("status", status=400, code="context_length_exceeded")),
        ("status:500,message=a%2Cb %25", Fault("status", status=500, message="a,b %")),
        ("reset", Fault("reset")),
        ("no-response", Fault("no-response")),
        ("no-response:2", Fault("no-response", seconds=2.0)),
        ("slow-first-token:0.5", Fault("slow-first-token", seconds=0.5)),
        ("cut-after:5", Fault("cut-after", count=5)),
        ("stall", Fault("stall")),
        ("stall:2,seconds=10", Fault("stall", count=2, seconds=10.0)),
        ("malformed:3", Fault("malformed", count=3)),
        ("no-terminal", Fault("no-terminal")),
        ("flap,down=30", Fault("flap", down=30.0)),
        ("flap,down=5,up=10,status=502", Fault("flap", down=5.0, up=10.0, status=502)),
        ("flap,down=5,mode=reset", Fault("flap", down=5.0, mode="reset")),
    ],
)
def test_parse_examples(spec: str, expected: Fault) -> None:
    """Documented spec examples parse to the expected fault."""
    assert Fault.parse(spec) == expected


@pytest.mark.parametrize(
    ("spec", "names"),
    [
        ("explode", "unknown kind 'explode'"),
        ("status", "status needs an argument"),
        ("status:abc", "status 'abc' is not an integer"),
        ("status:200", "status 200 is not an error status"),
        ("reset:1", "reset takes no argument"),
        ("cut-after", "cut-after needs an argument"),
        ("stall:2,seconds=-1", "seconds=-1.0"),
        ("stall:x", "stall 'x' is not an integer"),
        ("flap", "flap needs down=SECONDS"),
        ("flap,down=0", "down=0.0"),
        ("flap,down=1,mode=sleep", "mode='sleep'"),
        ("status:500,p=0", "p=0.0"),
        ("status:500,p=1.5", "p=1.5"),
        ("status:500,p=lots", "p 'lots' is not a number"),
        ("status:500,foo=1", "option 'foo' is not valid for status"),
        ("reset,seconds=1", "option 'seconds' is not valid for reset"),
        ("status:500,retry-after", "option 'retry-after' is not key=value"),
        ("status:500,code=a,code=b", "option 'code' given twice"),
        ("no-response:nan", "is not a finite number"),
    ],
)
def test_parse_errors_name_the_bad_part(spec: str, names: str) -> None:
    """A bad spec raises ``ValueError`` quoting the spec and naming the bad part."""
    with pytest.raises(ValueError) as caught:
        Fault.parse(spec)
    assert repr(spec) in str(caught.value)
    assert names in str(caught.value)


def test_direct_construction_is_validated() -> None:
    """Building a ``Fault`` directly runs the same checks as parsing."""
    with pytest.raises(ValueError, match="status needs a code"):
        Fault("status")
    with pytest.raises(ValueError, match="unknown kind"):
        Fault("boom")  # type: ignore[arg-type]


def test_defaults() -> None:
    """``stall`` waits after 3 events, ``malformed`` after 1, ``flap`` answers 503."""
    assert Fault("stall").stall_after == 3
    assert Fault("malformed").malformed_after == 1
    assert Fault("flap", down=1).flap_status == 503


def test_flap_window() -> None:
    """``flap`` is down for ``down`` seconds, then (with ``up``) cycles down/up."""
    once = Fault.parse("flap,down=10")
    assert [once.is_down(t) for t in (0, 9.9, 10, 1e6)] == [True, True, False, False]
    cycle = Fault.parse("flap,down=10,up=5")
    assert [cycle.is_down(t) for t in (0, 10, 14.9, 15, 24.9, 25)] == [True, False, False, True, True, False]
    assert not cycle.is_down(-1)


def test_str_is_header_safe() -> None:
    """``str(fault)`` is printable ASCII, so it can be sent as an ``x-sim-fault`` header."""
    text = str(Fault("status", status=500, message="héllo,\nworld"))
    assert text.isascii() and text.isprintable()
    assert Fault.parse(text).message == "héllo,\nworld"
