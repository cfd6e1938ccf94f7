"""Approve, reject or cancel a leave record or a correction from its list page (one route each
for the two kinds: /cuti/{id}/{aksi}, /koreksi/{id}/{aksi})."""

from __future__ import annotations

from typing import Annotated, Callable

from fastapi import Path, Request
from fastapi.responses import HTMLResponse

from server import records
from server.web import redirect
from server.web.deps import client_ip, flash

RecordId = Annotated[int, Path(ge=1, le=2**31 - 1)]
Action = Annotated[str, Path(pattern="^(setujui|tolak|batal)$")]
DONE = {"setujui": "disetujui", "tolak": "ditolak", "batal": "dibatalkan"}


def act(request: Request, session, kind: records.Kind, record: int, action: str,
        page: Callable[[str, int], HTMLResponse], back: str) -> HTMLResponse:
    """The refusal (not the unit's, decided already, one's own entry under four eyes, a closed
    month) is shown on the list page."""
    who = session.actor.who(client_ip(request))
    try:
        with request.app.state.engine.begin() as conn:
            if action == "batal":
                records.cancel(conn, who, session.actor, kind, record)
            else:
                records.decide(conn, who, session.actor, kind, record, action == "setujui")
    except records.RecordError as e:
        return page(str(e), 422)
    flash(request, session, f"{kind.what.capitalize()} no. {record} {DONE[action]}.")
    return redirect(back)
