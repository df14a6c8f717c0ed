"""Responses API affinity: state issued by one provider goes back to it first.

A ``previous_response_id`` or a reasoning item with ``encrypted_content`` is bound
to the organisation that produced it. We remember which provider issued which
response and reasoning-item ids (a bounded LRU), and route a request carrying
them to that provider first. When that provider is down the request fails over
anyway, with the encrypted reasoning items removed (another provider could not
decrypt them); a ``previous_response_id`` is left as is, and a provider that
does not know it answers 400, which is returned to the caller.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["AffinityMap", "strip_encrypted_reasoning"]


class AffinityMap:
    """Response and reasoning-item ids -> the provider that issued them."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._capacity = capacity
        self._owners: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, provider: str, ids: Iterable[str]) -> None:
        with self._lock:
            for id_ in ids:
                if not id_:
                    continue
                self._owners[id_] = provider
                self._owners.move_to_end(id_)
            while len(self._owners) > self._capacity:
                self._owners.popitem(last=False)

    def owner_of(self, previous_response_id: str | None, input_: Any) -> str | None:
        """The provider that must see this request first, if any."""
        with self._lock:
            if previous_response_id and previous_response_id in self._owners:
                return self._owners[previous_response_id]
            for item in _items(input_):
                if item.get("type") == "reasoning" and item.get("encrypted_content"):
                    owner = self._owners.get(str(item.get("id", "")))
                    if owner is not None:
                        return owner
        return None


def _items(input_: Any) -> list[Mapping[str, Any]]:
    if not isinstance(input_, list):
        return []
    return [i for i in input_ if isinstance(i, Mapping)]


def issued_ids(response: Mapping[str, Any]) -> list[str]:
    """Ids in a response (or response.created/completed payload) worth remembering."""
    ids = [str(response.get("id") or "")]
    for item in response.get("output") or []:
        if isinstance(item, Mapping) and item.get("type") == "reasoning":
            ids.append(str(item.get("id") or ""))
    return [i for i in ids if i]


def strip_encrypted_reasoning(input_: Any) -> Any:
    """``input`` without reasoning items that carry ``encrypted_content``."""
    if not isinstance(input_, list):
        return input_
    return [
        i for i in input_
        if not (isinstance(i, Mapping) and i.get("type") == "reasoning" and i.get("encrypted_content"))
    ]
