"""``create_app(settings)``: the ASGI application, wired explicitly."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from modeldepot import __version__
from modeldepot.config import ServerSettings
from modeldepot.errors import InvalidInput
from modeldepot.registry import Registry
from modeldepot.registry.uploads import SWEEPER
from modeldepot.server import errors, health
from modeldepot.server.api import (
    aliases,
    audit,
    blobs,
    datasets,
    events,
    identity,
    inventory,
    lifecycle,
    lineage,
    models,
    policies,
    protections,
    requests,
    search,
    versions,
)
from modeldepot.server.auth import ANONYMOUS_ACCESS
from modeldepot.server.docs import install_docs
from modeldepot.server.limits import JsonBodyLimit
from modeldepot.server.metrics import HttpMetrics, metrics_endpoint
from modeldepot.server.telemetry import Telemetry

API = "/api/v1"
log = logging.getLogger("modeldepot.server")


def create_app(settings: ServerSettings, registry: Registry | None = None) -> FastAPI:
    """The app for ``settings``; pass ``registry`` to share one (tests), else it is opened
    here. On start, a registry with no user yet gets its first admin (see
    ``IdentityService.bootstrap``)."""
    if settings.anonymous not in ANONYMOUS_ACCESS:
        raise InvalidInput(
            f"MODELDEPOT_ANONYMOUS={settings.anonymous!r} is not one of: "
            + ", ".join(ANONYMOUS_ACCESS)
        )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = registry is None
        app.state.registry = registry or Registry.from_settings(settings)
        await run_in_threadpool(create_first_admin, app.state.registry)
        sweeper = asyncio.create_task(_sweep(app.state.registry, settings.cleanup_interval_seconds))
        # The audit signing key is read (or created) now: a server that cannot sign
        # checkpoints does not start.
        await run_in_threadpool(app.state.registry.audit.load_key)
        checkpointer = asyncio.create_task(
            _checkpoint_audit(app.state.registry, settings.audit_checkpoint_seconds)
        )
        try:
            yield
        finally:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
            checkpointer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await checkpointer
            if owned:
                app.state.registry.close()

    app = FastAPI(
        title="modeldepot",
        version=__version__,
        summary="A self-hosted ML model registry",
        openapi_url=f"{API}/openapi.json",
        docs_url=None,  # served by install_docs, with local assets
        redoc_url=None,
        lifespan=lifespan,
    )
    if registry is not None:
        app.state.registry = registry
    app.add_middleware(
        JsonBodyLimit, limit=settings.max_json_body_bytes, slots=settings.json_parse_slots
    )
    # Added last, so it is the outermost of ours: it sees every request and response.
    app.state.metrics = HttpMetrics(lambda: getattr(app.state, "registry", None))
    app.add_middleware(
        Telemetry,
        metrics=app.state.metrics,
        prefix=API,
        log_access=settings.log_format == "json",
    )
    errors.install(app)
    errors.document_problems(app, API)
    install_docs(app, API)
    # The bare /models/{name} routes match any path below them, so they come last.
    final = APIRouter()
    models.register_model_routes(final)
    routers = (
        blobs.router,
        versions.router,
        lineage.router,
        aliases.router,
        models.router,
        datasets.router,
        inventory.router,
        search.router,
        audit.router,
        events.router,
        identity.router,
        requests.router,
        lifecycle.router,
        policies.router,
        protections.router,
        final,
    )
    for router in routers:
        app.include_router(router, prefix=API)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse(f"{API}/docs")

    app.include_router(health.router)
    app.add_api_route("/metrics", metrics_endpoint, methods=["GET"], include_in_schema=False)

    return app


def create_first_admin(registry: Registry) -> None:
    """On a registry with no user yet, create its admin and say where its token is."""
    settings = registry.settings
    created = registry.identity.bootstrap(settings.data_dir, settings.admin_token)
    if created is not None:
        log.warning(
            "first start: created the user 'admin' (admin on /); its token is in %s "
            "(readable by you only), which the CLI and SDK on this machine use",
            created,
        )


async def _sweep(registry: Registry, interval: int) -> None:
    """Every ``interval`` seconds (0: never): expire abandoned upload sessions and
    settle open promotion requests (soak ended, expiry, auto-apply)."""
    if interval <= 0:
        return
    while True:
        await asyncio.sleep(interval)
        try:
            expired = await run_in_threadpool(registry.uploads.expire_uploads, SWEEPER)
            if expired:
                log.info("expired %d abandoned upload sessions", expired)
            # Time passing settles requests: soak periods end, requests expire.
            settled = await run_in_threadpool(registry.request_followers.sweep, SWEEPER)
            if settled:
                log.info("%d promotion requests changed state", settled)
        except Exception:
            log.exception("upload sweep failed")


async def _checkpoint_audit(registry: Registry, interval: int) -> None:
    """Sign the audit chain's head every ``interval`` seconds while it grows (0: never;
    checkpoints are then signed every N records only)."""
    if interval <= 0:
        return
    while True:
        await asyncio.sleep(interval)
        try:
            await run_in_threadpool(registry.audit.checkpoint)
        except Exception:
            log.exception("audit checkpoint failed")
