"""The collector's HTTP application: protocol v1 for kiosks (docs/protocol/openapi-v1.yaml,
generated from server/schemas.py and the routes) and the HR pages, behind the request limits.

From the socket in: the body cap (server.limits: 413 as soon as a body passes 8 MiB, chunked
included), the device token of kiosk requests (server.auth: 401/403 before the body is read),
then the routes (server/routes/, one module per resource) with pydantic validation at the edge,
and every error in one JSON shape (server.errors).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from sqlalchemy.engine import Engine

from server import PROTOCOL_VERSION, errors
from server.auth import DeviceTokenMiddleware
from server.db import open_engine
from server.limits import BodyLimitMiddleware
from server.routes import events, health, heartbeat, hr, roster


def load_rules(path: Path | None):
    """The attendance rules: a kiosk configuration file ([device] timezone, [attendance],
    [schedules]); the built-in defaults when none is given."""
    from kiosk.config import load_config

    return load_config(path, override=Path("/dev/null"))


def create_app(database: str | None = None, rules: Path | None = None, engine: Engine | None = None) -> FastAPI:
    engine = engine or open_engine(database)
    app = FastAPI(title="Kiosk absensi collector", version=PROTOCOL_VERSION, docs_url=None, redoc_url=None,
                  openapi_url=None, default_response_class=errors.SafeJSONResponse)
    app.state.engine, app.state.cfg = engine, load_rules(rules)
    errors.install(app)
    app.add_middleware(DeviceTokenMiddleware)
    app.add_middleware(BodyLimitMiddleware)  # added last: the outermost
    routers = [m.router for m in (health, events, heartbeat, roster, hr)]
    for router in routers:
        app.include_router(router)
    app.state.methods = errors.methods_by_path(routers)  # for Allow

    def openapi() -> dict:
        from server.openapi import build

        if app.openapi_schema is None:
            app.openapi_schema = build(app)
        return app.openapi_schema

    app.openapi = openapi
    return app
