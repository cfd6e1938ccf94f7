"""docs/protocol/openapi-v1.yaml, generated from the app's routes and pydantic models
(`python -m server openapi > docs/protocol/openapi-v1.yaml`; a test keeps the two identical)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from server import PROTOCOL_VERSION
from server.errors import declared
from server.schemas import MAX_BATCH, MAX_BODY, MAX_ROSTER_ITEMS, Event

# the error answers, each described once in components/responses (always JSON, whatever the
# route's own media type)
ERROR_NAMES = {"400": "BadRequest", "401": "Unauthorized", "403": "Forbidden", "413": "TooLarge",
               "422": "Invalid", "429": "SlowDown", "500": "ServerError", "503": "Unavailable"}

DESCRIPTION = f"""\
How attendance kiosks upload to the collector server of a unit or regency (design and fault
handling: docs/upload.md; the threat model: server/README.md). Version 1;
every kiosk path starts with /api/v1. A later incompatible version gets a new prefix (/api/v2)
and both are served during the change-over. Generated from the server's code by
`python -m server openapi`: do not edit by hand.

* Authentication: each kiosk has its own token (`python -m server register-device ID --unit U`),
  sent as `Authorization: Bearer <token>`. The server stores only its SHA-256. An unknown token
  answers 401, a revoked one 403; the kiosk then stops uploading until a new token is installed.
  The token is checked before the request body is parsed (what was sent of a refused body, up to
  1 MiB, is read and discarded, so that the 401/403 reaches the kiosk instead of a connection reset).
* Units: a kiosk reads and writes only the employees and templates of the units it was
  registered for. An employee's unit changes only through HR on the server.
* Limits: a request body holds at most {MAX_BODY} bytes (8 MiB), counted while it streams
  (chunked bodies included): over it, 413 at once. A batch holds at most {MAX_BATCH} events
  (more: 413), a roster push or page at most {MAX_ROSTER_ITEMS} employees and {MAX_ROSTER_ITEMS} templates.
* Idempotency: an event's `id` (UUID4, made by the kiosk when it records the event) is the key.
  Sending an event again - because a reply was lost, a kiosk restarted, a batch was retried -
  answers `duplicate` and stores nothing. A kiosk deletes nothing from its outbox until an answer
  names the event `accepted`, `duplicate` or `rejected`.
* Validation: strict types, no unknown fields, no NUL or lone surrogate in any string, lengths
  as the columns, 64-bit integers, no NaN or Infinity, real dates. A bad event is `rejected` with
  its reason in a 200 and the rest of its batch is stored; any other bad body answers 422 with
  `fields` naming each bad field.
* Errors: JSON `{{"error": code, "message": text}}`. 400 unreadable body, 401/403 credential, 413
  too large, 422 invalid field, 429/503 with `Retry-After` (seconds or an HTTP date; from the
  reverse proxy), 5xx retry later. Kiosks back off exponentially with jitter and never retry
  sooner than Retry-After. An unsupported method answers 405 with `Allow`; OPTIONS answers 204
  with `Allow`.
* Times: RFC 3339 with a UTC offset. A kiosk's clock may be wrong (no RTC, no network): each
  event carries `clock_synced`, a monotonic stamp and the boot id; the heartbeat carries the
  kiosk's clock (`sent_at`) so the server records the offset.
* The HR pages of the same server are for browsers with an HR account's session (sign-in form,
  cookie, CSRF token on every form); they are not part of this protocol.
"""


def build(app: FastAPI) -> dict:
    doc = get_openapi(title="Kiosk absensi - collector protocol", version=PROTOCOL_VERSION,
                      openapi_version="3.1.0", description=DESCRIPTION, routes=app.routes,
                      license_info={"name": "MIT"}, servers=[{"url": "https://absensi.example.go.id"}])
    schemas = doc["components"]["schemas"]
    # events are validated one by one (a bad one is rejected, the batch stored): the batch's
    # schema refers to Event, which pydantic cannot put there itself
    schemas["Event"] = Event.model_json_schema(ref_template="#/components/schemas/{model}")
    for name in [n for n in schemas if n.startswith("EventBatch")]:
        schemas[name]["properties"]["events"]["items"] = {"$ref": "#/components/schemas/Event"}
    doc["components"]["schemas"] = dict(sorted(schemas.items()))
    for ops in doc["paths"].values():
        for op in ops.values():
            for code in op.get("responses", {}):
                if code in ERROR_NAMES:
                    op["responses"][code] = {"$ref": f"#/components/responses/{ERROR_NAMES[code]}"}
    responses = {}
    for code, spec in declared(*map(int, ERROR_NAMES)).items():
        spec = dict(spec)
        spec.pop("model")
        responses[ERROR_NAMES[str(code)]] = {
            **spec, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}
    doc["components"]["responses"] = responses
    return _tidy(doc)


def _tidy(node, key: str = ""):
    """Docstrings wrap at 100 columns: in the file each description is one paragraph. Bounds
    of integers are written as integers (FastAPI hands some over as 2147483647.0)."""
    if isinstance(node, dict):
        return {k: _tidy(v, k) for k, v in node.items()}
    if isinstance(node, list):
        return [_tidy(v) for v in node]
    if key == "description" and isinstance(node, str) and "\n\n" not in node:
        return " ".join(node.split("\n"))
    if key in ("minimum", "maximum") and isinstance(node, float) and node.is_integer():
        return int(node)
    return node


def to_yaml(doc: dict) -> str:
    import yaml

    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=110, default_flow_style=False)
