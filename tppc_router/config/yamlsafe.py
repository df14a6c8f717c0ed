"""Parse config YAML the way the config writer reads it, with bounds a hostile file cannot break.

* **Duplicate keys** are refused, as the round-trip writer (ruamel) refuses them: PyYAML
  alone keeps the last one silently, so the loader and the writer would disagree on
  what the file says.
* **Aliases** (``*name``) may be used, but the document they expand to is bounded:
  at most :data:`MAX_NODES` nodes once every alias is expanded, and no alias inside
  itself. A 447-byte "billion laughs" file would otherwise expand to gigabytes in the
  code that walks the parsed value.
* **Nesting** deeper than Python's recursion allows is a problem, not a crash.

Problems are :class:`~tppc_router.errors.ConfigError` lines naming the line.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from tppc_router.errors import ConfigError

__all__ = ["MAX_NODES", "load_yaml"]

MAX_NODES = 100_000


def _where(node: Node) -> str:
    return f"line {node.start_mark.line + 1}, column {node.start_mark.column + 1}"


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _check_duplicates(node: MappingNode, problems: list[str]) -> None:
    seen: dict[str, Node] = {}
    for key, _ in node.value:
        if not isinstance(key, ScalarNode) or key.tag == "tag:yaml.org,2002:merge":
            continue
        if key.value in seen:  # the key itself is not quoted: a misplaced secret could be one
            problems.append(f"<yaml>: duplicate key at {_where(key)}")
        else:
            seen[key.value] = key


def _expanded_size(root: Node, problems: list[str]) -> int:
    """Nodes in ``root`` with every alias expanded (memoized: aliases share node objects)."""
    size: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            open_nodes.discard(key)
            size[key] = min(MAX_NODES + 1, 1 + sum(size[id(child)] for child in _children(node)))
            continue
        if key in size:
            continue
        if key in open_nodes:
            problems.append(f"<yaml>: an alias refers to a node that contains it, at {_where(node)}")
            return MAX_NODES + 1
        open_nodes.add(key)
        if isinstance(node, MappingNode):
            _check_duplicates(node, problems)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in size)
    return size[id(root)]


def load_yaml(text: str, source: str = "<string>") -> Any:
    """The YAML value of ``text`` (None for an empty document); raises :class:`ConfigError` for a
    duplicate key, an alias expansion past :data:`MAX_NODES`, or nesting too deep, and lets
    ``yaml.YAMLError`` through for a syntax error."""
    loader = yaml.SafeLoader(text)
    try:
        try:
            node = loader.get_single_node()
        except RecursionError:
            raise ConfigError(["<yaml>: nested too deeply"], source=source) from None
        if node is None:
            return None
        problems: list[str] = []
        if _expanded_size(node, problems) > MAX_NODES:
            problems.append(f"<yaml>: the document expands to more than {MAX_NODES} values (aliases)")
        if problems:
            raise ConfigError(problems, source=source)
        try:
            return loader.construct_document(node)
        except RecursionError:
            raise ConfigError(["<yaml>: nested too deeply"], source=source) from None
    finally:
        loader.dispose()
