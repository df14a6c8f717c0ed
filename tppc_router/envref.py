"""Environment references: a configured key written as ``os.environ/NAME`` (LiteLLM's
spelling) or ``${NAME}`` names an environment variable; it is not itself a key.

The one definition of that syntax. Config sanitizing resolves references, masking never
scrubs them, migration and export keep them as written. It lives at the top level (like
``masking``) because ``masking`` needs it and must not import the ``config`` room.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

__all__ = [
    "ENV_NAME",
    "ENV_REFERENCE",
    "env_reference",
    "find_env_references",
    "looks_like_env_reference",
    "parse_env_reference",
]

#: An environment variable name as a reference may spell it.
ENV_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
#: One reference, anywhere in a text; group ``name`` or ``braced`` holds the variable.
ENV_REFERENCE = re.compile(rf"os\.environ/(?P<name>{ENV_NAME})|\$\{{(?P<braced>{ENV_NAME})\}}")


def _variable(match: re.Match[str]) -> str:
    return match.group("name") or match.group("braced")


def parse_env_reference(text: str) -> str | None:
    """The variable ``text`` refers to when the whole of it (spaces aside) is one reference, else ``None``."""
    match = ENV_REFERENCE.fullmatch(text.strip())
    return None if match is None else _variable(match)


def find_env_references(text: str) -> Iterator[str]:
    """The variables referenced anywhere in ``text``, in order (repeats included)."""
    return (_variable(match) for match in ENV_REFERENCE.finditer(text))


def env_reference(variable: str) -> str:
    """The canonical spelling of a reference to ``variable``: ``os.environ/NAME``."""
    return f"os.environ/{variable}"


# Spellings people reach for that are *not* references here, so they would be taken as a literal key:
# $NAME, $env:NAME, %NAME%, env/NAME, env.NAME, os.environ.NAME, os.environ[NAME], os.getenv(NAME),
# environ/NAME, ${NAME:-default}, {{NAME}}.
_NEAR_MISS = re.compile(
    rf"""^(?:
        \$(?:env:)?{ENV_NAME}
      | %{ENV_NAME}%
      | (?:os\.)?(?:env|environ)\s*[/.:]\s*{ENV_NAME}
      | os\.environ\s*(?:\[\s*['"]?{ENV_NAME}['"]?\s*\]|/\s*\$?\{{?{ENV_NAME}\}}?|\.get\(.*\))
      | os\.getenv\(.*\)
      | \$\{{[^}}]*\}}
      | \{{\{{\s*{ENV_NAME}\s*\}}\}}
    )$""",
    re.VERBOSE,
)


def looks_like_env_reference(text: str) -> bool:
    """True when ``text`` is not a reference (:func:`parse_env_reference` gives ``None``) but looks
    meant as one (``$NAME``, ``env/NAME``, ``os.environ.NAME``...): kept as a literal key, it would
    be sent to the provider as is."""
    text = text.strip()
    return parse_env_reference(text) is None and bool(_NEAR_MISS.match(text))
