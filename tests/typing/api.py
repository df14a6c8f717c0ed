"""Never run: mypy reads this file so a breaking change to public signatures fails CI."""

from __future__ import annotations

from typing import Any

from tppc_router import (
    AllProvidersFailedError,
    Settings,
    StreamInterruptedError,
    TppcRouter,
    build_model_list,
    credential_chain,
    load_settings,
    mask,
    ProviderStatus,
)


def usage() -> None:
    settings: Settings = load_settings("config.yaml")
    router = TppcRouter(settings, model_list=[{"model_name": "mine", "litellm_params": {"model": "openai/x"}}])
    router = TppcRouter.from_config("config.yaml")
    router = TppcRouter.from_tppc_config("config.yaml", model_list=[], num_retries=2)
    router = TppcRouter(model_list=[], tppc_settings=settings, fallbacks=[{"gpt-5": ["mine"]}])
    tppc: Settings = router.tppc_settings
    reply: Any = router.completion(model="gpt-5", messages=[{"role": "user", "content": "hi"}])
    stream: Any = router.responses(model="gpt-5", input="hi", stream=True)
    states: list[ProviderStatus] = router.provider_states()
    rows: list[dict[str, Any]] = [state.as_dict() for state in states]
    router.reload(settings)
    reloads: int = router.reloads
    deployments: list[dict[str, Any]] = build_model_list(settings)
    masked: str = mask("sk-abcdefgh12345678")
    try:
        pass
    except AllProvidersFailedError as error:
        print(error.attempts, error.status_code, error.body)
    except StreamInterruptedError as interrupted:
        print(interrupted.text, interrupted.provider)
    print(reply, stream, states, rows, reloads, deployments, masked, credential_chain(settings), router.litellm_router, tppc)


async def async_usage(router: TppcRouter) -> None:
    reply: Any = await router.acompletion(model="gpt-5", messages=[])
    response: Any = await router.aresponses(model="gpt-5", input="hi")
    print(reply, response)
