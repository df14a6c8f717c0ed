"""Fixtures for the provider simulator tests: a running simulator and clients for it."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import openai
import pytest
from sim_helpers import KEY

from tppc_router.sim import ProviderSimulator


@pytest.fixture
def sim() -> Iterator[ProviderSimulator]:
    """A running simulator named ``primary`` that requires ``KEY``."""
    with ProviderSimulator("primary", api_key=KEY, seed=7) as simulator:
        yield simulator


@pytest.fixture
def http(sim: ProviderSimulator) -> Iterator[httpx.Client]:
    """A plain httpx client for ``sim``, with the key and a short timeout."""
    with httpx.Client(base_url=sim.url, headers={"authorization": f"Bearer {KEY}"}, timeout=5.0) as client:
        yield client


@pytest.fixture
def client(sim: ProviderSimulator) -> Iterator[openai.OpenAI]:
    """An openai SDK client for ``sim`` that never retries."""
    with openai.OpenAI(base_url=sim.url, api_key=KEY, max_retries=0, timeout=5.0) as sdk:
        yield sdk
