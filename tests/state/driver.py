"""One gateway instance, driven by JSON commands, for ``test_two_instances.py``.

Run as ``python tests/state/driver.py`` it is an instance in its own process: one
JSON command per line on stdin, one JSON reply per line on stdout (anything else
the process prints goes to stderr). :class:`Node` is the same instance for use
inside the test process.

* ``{"cmd": "configure", "config": YAML}``: (re)build the TppcRouter
* ``{"cmd": "call", "n": N}``: N concurrent ``acompletion`` calls; each result is
  ``{"provider": ..., "attempts": [[provider, outcome], ...]}`` or ``{"error": ...}``
* ``{"cmd": "info"}``: ``router.state_backend_info()``
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

MESSAGES = [{"role": "user", "content": "hello"}]


class Node:
    """A TppcRouter and the event loop its calls run on."""

    def __init__(self) -> None:
        self.router: Any = None
        self.loop = asyncio.new_event_loop()

    def handle(self, command: dict[str, Any]) -> Any:
        from tppc_router.config.loader import load_settings
        from tppc_router.routing.router import TppcRouter

        try:
            if command["cmd"] == "configure":
                self.close()
                self.router = TppcRouter(load_settings(text=command["config"]))
                return {"ok": True}
            if command["cmd"] == "call":
                return {"results": self.loop.run_until_complete(self._calls(int(command.get("n", 1))))}
            if command["cmd"] == "info":
                return self.router.state_backend_info()
            return {"error": f"unknown command {command['cmd']!r}"}
        except Exception as exc:  # noqa: BLE001 - reported to the test
            return {"error": f"{type(exc).__name__}: {exc}"}

    async def _calls(self, n: int) -> list[dict[str, Any]]:
        return list(await asyncio.gather(*(self._call() for _ in range(n))))

    async def _call(self) -> dict[str, Any]:
        try:
            result = await self.router.acompletion(model="gpt-5", messages=MESSAGES)
        except Exception as exc:  # noqa: BLE001 - a failed request is what the test looks for
            return {"error": f"{type(exc).__name__}: {exc}"}
        hidden = result._hidden_params
        return {"provider": hidden["tppc_provider"],
                "attempts": [[a["provider"], a["outcome"]] for a in hidden["tppc_attempts"]]}

    def close(self) -> None:
        if self.router is not None:
            self.router.close()
            self.router = None

    def shutdown(self) -> None:
        """Close the router, cancel what litellm left running on the loop, close the loop."""
        self.close()
        pending = asyncio.all_tasks(self.loop)
        for task in pending:
            task.cancel()
        self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self.loop.close()


def main() -> None:
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.suppress_debug_info = True
    from tppc_router.routing.failover import set_testing

    set_testing(True)
    node = Node()
    replies.write(json.dumps({"ready": os.getpid()}) + "\n")
    for line in sys.stdin:
        replies.write(json.dumps(node.handle(json.loads(line))) + "\n")
    node.close()
    replies.flush()
    os._exit(0)  # skip litellm's slow interpreter teardown


if __name__ == "__main__":
    main()
