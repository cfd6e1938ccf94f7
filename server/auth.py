"""Who is asking: kiosks by their device token (HR accounts sign in with a session: server.web.deps).

The device token is checked by `DeviceTokenMiddleware` before anything reads the request body,
so a client without a valid token cannot make the server buffer or parse a byte of it; the
route gets the device (with its units) from the `current_device` dependency. Tokens are read
from the Authorization header, hashed, and never logged or echoed.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from server import service
from server.errors import ApiError, error_response
from server.limits import drain

API_PREFIX = "/api/v1/"
OPEN_PATHS = {"/api/v1/health"}

device_token = HTTPBearer(auto_error=False, scheme_name="deviceToken",
                          description="Per-device token from `python -m server register-device`; stored hashed.")


def _refusal(why: str) -> ApiError:
    # Connection: close - the server parses none of the body it refused
    if why == "revoked":
        return ApiError(403, "revoked", "this device's token was revoked; ask IT for a new one",
                        {"Connection": "close"})
    return ApiError(401, "unauthorized", "missing or unknown device token",
                    {"WWW-Authenticate": "Bearer", "Connection": "close"})


def _bearer(scope: Scope) -> str:
    for k, v in scope.get("headers", []):
        if k == b"authorization":
            value = v.decode("latin-1")
            return value[7:].strip() if value[:7].lower() == "bearer " else ""
    return ""


class DeviceTokenMiddleware:
    """Answers 401/403 to a kiosk request without a valid token before its body is parsed (what was
    sent of it is drained, bounded: server.limits)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (scope["type"] != "http" or not path.startswith(API_PREFIX) or path in OPEN_PATHS
                or scope["method"] == "OPTIONS"):
            await self.app(scope, receive, send)
            return
        engine = scope["app"].state.engine

        def lookup():
            with engine.connect() as conn:
                return service.authenticate(conn, _bearer(scope))

        device, why = await run_in_threadpool(lookup)
        if device is None:
            await drain(receive)  # what the kiosk already sent, so that the refusal reaches it (server.limits)
            await error_response(_refusal(why))(scope, receive, send)
            return
        scope.setdefault("state", {})["device"] = device
        await self.app(scope, receive, send)


def current_device(request: Request,
                   _: Annotated[HTTPAuthorizationCredentials | None, Depends(device_token)]) -> service.Device:
    """The kiosk DeviceTokenMiddleware authenticated (declares the bearer token in the OpenAPI)."""
    device = getattr(request.state, "device", None)
    if device is None:  # the middleware did not run for this path: refuse rather than guess
        raise _refusal("missing")
    return device


Device = Annotated[service.Device, Depends(current_device)]
