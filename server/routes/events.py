from fastapi import APIRouter, Request

from server import service
from server.auth import Device
from server.errors import KIOSK_POST, ApiError
from server.routes import engine_of
from server.schemas import MAX_BATCH, BatchResult, EventBatch, check_events, echo_id

router = APIRouter(tags=["kiosk"])


@router.post("/api/v1/events", response_model=BatchResult, response_model_exclude_none=True,
             summary="Upload a batch of attendance events",
             responses=KIOSK_POST,
             description="Stored in one transaction. Each event is answered in `results` (same order as sent): "
                         "`accepted` (stored now), `duplicate` (its id was already stored, or repeated in this "
                         "batch) or `rejected` with a `reason` (it will never be accepted as sent; the kiosk keeps "
                         "it and shows it). A rejected event never costs the others of its batch. The `device_id` "
                         "of each event must be the token's device.")
def upload(batch: EventBatch, device: Device, request: Request) -> dict:
    if len(batch.events) > MAX_BATCH:
        raise ApiError(413, "too_large", f"a batch holds at most {MAX_BATCH} events, got {len(batch.events)}")
    checked = check_events(batch.events)
    echo = [echo_id(e) for e in batch.events]
    with engine_of(request).begin() as conn:
        return service.ingest(conn, device, batch.batch_id, checked, echo)
