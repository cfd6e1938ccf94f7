"""The request body cap, enforced while the body streams in.

A declared Content-Length over the cap is answered 413 before a byte of the body is read; a
body without one (chunked) is counted as the application reads it and answered 413 the moment
the count passes the cap, so at most the cap is ever held in memory. The answer carries
`Connection: close`: the server stops reading the rest instead of draining it.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.errors import ApiError, error_response
from server.schemas import MAX_BODY

CLOSE = {"Connection": "close"}


def too_large() -> ApiError:
    return ApiError(413, "too_large", f"the request body is over {MAX_BODY} bytes; send smaller batches", CLOSE)


class BodyTooLarge(HTTPException):
    """Raised from `receive` when the body passes the cap (FastAPI lets HTTPException through)."""

    def __init__(self) -> None:
        super().__init__(413, "request body too large", headers=CLOSE)


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_body: int = MAX_BODY):
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for k, v in scope.get("headers", []):
            if k == b"content-length":
                try:
                    declared = int(v)
                except ValueError:
                    declared = None  # uvicorn refuses a bad Content-Length before we are called
                if declared is not None and declared > self.max_body:
                    await error_response(too_large())(scope, receive, send)
                    return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise BodyTooLarge()
            return message

        await self.app(scope, counted, send)
