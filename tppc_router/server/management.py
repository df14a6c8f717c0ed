"""``/v0/management/tppc``: read and change the provider list while the server runs.

Every write builds the candidate config by editing the file's YAML document in
place (:mod:`tppc_router.configfile.edits` on :mod:`tppc_router.configfile.document`), validates it with the loader, writes
it atomically and swaps the router live (:meth:`Runtime.apply`), all under
``Runtime.write_lock``. A refused request changes nothing: not the file, not
the router. Writes are logged (who, which fields, outcome; never a key value),
counted in ``runtime.management_writes`` by outcome, and passed to each callable
in ``runtime.write_hooks``.

The router's own lifespan (merged into the app's) hashes a plaintext management
secret at startup and runs the config file watcher (:mod:`tppc_router.server.watcher`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from tppc_router.configfile.store import ConfigStore, Mutator
from tppc_router.errors import ConfigError, ManagementError
from tppc_router.masking import get_logger, mask_text, mask_url, secrets
from tppc_router.configfile.edits import add_provider, patch_provider, remove_provider, replace_providers
from tppc_router.server.watcher import POLL_INTERVAL, start_watcher, stop_watcher
from tppc_router.server.mgmt_auth import Caller, ManagementAuthError, hash_secret_on_load, require_management, runtime_of
from tppc_router.server.config_errors import management_error, map_config_errors
from tppc_router.server.envpolicy import allowed_env, env_guard, write_problems
from tppc_router.server.deps import RuntimeDep, StoreDep
from tppc_router.server.runtime import Runtime

__all__ = ["WriteEvent", "record_write", "router", "tppc_view"]

logger = get_logger("tppc_router.management")

MEMORY_NOTE = "no config file: the change is kept in memory only and is lost on restart"
MAX_DEPTH = 32  # a provider is 2 levels deep; a body nested far deeper is refused before any work


class _ManagementRoute(APIRoute):
    """Turns a :class:`ManagementError` (raised by a route or the auth dependency), or a config
    error mapped to one (:mod:`tppc_router.server.config_errors`), into its JSON body."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                with map_config_errors():
                    return await handler(request)
            except ManagementError as exc:
                if isinstance(exc, ManagementAuthError) and request.method != "GET":
                    record_write(runtime_of(request), WriteEvent(
                        request.method, str(Caller.of(request)), _outcome(exc.status_code), exc.status_code))
                headers = getattr(exc, "headers", None)
                return JSONResponse(_scrubbed(exc.body), status_code=exc.status_code, headers=headers)

        return route


