"""The collector's routes, one module per resource: protocol v1 for kiosks (health, events,
heartbeat, roster) and the HR pages (dashboard and exports)."""

from fastapi import Request
from sqlalchemy.engine import Engine


def engine_of(request: Request) -> Engine:
    return request.app.state.engine
