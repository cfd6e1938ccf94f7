"""No HR form is read before its session is known. A POST (every form of the pages is one) to
the HR pages without a live session is answered before its body is parsed - 401, or the sign-in
form for a browser - and an upload that may be large (a kiosk database) needs an administrator's
session before a byte of it is stored. What the client already sent of a refused body is drained
first, bounded (server.limits.drain), so that the refusal reaches it. The session found is handed
to the page (server.web.deps)."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from server.errors import ApiError, error_response
from server.limits import drain

OPEN = {"/login"}  # its form carries its own token, bound to a cookie


class SessionGateMiddleware:
    def __init__(self, app: ASGIApp, admin_only: set[str] = frozenset()):
        self.app, self.admin_only = app, admin_only

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        # other methods: no page takes them (405 without reading a body)
        if scope["type"] != "http" or scope["method"] != "POST" or path.startswith("/api/") or path in OPEN:
            await self.app(scope, receive, send)
            return
        from server.web.deps import optional_session

        request = Request(scope)
        session = await run_in_threadpool(optional_session, request)
        refusal = None
        if session is None:
            if "text/html" in request.headers.get("accept", ""):
                refusal = RedirectResponse("/login", status_code=303, headers={"Connection": "close"})
            else:
                refusal = error_response(ApiError(401, "unauthorized", "sign in first: /login", {"Connection": "close"}))
        elif path in self.admin_only and not session.actor.is_admin:
            refusal = error_response(ApiError(403, "forbidden", "only an administrator may send this",
                                              {"Connection": "close"}))
        if refusal is not None:
            await drain(receive)  # what the browser already sent, so that the refusal reaches it (server.limits)
            await refusal(scope, receive, send)
            return
        scope.setdefault("state", {})["session"] = session
        await self.app(scope, receive, send)
