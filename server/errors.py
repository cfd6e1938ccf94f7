"""Every error the collector answers, in one JSON shape `{"error", "message"[, "fields"]}`
(schemas.ErrorBody), and the handlers that make it: 422 naming each bad field, 405 and OPTIONS
with the methods the path serves in Allow, and a catch-all that logs an unexpected exception
(without the request, so no token or personal data) and answers a clean 500.
"""

from __future__ import annotations

import json
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from server.schemas import MAX_BODY, ErrorBody, field_name

log = logging.getLogger("server")


class SafeJSONResponse(JSONResponse):
    """JSON with non-ASCII escaped: valid UTF-8 whatever a string holds (a lone surrogate from
    a stored value or a message can never turn an answer into a 500)."""

    def render(self, content) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")


class ApiError(Exception):
    """An answer other than 200, raised anywhere below a route."""

    def __init__(self, status: int, code: str, message: str, headers: dict | None = None,
                 fields: list[dict] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers, self.fields = status, code, message, headers, fields


def error_response(e: ApiError) -> SafeJSONResponse:
    body = {"error": e.code, "message": e.message}
    if e.fields:
        body["fields"] = e.fields
    return SafeJSONResponse(body, status_code=e.status, headers=e.headers)


CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
         409: "conflict",
         413: "too_large", 422: "invalid", 429: "slow_down"}


def methods_by_path(routers) -> dict[str, set[str]]:
    """{path: methods} of the routes (no path has parameters), with OPTIONS (answered 204)."""
    out: dict[str, set[str]] = {}
    for router in routers:
        for route in router.routes:
            out.setdefault(route.path, {"OPTIONS"}).update(route.methods)
    return out


def _allowed_methods(request: Request) -> list[str]:
    return sorted(request.app.state.methods.get(request.url.path, ()))


async def _http_error(request: Request, exc: HTTPException) -> Response:
    if exc.status_code == 405:
        allow = ", ".join(_allowed_methods(request))
        if request.method == "OPTIONS":
            return Response(status_code=204, headers={"Allow": allow})
        return error_response(ApiError(405, "method_not_allowed",
                                       f"{request.method} is not served here; allowed: {allow}", {"Allow": allow}))
    if exc.status_code == 413:
        return error_response(ApiError(413, "too_large", f"the request body is over {MAX_BODY} bytes; "
                                                         "send smaller batches", {"Connection": "close"}))
    return error_response(ApiError(exc.status_code, CODES.get(exc.status_code, "error"), str(exc.detail),
                                   dict(exc.headers or {}) or None))


async def _api_error(request: Request, exc: ApiError) -> Response:
    return error_response(exc)


async def _invalid(request: Request, exc: RequestValidationError) -> Response:
    fields = []
    for e in exc.errors():
        loc = list(e.get("loc", ()))
        where = loc.pop(0) if loc and loc[0] in ("body", "query", "path", "header") else "body"
        if e.get("type") == "json_invalid":
            why = e.get("ctx", {}).get("error", "")
            return error_response(ApiError(400, "bad_json", f"the body is not valid JSON ({why} at position "
                                                            f"{loc[0] if loc else '?'})"))
        fields.append({"field": field_name(loc) or where,
                       "problem": str(e.get("msg", "")).removeprefix("Value error, ")})
    message = "; ".join(f"{f['field']}: {f['problem']}" for f in fields[:5])
    if len(fields) > 5:
        message += f"; and {len(fields) - 5} more"
    return error_response(ApiError(422, "invalid", message, fields=fields))


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.error("unexpected %s answering %s %s", type(exc).__name__, request.method, request.url.path,
              exc_info=(type(exc), exc, exc.__traceback__))
    return error_response(ApiError(500, "internal", "the server failed on this request; it is logged. "
                                                    "Try again later or tell IT"))


def install(app: FastAPI) -> None:
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(Exception, _unexpected)


RETRY_AFTER = {"Retry-After": {"schema": {"type": "string"}, "description": "Seconds or an HTTP date"}}
DESCRIPTIONS = {
    400: "The body is not JSON (or is nested too deeply to read)",
    401: "Missing or unknown credential",
    403: "The device token was revoked (error = revoked), or no HR login is configured",
    409: "The attendance rules (the server's --rules file) do not define a schedule an employee has",
    413: f"The body is over {MAX_BODY} bytes (8 MiB; counted as it streams, chunked included), or a batch "
         "holds over 5000 events: send smaller batches (the kiosk halves its batch)",
    422: "A field is invalid: `fields` names each one and what is wrong with it",
    429: "Slow down: retry after Retry-After (from the reverse proxy; or too many wrong HR passwords)",
    500: "The server failed; it is logged. Retry later",
    503: "Overloaded (the reverse proxy): retry after Retry-After",
}


def declared(*codes: int) -> dict:
    """The error answers of a route, for the OpenAPI file."""
    return {c: {"model": ErrorBody, "description": DESCRIPTIONS[c], **({"headers": RETRY_AFTER}
                                                                        if c in (429, 503) else {})}
            for c in codes}


KIOSK_POST = declared(400, 401, 403, 413, 422, 429, 500, 503)  # what a kiosk's POST may be answered
