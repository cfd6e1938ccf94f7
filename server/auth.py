"""Who is asking: kiosks by their device token, HR by the HR login.

The device token is checked by `DeviceTokenMiddleware` before anything reads the request body,
so a client without a valid token cannot make the server buffer or parse a byte of it; the
route gets the device (with its units) from the `current_device` dependency. Tokens are read
from the Authorization header, hashed, and never logged or echoed.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBasic, HTTPBasicCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from server import hr_login, service
from server.errors import ApiError, error_response

API_PREFIX = "/api/v1/"
OPEN_PATHS = {"/api/v1/health"}

device_token = HTTPBearer(auto_error=False, scheme_name="deviceToken",
                          description="Per-device token from `python -m server register-device`; stored hashed.")
hr_basic = HTTPBasic(auto_error=False, scheme_name="hrLogin", realm="Absensi HR",
                     description="The HR login (`python -m server hr-password`), over the reverse proxy's TLS.")


def _refusal(why: str) -> ApiError:
    # Connection: close - the server reads none of the body it refused
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
    """Answers 401/403 to a kiosk request without a valid token before its body is read."""

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


def current_hr_user(request: Request, credentials: Annotated[HTTPBasicCredentials | None, Depends(hr_basic)]) -> str:
    """The HR user of the dashboard and exports; refused when no HR login is configured."""
    challenge = {"WWW-Authenticate": 'Basic realm="Absensi HR", charset="UTF-8"'}
    engine = request.app.state.engine
    if credentials is None:
        with engine.connect() as conn:
            if not hr_login.configured(conn):
                raise _not_configured()
        raise ApiError(401, "unauthorized", "log in with the HR username and password", challenge)
    result = hr_login.check(engine, credentials.username, credentials.password)
    if result.ok:
        return credentials.username
    if not result.configured:
        raise _not_configured()
    if result.locked_for_s and result.locked_for_s > 0:
        raise ApiError(429, "locked", f"too many wrong passwords: try again in {result.locked_for_s} s",
                       {"Retry-After": str(result.locked_for_s)})
    raise ApiError(401, "unauthorized", "wrong HR username or password", challenge)


def _not_configured() -> ApiError:
    return ApiError(403, "hr_login_not_configured",
                    "no HR login is configured on this server: run `python -m server hr-password USERNAME`")


HrUser = Annotated[str, Depends(current_hr_user)]
