from fastapi import APIRouter, Request

from server import service
from server.auth import Device
from server.errors import KIOSK_POST, declared
from server.routes import engine_of
from server.schemas import Heartbeat, HeartbeatReply

router = APIRouter(tags=["kiosk"])


@router.post("/api/v1/heartbeat", response_model=HeartbeatReply,
             summary="How far this kiosk has synced, and its health",
             responses=KIOSK_POST,
             description="Sent after every round that uploaded something and at least every `heartbeat_s` (60 s). "
                         "The dashboard shows a unit's day as final only when each of its kiosks has reported "
                         "`pending = 0` recently; until then absences are marked \"belum final\".")
def heartbeat(body: Heartbeat, device: Device, request: Request) -> dict:
    with engine_of(request).begin() as conn:
        return service.heartbeat(conn, device, body.model_dump(exclude_none=True))