def _scrubbed(value: Any) -> Any:
    """``value`` with every known secret masked. (Not ``mask_text``: its header pattern would
    also hide the word after ``api-key:`` in a problem line such as ``api-key: must not be empty``.)"""
    if isinstance(value, str):
        return secrets.scrub(value)
    if isinstance(value, dict):
        return {k: _scrubbed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrubbed(v) for v in value]
    return value


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Hash a plaintext management secret, then watch the config file until shutdown."""
    runtime: Runtime = app.state.runtime
    if runtime.startup_settings is None:  # its env references are the ones management writes may use
        runtime.startup_settings = runtime.file_settings
    await run_in_threadpool(hash_secret_on_load, runtime)
    interval = POLL_INTERVAL if runtime.watch_interval is None else runtime.watch_interval
    task = start_watcher(runtime, interval=interval) if interval > 0 else None
    try:
        yield
    finally:
        if task is not None:
            await stop_watcher(task)


router = APIRouter(
    prefix="/v0/management",
    tags=["management"],
    route_class=_ManagementRoute,
    dependencies=[Depends(require_management)],
    lifespan=_lifespan,
)
CallerDep = Annotated[Caller, Depends(require_management)]


# -- events ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WriteEvent:
    """One management write: who, what (field paths only), and how it ended."""

    method: str
    client: str
    # ok, unchanged, invalid, not_found, conflict, error; refused by the gate: unauthorized, forbidden, locked_out
    outcome: str
    status: int
    fields: tuple[str, ...] = ()


def _outcome(status: int) -> str:
    return {400: "invalid", 422: "invalid", 404: "not_found", 409: "conflict", 401: "unauthorized",
            403: "forbidden", 429: "locked_out"}.get(
        status, "error" if status >= 500 else "ok"
    )


def record_write(runtime: Runtime, event: WriteEvent) -> None:
    """Log ``event``, count it in ``runtime.management_writes`` and call each write hook."""
    runtime.management_writes[event.outcome] += 1
    fields = ", ".join(event.fields) or "nothing"
    level = logging.INFO if event.status < 400 else logging.WARNING
    allowed, suppressed = runtime.management_log_budget.take() if event.status in (401, 403, 429) else (True, 0)
    if suppressed:
        logger.warning("management: %d more refused-write line(s) suppressed", suppressed)
    if allowed:
        logger.log(level, "%s", mask_text(
            f"management {event.method} from {event.client}: {event.outcome} ({event.status}); changed: {fields}"
        ), extra={"event": "management_write", "method": event.method, "client": event.client,
                  "outcome": event.outcome, "status": event.status, "fields": list(event.fields)})
    for hook in list(runtime.write_hooks):
        try:
            hook(event)
        except Exception:  # a broken metrics hook must not fail the write
            logger.exception("management write hook %r failed", hook)


# -- views ------------------------------------------------------------------------------------------


def _override(value: bool | None) -> str | None:
    return None if value is None else ("tppc" if value else "no-tppc")


def tppc_view(runtime: Runtime) -> dict[str, Any]:
    """The ``tppc`` section as GET shows it: keys masked, each provider with its live state."""
    settings = runtime.file_settings or runtime.settings
    live = {row.name: row for row in runtime.router.provider_states() if row.source == "tppc"}
    providers = []
    for provider in settings.tppc.providers:
        row = live.get(provider.name)
        providers.append({
            "name": provider.name,
            "enabled": provider.enabled,
            "base-url": mask_url(provider.base_url),  # credentials in a URL are masked too
            "api-key": provider.api_key.masked if provider.api_key is not None else None,
            "api-key-source": provider.key_source,
            "order": provider.order,
            "priority": row.priority if row is not None else None,
            "state": row.state if row is not None else "disabled",
        })
    return {"models": list(settings.tppc.models), "override": _override(runtime.tppc_override),
            "providers": providers}


# -- request bodies ------------------------------------------------------------------------------------


def _invalid(*problems: str) -> ManagementError:
    return ManagementError("invalid request body", status_code=422, problems=problems)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    message = "the request body must be JSON text (UTF-8, no NaN, no lone surrogates)"
    try:
        body = json.loads(raw.decode("utf-8"), parse_constant=_no_constants)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ManagementError(message, status_code=400) from None
    if _depth(body) > MAX_DEPTH:
        raise _invalid(f"<body>: nested more than {MAX_DEPTH} levels deep")
    try:
        json.dumps(body, ensure_ascii=False).encode("utf-8")  # a lone surrogate escape (\ud800) is no text
    except ValueError:
        raise ManagementError(message, status_code=400) from None
    return body


def _depth(value: Any) -> int:
    """How deeply lists and objects nest in ``value`` (without recursion)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            if level <= MAX_DEPTH:
                stack.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def _object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise _invalid(f"{where}: must be an object")
    return value


def _put_parts(body: Any) -> tuple[list[Any], bool, Any]:
    """``[...]``, ``{"providers": [...], "models": [...]}`` or the same wrapped in ``{"tppc": ...}``."""
    if isinstance(body, list):
        return body, False, None
    body = _object(body, "<body>")
    where = ""
    if "tppc" in body:
        extra = sorted(k for k in body if k != "tppc")
        if extra:
            raise _invalid(*(f"{k}: unknown key next to tppc" for k in extra))
        body, where = _object(body["tppc"], "tppc"), "tppc."
    unknown = sorted(k for k in body if k not in ("providers", "items", "models", "override"))
    if unknown:
        raise _invalid(*(f"{where}{k}: unknown key (expected providers, models)" for k in unknown))
    providers = body.get("providers", body.get("items"))
    if "providers" in body and "items" in body:
        raise _invalid(f"{where}providers: given twice (providers and items)")
    if providers is None:
        raise _invalid(f"{where}providers: required (send [] to remove every provider)")
    if not isinstance(providers, list):
        raise _invalid(f"{where}providers: must be a list")
    return providers, "models" in body, body.get("models")


def _selector(body: Mapping[str, Any]) -> tuple[str | None, int | None]:
    name, index = body.get("name"), body.get("index")
    if ("name" in body) == ("index" in body):
        raise _invalid("<body>: give exactly one of name, index")
    if "name" in body and not isinstance(name, str):
        raise _invalid("name: must be a string")
    if "index" in body and (not isinstance(index, int) or isinstance(index, bool)):
        raise _invalid("index: must be an integer")
    return name, index


# -- the write pipeline ------------------------------------------------------------------------------------


