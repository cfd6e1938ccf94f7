"""The collector's HTTP application: protocol v1 for kiosks (docs/protocol/openapi-v1.yaml,
generated from server/schemas.py and the routes) and the HR pages (server/web), behind the
request limits.

From the socket in: the body cap (server.limits: 413 as soon as a body passes 8 MiB, chunked
included), the device token of kiosk requests (server.auth: 401/403 before the body is read),
then the routes (server/routes/, one module per resource) with pydantic validation at the edge,
and every error in one JSON shape (server.errors).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from sqlalchemy.engine import Engine

from server import PROTOCOL_VERSION, errors, web
from server.auth import DeviceTokenMiddleware
from server.config import ServerConfig
from server.config import load as load_config
from server.db import open_engine
from server.limits import BodyLimitMiddleware
from server.routes import events, health, heartbeat, roster
from server.web import kiosks
from server.web.gate import SessionGateMiddleware
from server.web.headers import SecurityHeadersMiddleware


def create_app(database: str | None = None, config: Path | None = None, engine: Engine | None = None,
               settings: ServerConfig | None = None) -> FastAPI:
    """The application over `engine` (or the database URL), configured by `settings` (or the
    file `config`, else $KIOSK_COLLECTOR_CONFIG, else the defaults)."""
    engine = engine or open_engine(database)
    settings = settings or load_config(config)
    app = FastAPI(title="Kiosk absensi collector", version=PROTOCOL_VERSION, docs_url=None, redoc_url=None,
                  openapi_url=None, default_response_class=errors.SafeJSONResponse)
    # cfg: the attendance rules (attendance.config.RulesConfig), settings: the whole configuration
    app.state.engine, app.state.settings, app.state.cfg = engine, settings, settings.rules
    errors.install(app)
    # from the socket in: body cap, device token (kiosk API), session (HR forms), page headers
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(SessionGateMiddleware, admin_only={kiosks.UPLOAD_PATH})
    app.add_middleware(DeviceTokenMiddleware)
    app.add_middleware(BodyLimitMiddleware, overrides={kiosks.UPLOAD_PATH: kiosks.MAX_KIOSK_DB})  # the outermost
    for router in [m.router for m in (health, events, heartbeat, roster)] + web.routers():
        app.include_router(router)

    def openapi() -> dict:
        from server.openapi import build

        if app.openapi_schema is None:
            app.openapi_schema = build(app)
        return app.openapi_schema

    app.openapi = openapi
    return app


def app_from_env() -> FastAPI:
    """The app of one server process: database from $KIOSK_SERVER_DB, configuration from
    $KIOSK_COLLECTOR_CONFIG (`kiosk-collector serve` sets both for its workers)."""
    return create_app()
