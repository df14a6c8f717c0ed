"""100 concurrent PATCHes: no update is lost, and the file is valid YAML at every moment."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import httpx
import pytest
import yaml
from test_management_support import MGMT_HASH, MGMT_KEY, serve


ROUTE = "/v0/management/tppc"
COUNT = 100
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _config() -> str:
    entries = "".join(
        f"    - name: p{i:03d}   # provider {i}\n"
        f"      enabled: false\n"
        f"      base-url: https://p{i:03d}.invalid/v1\n"
        f"      api-key: sk-canary-storm-{i:03d}-abcdefgh\n"
        for i in range(COUNT)
    )
    return (
        "# storm config\ntppc:\n  models: [gpt-5]\n  providers:\n"
        "    - name: main\n      base-url: https://main.invalid/v1\n      api-key: sk-canary-storm-main-abcdefgh\n"
        f"{entries}\nremote-management:\n  secret-key: \"{MGMT_HASH}\"\n"
    )


async def test_hundred_concurrent_patches_lose_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each of 100 concurrent PATCHes lands; a reader never sees invalid YAML; the watcher re-applies none."""
    monkeypatch.delenv("TPPC_MANAGEMENT_KEY", raising=False)
    path = tmp_path / "config.yaml"
    stop = threading.Event()
    reads: list[int] = [0]
    bad: list[str] = []

    def reader() -> None:
        while not stop.is_set():
            try:
                data = yaml.load(path.read_text(encoding="utf-8"), Loader=LOADER)
                assert len(data["tppc"]["providers"]) == COUNT + 1
            except Exception as exc:  # noqa: BLE001 - record anything a reader could see
                bad.append(repr(exc))
            reads[0] += 1
            time.sleep(0.001)

    with serve(path, text=_config(), watch=0.05) as live:
        thread = threading.Thread(target=reader, name="yaml-reader")
        thread.start()
        try:
            async with httpx.AsyncClient(base_url=live.url, headers={"X-Management-Key": MGMT_KEY},
                                         timeout=120, limits=httpx.Limits(max_connections=COUNT)) as client:
                patches = [
                    client.patch(ROUTE, json={"name": f"p{i:03d}",
                                              "value": {"order": 1000 + i, "base-url": f"https://n{i:03d}.invalid"}})
                    for i in range(COUNT)
                ]
                reads_during = [client.get(ROUTE) for _ in range(10)]
                responses = await asyncio.gather(*patches, *reads_during)
        finally:
            stop.set()
            thread.join()
        await asyncio.sleep(0.2)  # the watcher has looked at the final file
        assert [r.status_code for r in responses] == [200] * (COUNT + 10)
        assert not bad, bad[:3]
        assert reads[0] > COUNT
        stored = yaml.safe_load(path.read_text())["tppc"]["providers"][1:]
        assert [(p["order"], p["base-url"]) for p in stored] == [
            (1000 + i, f"https://n{i:03d}.invalid") for i in range(COUNT)]
        settings = live.runtime.file_settings
        assert settings is not None
        assert [p.order for p in settings.tppc.providers[1:]] == [1000 + i for i in range(COUNT)]
        assert "# provider 42" in path.read_text()
        assert live.runtime.config_reloads["applied"] == 0
