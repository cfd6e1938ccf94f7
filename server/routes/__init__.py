"""The kiosk protocol's routes (v1), one module per resource: health, events, heartbeat,
roster. The HR pages are server/web."""

from fastapi import Request
from sqlalchemy.engine import Engine


def engine_of(request: Request) -> Engine:
    return request.app.state.engine
