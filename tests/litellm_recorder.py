"""A LiteLLM CustomLogger that records events, and the context that makes it litellm's only callback."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tppc_router.routing._litellm import load_litellm

CALLBACK_LISTS = ("callbacks", "success_callback", "failure_callback", "_async_success_callback",
                  "_async_failure_callback")


class Recorder:
    """Keeps (kind, standard logging payload) for every async success/failure event it is given."""

    def __init__(self) -> None:
        from litellm.integrations.custom_logger import CustomLogger

        events: list[tuple[str, dict[str, Any]]] = []
        lock = threading.Lock()

        class _Logger(CustomLogger):  # type: ignore[misc]
            async def async_log_success_event(self, kwargs: Any, response_obj: Any, start_time: Any,
                                              end_time: Any) -> None:
                with lock:
                    events.append(("success", kwargs["standard_logging_object"]))

            async def async_log_failure_event(self, kwargs: Any, response_obj: Any, start_time: Any,
                                              end_time: Any) -> None:
                with lock:
                    events.append(("failure", kwargs["standard_logging_object"]))

        self.logger = _Logger()
        self.events = events

    def wait_for(self, count: int, wait_s: float = 10.0) -> list[tuple[str, dict[str, Any]]]:
        """The events once ``count`` have arrived (or what arrived within the wait)."""
        deadline = time.monotonic() + wait_s
        while len(self.events) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return list(self.events)


@contextmanager
def only_callback(logger: Any) -> Iterator[None]:
    """``logger`` as litellm's only callback; litellm's callback lists are restored afterwards. (They
    start empty: routers built by earlier tests leave callbacks behind, and litellm refuses new ones
    past its MAX_CALLBACKS.)"""
    litellm = load_litellm()
    saved = {name: list(getattr(litellm, name)) for name in CALLBACK_LISTS}
    for name in CALLBACK_LISTS:
        setattr(litellm, name, [])
    litellm.callbacks = [logger]
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(litellm, name, value)
