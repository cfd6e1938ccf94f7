from fastapi import APIRouter

from server import PROTOCOL_VERSION
from server.schemas import Health

router = APIRouter(tags=["kiosk"])


@router.get("/api/v1/health", response_model=Health, summary="Liveness (no token)")
def health() -> dict:
    return {"status": "ok", "protocol": PROTOCOL_VERSION}
