"""Fault specs: what a simulated provider does wrong, and the grammar that names it.

A spec is ``KIND[:ARG][,key=value...]``; every kind also takes ``p=`` (the chance,
0 < p <= 1, that the fault fires for a request). ``Fault.parse`` reads one and
``str(fault)`` writes it back in canonical form, so ``Fault.parse(str(f)) == f``.

Kinds, and what each does to a model request (``/v1/models`` is never faulted):

- ``status:CODE[,retry-after=S][,message=M][,code=C][,type=T]``: HTTP CODE (400-599)
  with an OpenAI error body, and ``Retry-After: S`` when given.
- ``reset``: read the request, then reset the TCP connection (RST) before any header.
- ``no-response[:S]``: say nothing; with S, answer normally after S seconds.
- ``slow-first-token:S``: wait S seconds before the first delta (non-stream: before the answer).
- ``cut-after:N``: send N events, then close abruptly (non-stream: N bytes of the body).
- ``stall[:N][,seconds=S]``: after N events (3) go quiet for S seconds (forever), then go on.
- ``malformed[:N]``: insert one invalid-JSON event after N events (1) (non-stream: a cut JSON body).
- ``no-terminal``: end the stream cleanly without ``response.completed`` / ``data: [DONE]``.
- ``flap,down=T[,up=U][,status=C][,mode=status|reset]``: down (status C, 503 by default,
  or resets) for T seconds from when the fault was set, then up; with U, down T / up U again.

In ``message=``, ``code=`` and ``type=`` values, ``%XX`` is percent-decoded, so a comma
is written ``%2C`` and a percent sign ``%25``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeVar, cast, get_args
from urllib.parse import quote, unquote

__all__ = ["Fault", "FaultKind", "FlapMode"]

FaultKind = Literal[
    "status",
    "reset",
    "no-response",
    "slow-first-token",
    "cut-after",
    "stall",
    "malformed",
    "no-terminal",
    "flap",
]
FlapMode = Literal["status", "reset"]

_KINDS: tuple[str, ...] = get_args(FaultKind)
# kind -> (argument: "int" | "float" | None, argument required, allowed options besides p)
_SHAPES: dict[str, tuple[str | None, bool, frozenset[str]]] = {
    "status": ("int", True, frozenset({"retry-after", "message", "code", "type"})),
    "reset": (None, False, frozenset()),
    "no-response": ("float", False, frozenset()),
    "slow-first-token": ("float", True, frozenset()),
    "cut-after": ("int", True, frozenset()),
    "stall": ("int", False, frozenset({"seconds"})),
    "malformed": ("int", False, frozenset()),
    "no-terminal": (None, False, frozenset()),
    "flap": (None, False, frozenset({"down", "up", "status", "mode"})),
}
DEFAULT_STALL_AFTER = 3
DEFAULT_MALFORMED_AFTER = 1
DEFAULT_FLAP_STATUS = 503


@dataclass(frozen=True, slots=True)
class Fault:
    """One fault. Build it with :meth:`parse` or directly: ``Fault("status", status=429)``.

    Fields a kind does not use stay ``None``. ``count`` is the N of ``cut-after``,
    ``stall`` and ``malformed``; ``seconds`` the S of ``no-response``,
    ``slow-first-token`` and ``stall``; ``status`` the code of ``status`` and ``flap``.
    """

    kind: FaultKind
    status: int | None = None
    seconds: float | None = None
    count: int | None = None
    retry_after: float | None = None
    message: str | None = None
    code: str | None = None
    type: str | None = None
    down: float | None = None
    up: float | None = None
    mode: FlapMode | None = None
    p: float = 1.0

    def __post_init__(self) -> None:
        problem = self._problem()
        if problem:
            raise _InvalidFault(f"bad fault {self.kind!r}: {problem}", problem)

    @classmethod
    def parse(cls, spec: str) -> Fault:
        """Read ``KIND[:ARG][,key=value...]``; a ``ValueError`` names the bad part."""
        try:
            return _parse(spec)
        except _InvalidFault as error:
            raise ValueError(f"bad fault spec {spec!r}: {error.problem}") from None
        except ValueError as error:
            raise ValueError(f"bad fault spec {spec!r}: {error}") from None

    @property
    def stall_after(self) -> int:
        """Events sent before a ``stall`` goes quiet."""
        return DEFAULT_STALL_AFTER if self.count is None else self.count

    @property
    def malformed_after(self) -> int:
        """Events sent before a ``malformed`` event is inserted."""
        return DEFAULT_MALFORMED_AFTER if self.count is None else self.count

    @property
    def flap_status(self) -> int:
        """The status a down ``flap`` answers with."""
        return DEFAULT_FLAP_STATUS if self.status is None else self.status

    def is_down(self, elapsed: float) -> bool:
        """For ``flap``: is the provider down ``elapsed`` seconds after the fault was set?"""
        if self.kind != "flap" or self.down is None:
            return True
        if elapsed < 0:
            return False
        if self.up is None:
            return elapsed < self.down
        return math.fmod(elapsed, self.down + self.up) < self.down

    def __str__(self) -> str:
        head: str = self.kind
        arg: float | None = None
        if self.kind == "status":
            arg = self.status
        elif self.kind in ("no-response", "slow-first-token"):
            arg = self.seconds
        elif self.kind in ("cut-after", "stall", "malformed"):
            arg = self.count
        if arg is not None:
            head += f":{_number(arg)}"
        options: list[str] = []
        if self.kind == "status":
            options += _opt("retry-after", self.retry_after)
            options += _opt("message", self.message) + _opt("code", self.code) + _opt("type", self.type)
        elif self.kind == "stall":
            options += _opt("seconds", self.seconds)
        elif self.kind == "flap":
            options += _opt("down", self.down) + _opt("up", self.up)
            options += _opt("status", self.status) + _opt("mode", self.mode)
        if self.p != 1.0:
            options.append(f"p={_number(self.p)}")
        return ",".join([head, *options])

    def _problem(self) -> str | None:
        if self.kind not in _KINDS:
            return f"unknown kind; expected one of {', '.join(_KINDS)}"
        if not (0.0 < self.p <= 1.0):
            return f"p={self.p} is not in (0, 1]"
        for label, value in (("seconds", self.seconds), ("retry-after", self.retry_after), ("up", self.up)):
            if value is not None and not (math.isfinite(value) and value >= 0):
                return f"{label}={value} must be a finite number >= 0"
        if self.down is not None and not (math.isfinite(self.down) and self.down > 0):
            return f"down={self.down} must be a finite number > 0"
        if self.count is not None and self.count < 0:
            return f"N={self.count} must be >= 0"
        if self.status is not None and not 400 <= self.status <= 599:
            return f"status {self.status} is not an error status (400-599)"
        if self.kind == "status" and self.status is None:
            return "status needs a code, e.g. status:503"
        if self.kind == "slow-first-token" and self.seconds is None:
            return "slow-first-token needs seconds, e.g. slow-first-token:2"
        if self.kind == "cut-after" and self.count is None:
            return "cut-after needs a count, e.g. cut-after:5"
        if self.kind == "flap" and self.down is None:
            return "flap needs down=SECONDS"
        if self.mode is not None and self.mode not in get_args(FlapMode):
            return f"mode={self.mode} is not 'status' or 'reset'"
        return None


class _InvalidFault(ValueError):
    def __init__(self, message: str, problem: str) -> None:
        super().__init__(message)
        self.problem = problem


def _parse(spec: str) -> Fault:
    head, *rest = spec.split(",")
    kind, _, arg = head.strip().partition(":")
    kind = kind.strip().lower()
    if kind not in _SHAPES:
        raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(_KINDS)}")
    arg_type, arg_required, allowed = _SHAPES[kind]
    values: dict[str, str] = {}
    arg = arg.strip()
    if arg and arg_type is None:
        raise ValueError(f"{kind} takes no argument, got {arg!r}")
    if arg:
        values[_ARG_FIELD[kind]] = arg
    elif arg_required:
        raise ValueError(f"{kind} needs an argument, e.g. {_EXAMPLES[kind]}")
    for part in rest:
        key, eq, value = part.partition("=")
        key = key.strip().lower()
        if not eq or not key:
            raise ValueError(f"option {part.strip()!r} is not key=value")
        if key != "p" and key not in allowed:
            raise ValueError(f"option {key!r} is not valid for {kind} (valid: {', '.join(sorted(allowed | {'p'}))})")
        if key in values:
            raise ValueError(f"option {key!r} given twice")
        values[key] = value
    label = {_ARG_FIELD.get(kind, ""): kind}
    p = _get(values, "p", _float, label)
    return Fault(
        kind=cast(FaultKind, kind),
        status=_get(values, "status", _int, label),
        seconds=_get(values, "seconds", _float, label),
        count=_get(values, "count", _int, label),
        retry_after=_get(values, "retry-after", _float, label),
        message=_get(values, "message", _unescape, label),
        code=_get(values, "code", _unescape, label),
        type=_get(values, "type", _unescape, label),
        down=_get(values, "down", _float, label),
        up=_get(values, "up", _float, label),
        mode=_get(values, "mode", _mode, label),
        p=1.0 if p is None else p,
    )


_ARG_FIELD = {
    "status": "status",
    "no-response": "seconds",
    "slow-first-token": "seconds",
    "cut-after": "count",
    "stall": "count",
    "malformed": "count",
}
_EXAMPLES = {"status": "status:503", "slow-first-token": "slow-first-token:2", "cut-after": "cut-after:5"}
_SAFE = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) not in "%,")
_T = TypeVar("_T")


def _get(values: dict[str, str], key: str, convert: Callable[[str, str], _T], label: dict[str, str]) -> _T | None:
    if key not in values:
        return None
    return convert(values[key], label.get(key, key))


def _int(text: str, label: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{label} {text.strip()!r} is not an integer") from None


def _float(text: str, label: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{label} {text.strip()!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{label} {text.strip()!r} is not a finite number")
    return value


def _mode(text: str, label: str) -> FlapMode:
    mode = text.strip().lower()
    if mode in get_args(FlapMode):
        return cast(FlapMode, mode)
    raise ValueError(f"{label}={text.strip()!r} is not 'status' or 'reset'")


def _unescape(text: str, label: str) -> str:
    return unquote(text)


def _escape(text: str) -> str:
    return quote(text, safe=_SAFE)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _opt(key: str, value: float | str | None) -> list[str]:
    if value is None:
        return []
    return [f"{key}={_escape(value) if isinstance(value, str) else _number(value)}"]