async def _commit(runtime: Runtime, store: ConfigStore, mutator: Mutator) -> tuple[tuple[str, ...], list[str]]:
    """Propose, write, apply, under the write lock. Nothing changes unless all three succeed.

    Returns the changed paths and the providers that start with fresh breakers."""
    async with runtime.write_lock:
        current = runtime.file_settings or runtime.settings
        if runtime.startup_settings is None:
            runtime.startup_settings = current
        startup = runtime.startup_settings
        mutator = env_guard(mutator, allowed_env(startup, current))
        try:
            proposal = await run_in_threadpool(store.propose, mutator)
        except ConfigError as exc:
            raise management_error(exc) from None
        except OSError as exc:
            raise ManagementError(f"cannot read {store.source}: {exc.strerror}", status_code=409) from None
        if proposal.unchanged or proposal.settings is None:
            return (), []
        refused = write_problems(proposal.settings)
        if refused:
            raise ManagementError("the change was not applied", status_code=422, problems=refused)
        try:
            await run_in_threadpool(store.commit, proposal.new_text, expected=proposal.old_text,
                                    document=proposal.document)
        except OSError as exc:
            raise ManagementError(f"cannot write {store.source}: {exc.strerror}", status_code=500) from None
        try:  # building the router (litellm) takes a while: off the event loop
            fresh = await asyncio.to_thread(runtime.apply, proposal.settings)
        except Exception as exc:  # noqa: BLE001 - roll the file back, whatever the router raised
            await run_in_threadpool(store.commit, proposal.old_text)
            logger.error("management write rolled back: the router refused the new config (%s)", type(exc).__name__)
            raise ManagementError("the router refused the new config; nothing was changed",
                                  status_code=500) from None
        return proposal.changed, fresh


async def _write(
    request: Request, runtime: Runtime, store: ConfigStore, caller: Caller, prepare: Callable[[Any], Mutator], *,
    body: bool = True, status: int = 200,
) -> JSONResponse:
    method = request.method
    try:
        with map_config_errors():
            mutator = prepare(await _json_body(request) if body else None)
            changed, fresh = await _commit(runtime, store, mutator)
    except ManagementError as exc:
        record_write(runtime, WriteEvent(method, str(caller), _outcome(exc.status_code), exc.status_code))
        raise
    except Exception:
        record_write(runtime, WriteEvent(method, str(caller), "error", 500))
        raise
    outcome = "ok" if changed else "unchanged"
    record_write(runtime, WriteEvent(method, str(caller), outcome, status, changed))
    content: dict[str, Any] = {"status": "ok", "changed": list(changed), "persisted": store.persistent,
                               "fresh_start": fresh}
    if not store.persistent:
        content["note"] = MEMORY_NOTE
    content["tppc"] = tppc_view(runtime)
    return JSONResponse(content, status_code=status)


# -- routes ---------------------------------------------------------------------------------------------------


@router.get("/tppc")
async def get_tppc(runtime: RuntimeDep, caller: CallerDep) -> JSONResponse:
    """The providers (keys masked) with their live state, and whether --tppc/--no-tppc is in force."""
    return JSONResponse({"tppc": tppc_view(runtime)})


@router.put("/tppc")
async def put_tppc(request: Request, runtime: RuntimeDep, store: StoreDep, caller: CallerDep) -> JSONResponse:
    """Replace the provider list (and ``models`` when given)."""
    env = os.environ

    limit = runtime.settings.server.limits.max_providers

    def prepare(body: Any) -> Mutator:
        providers, set_models, models = _put_parts(body)
        if len(providers) > limit:  # refused before any work on them
            raise _invalid(f"providers: {len(providers)} providers, more than server.limits.max-providers ({limit})")
        return lambda doc: replace_providers(doc, providers, env, models=models, set_models=set_models)

    return await _write(request, runtime, store, caller, prepare)


@router.patch("/tppc")
async def patch_tppc(request: Request, runtime: RuntimeDep, store: StoreDep, caller: CallerDep) -> JSONResponse:
    """Change some fields of one provider, chosen by ``name`` or ``index``."""
    env = os.environ

    def prepare(body: Any) -> Mutator:
        body = _object(body, "<body>")
        unknown = sorted(k for k in body if k not in ("name", "index", "value"))
        if unknown:
            raise _invalid(*(f"{k}: unknown key (expected name or index, and value)" for k in unknown))
        name, index = _selector(body)
        value = _object(body.get("value"), "value")
        return lambda doc: patch_provider(doc, value, env, name=name, index=index)

    return await _write(request, runtime, store, caller, prepare)


@router.post("/tppc")
async def post_tppc(request: Request, runtime: RuntimeDep, store: StoreDep, caller: CallerDep) -> JSONResponse:
    """Add one provider; 409 when the name is taken (case-insensitive)."""
    env = os.environ

    def prepare(body: Any) -> Mutator:
        value = _object(body, "<body>")
        return lambda doc: add_provider(doc, value, env)

    return await _write(request, runtime, store, caller, prepare, status=201)


@router.delete("/tppc")
async def delete_tppc(request: Request, runtime: RuntimeDep, store: StoreDep, caller: CallerDep,
                      name: str | None = None, index: str | None = None) -> JSONResponse:
    """Remove the provider ``?name=`` (or ``?index=``)."""

    def prepare(_: Any) -> Mutator:
        if (name is None) == (index is None):
            raise _invalid("<query>: give exactly one of name, index")
        at: int | None = None
        if index is not None:
            if not index.isascii() or not index.isdigit():
                raise _invalid("index: must be a non-negative integer in ASCII digits")
            at = int(index)
        return lambda doc: remove_provider(doc, name=name, index=at)

    return await _write(request, runtime, store, caller, prepare, body=False)
