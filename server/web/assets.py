"""The one stylesheet of the HR pages (no scripts: the pages work without JavaScript)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from server.web import HERE

router = APIRouter(include_in_schema=False)
CSS = (HERE / "static" / "app.css").read_bytes()


@router.get("/static/app.css")
def stylesheet() -> Response:
    return Response(CSS, media_type="text/css", headers={"Cache-Control": "max-age=3600"})
