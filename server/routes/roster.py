from typing import Annotated

from fastapi import APIRouter, Query, Request

from server import service
from server.auth import Device
from server.errors import KIOSK_POST, declared
from server.routes import engine_of
from server.schemas import JSON_SAFE, MAX_ROSTER_ITEMS, RosterPage, RosterPush, RosterPushResult

router = APIRouter(tags=["kiosk"])


@router.get("/api/v1/roster", response_model=RosterPage, response_model_exclude_none=True,
            summary="Employees, face templates and look-alike holds of this kiosk's units changed after a version",
            responses=declared(401, 403, 422, 429, 500, 503),
            description="Every change on the server (an employee added, renamed, moved, deactivated; a template "
                        "added or deleted) gets the next roster version. A kiosk asks `since` the version it holds "
                        "and stores `version` once it has applied the whole page in one transaction; `more` says "
                        "another page follows. A kiosk receives only the employees of the units it was registered "
                        "for; an employee HR moved to another unit comes as inactive, with their templates deleted.")
def pull(device: Device, request: Request,
         since: Annotated[int, Query(ge=0, le=JSON_SAFE, description="The roster version the kiosk holds")] = 0,
         limit: Annotated[int, Query(ge=1, le=MAX_ROSTER_ITEMS)] = MAX_ROSTER_ITEMS) -> dict:
    with engine_of(request).begin() as conn:
        return service.roster_page(conn, device, since, limit)


@router.post("/api/v1/roster", response_model=RosterPushResult, response_model_exclude_none=True,
             summary="Push employees, templates and look-alike holds enrolled at this kiosk",
             responses=KIOSK_POST,
             description="Idempotent by template `uid`. Each item is answered on its own: a kiosk writes only "
                         "employees of its own units, never changes an employee's unit or (de)activates anyone "
                         "(HR on the server does), and adds templates only to its units' employees, and look-alike "
                         "holds (photos refused at enrollment as an employee's duplicate) only against them; "
                         "an item that "
                         "breaks this is `refused` with the reason and the others are stored. An item that breaks "
                         "the schema fails the request with 422 naming it (`fields`).")
def push(body: RosterPush, device: Device, request: Request) -> dict:
    with engine_of(request).begin() as conn:
        return service.push_roster(conn, device, body.employees, body.templates,
                                   set(request.app.state.cfg.values["schedules"]), body.holds,
                                   body.removed_holds)
