"""Every request and reply of the collector as pydantic models: the server validates with them
and docs/protocol/openapi-v1.yaml is generated from them (`python -m server openapi`).

The rules at the edge: strict types (no "12" for 12, no true for 1), no unknown fields, strings
no longer than their columns on PostgreSQL (server/db.py) and free of NUL and lone surrogates
(which PostgreSQL and UTF-8 refuse), integers inside their columns (64-bit, or 32-bit for the
counts), no NaN or Infinity, real dates, times with a UTC offset. Events are checked one by one
(`check_events`): one bad event is rejected with its reason and the others of its batch are
stored. A bad heartbeat or roster push is answered 422 naming the field.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
import uuid
from typing import Annotated, Any, Literal

from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, ValidationError,
                      WithJsonSchema, model_validator)

from kiosk.fields import MAX_LENGTH, encoding_problem, plain_text_problem

KINDS = ("masuk", "pulang", "istirahat_keluar", "istirahat_kembali")
CORRECTION_SOURCES = ("employee",)  # who switched an event's kind (issue 15)
MAX_BATCH = 5000  # events per request
MAX_ROSTER_ITEMS = 2000  # employees, and templates, per roster request or page
MAX_BODY = 8 * 1024 * 1024  # bytes of one request body (streamed and counted, chunked included)
INT64 = 2**63 - 1
INT32 = 2**31 - 1
JSON_SAFE = 2**53 - 1
ENCODING_BYTES = 512  # 128 little-endian float32
ENCODING_CHARS = 684  # its standard base64 with padding
EARLIEST_EVENT = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)
FUTURE_SLACK = dt.timedelta(days=1)  # a kiosk's clock may run ahead; not by more than this
CLOCK_SLACK = dt.timedelta(seconds=1)  # local_time is cut to seconds, utc_at to milliseconds
MIN_OFFSET, MAX_OFFSET = dt.timedelta(hours=-12), dt.timedelta(hours=14)

# For the JSON Schema only (the validators below give the clearer messages)
NO_NUL = r"^[^\x00]*$"
ONE_LINE = r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029]*$"
RFC3339 = re.compile(r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})")
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)


# --- field types ------------------------------------------------------------------------------

def _storable(v: str) -> str:
    problem = encoding_problem(v)
    if problem:
        raise ValueError(problem)
    return v


def _one_line(v: str) -> str:
    problem = plain_text_problem(v)
    if problem:
        raise ValueError(problem)
    return v


def Text(max_length: int, min_length: int = 0, one_line: bool = False, **schema):  # noqa: N802 (a type)
    """A string that any database stores: at most `max_length` characters, no NUL, no lone
    surrogate; `one_line` also refuses control characters (names, units)."""
    return Annotated[str, StringConstraints(min_length=min_length, max_length=max_length),
                     AfterValidator(_one_line if one_line else _storable),
                     Field(json_schema_extra={"pattern": ONE_LINE if one_line else NO_NUL, **schema})]


def parse_time(v: str) -> dt.datetime:
    """An RFC 3339 date-time with its UTC offset (the only form the protocol uses)."""
    m = RFC3339.fullmatch(v)
    if not m:
        raise ValueError("is not an RFC 3339 date-time with a UTC offset (e.g. 2026-11-24T07:42:03+07:00)")
    y, mo, d, h, mi, s, frac, off = m.groups()
    if off in ("Z", "z"):
        tz = dt.timezone.utc
    else:
        oh, om = int(off[1:3]), int(off[4:6])
        if oh > 23 or om > 59:
            raise ValueError(f"has an impossible UTC offset {off}")
        sign = 1 if off[0] == "+" else -1
        tz = dt.timezone(sign * dt.timedelta(hours=oh, minutes=om))
    try:
        return dt.datetime(int(y), int(mo), int(d), int(h), int(mi), min(int(s), 59),
                           int((frac or ".0")[1:7].ljust(6, "0")), tzinfo=tz)  # :60, a leap second
    except ValueError as e:
        raise ValueError(f"is not a real time ({e})") from None


def _time(v: str) -> str:
    parse_time(v)
    return v


def _date(v: str) -> str:
    if not DATE.fullmatch(v):
        raise ValueError("is not a date YYYY-MM-DD")
    try:
        dt.date.fromisoformat(v)
    except ValueError as e:
        raise ValueError(f"is not a real date ({e})") from None
    return v


def _uuid(v: str) -> str:
    if len(v) != 36:
        raise ValueError("is not a UUID in its 36-character form (8-4-4-4-12 hexadecimal digits)")
    try:
        u = uuid.UUID(v)
    except ValueError:
        raise ValueError("is not a UUID (8-4-4-4-12 hexadecimal digits)") from None
    return str(u)


def _encoding(v: str) -> str:
    try:
        blob = base64.b64decode(v, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("is not base64") from None
    if len(blob) != ENCODING_BYTES:
        raise ValueError(f"decodes to {len(blob)} bytes; a template is {ENCODING_BYTES} (128 float32)")
    return v  # finite numbers: checked per template (service.push_roster), the schema cannot say it


def _integral(v):
    """JSON has one number type: 38.0 is the integer 38 (true is not)."""
    return int(v) if isinstance(v, float) and v.is_integer() else v


Time = Annotated[str, StringConstraints(max_length=40), AfterValidator(_time),
                 Field(json_schema_extra={"format": "date-time"})]
Date = Annotated[str, StringConstraints(min_length=10, max_length=10), AfterValidator(_date),
                 Field(json_schema_extra={"format": "date", "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"})]
Uuid = Annotated[str, AfterValidator(_uuid), Field(json_schema_extra={"format": "uuid", "minLength": 36,
                                                                        "maxLength": 36})]
Count = Annotated[int, Field(ge=0, le=INT32), BeforeValidator(_integral)]
Int64 = Annotated[int, Field(ge=0, le=INT64), BeforeValidator(_integral)]
# exact as a double in every JSON parser (2^53 - 1): versions and byte counts never come near it
SafeInt = Annotated[int, Field(ge=0, le=JSON_SAFE), BeforeValidator(_integral)]
Flag = Literal[0, 1]
Nip = Text(MAX_LENGTH["nip"], 1, one_line=True, description="Employee id (NIP)")
Encoding = Annotated[str, StringConstraints(min_length=ENCODING_CHARS, max_length=ENCODING_CHARS),
                     AfterValidator(_encoding),
                     Field(json_schema_extra={"contentEncoding": "base64",
                                              "pattern": "^[A-Za-z0-9+/]{683}=$",
                                              "description": "128 little-endian float32 (512 bytes), standard "
                                                             "base64 with padding: 684 characters"})]


# --- events -----------------------------------------------------------------------------------

class Event(Strict):
    """One attendance record. Checked on its own: a bad event is rejected with a reason and the
    others of its batch are stored."""

    id: Uuid = Field(description="UUID made by the kiosk: the idempotency key")
    nip: Nip
    kind: Literal[KINDS]
    local_time: Time = Field(description="As shown on screen, with its UTC offset (UTC-12 to UTC+14); the same "
                                         "instant as utc_at")
    utc_at: Time = Field(description="From 2020-01-01 to one day after the server's clock")
    local_date: Date = Field(description="The date of local_time")
    work_date: Date = Field(description="The work date the punch counts for: local_date, or the day before "
                                        "(a night shift)")
    in_window: Flag = 1
    monotonic_ns: Int64 | None = Field(None, description="CLOCK_MONOTONIC, orders events within a boot")
    boot_id: Text(64) | None = None
    clock_synced: Flag = Field(description="Wall clock NTP-synchronised when recorded")
    distance: Annotated[float, Field(ge=0)] | None = None
    margin: float | None = None
    device_id: Text(64, 1) = Field(description="Must be the token's device")
    corrects: Uuid | None = Field(None, description="Set when this event corrects an earlier one (the employee "
                                  "switched MASUK <-> PULANG on the kiosk's card): that event's id. The earlier "
                                  "event stays stored; reports count only events no other event corrects. "
                                  "With correction_source.")
    correction_source: Literal[CORRECTION_SOURCES] | None = Field(
        None, description="Who corrected: employee (self-correction at the kiosk). Set exactly when corrects is.")

    @model_validator(mode="after")
    def _plausible(self) -> "Event":
        if (self.corrects is None) != (self.correction_source is None):
            raise ValueError("corrects and correction_source come together (a correction names the event it "
                             "corrects and who corrected it)")
        if self.corrects is not None and self.corrects == self.id:
            raise ValueError("an event cannot correct itself")
        if self.corrects is not None and self.kind not in ("masuk", "pulang"):
            raise ValueError("only a masuk or a pulang can be a correction")
        local, utc = parse_time(self.local_time), parse_time(self.utc_at)
        latest = dt.datetime.now(dt.timezone.utc) + FUTURE_SLACK
        if not EARLIEST_EVENT <= utc <= latest:
            raise ValueError(f"utc_at {self.utc_at} is not between 2020-01-01 and a day from now "
                             "(is the kiosk's clock wrong?)")
        offset = local.utcoffset()
        if not MIN_OFFSET <= offset <= MAX_OFFSET:
            raise ValueError(f"local_time's UTC offset {_offset(offset)} is outside UTC-12 to UTC+14")
        if abs(local - utc) > CLOCK_SLACK:
            raise ValueError(f"local_time {self.local_time} and utc_at {self.utc_at} are not the same instant")
        if local.date().isoformat() != self.local_date:
            raise ValueError(f"local_date {self.local_date} is not the date of local_time")
        work = dt.date.fromisoformat(self.work_date)
        if not 0 <= (local.date() - work).days <= 1:
            raise ValueError(f"work_date {self.work_date} is neither local_date nor the day before")
        return self


def _offset(td: dt.timedelta) -> str:
    minutes = int(td.total_seconds() // 60)
    return f"UTC{'+' if minutes >= 0 else '-'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


class EventBatch(Strict):
    batch_id: Text(36) | None = Field(None, description="For logs; not a key")
    events: Annotated[list[Any], WithJsonSchema({
        # items: the Event schema, put in by server.openapi (pydantic cannot refer to a model here)
        "type": "array", "maxItems": MAX_BATCH,
        "description": f"At most {MAX_BATCH} (more: 413). Each is checked on its own: an event that breaks the "
                       "Event schema is answered `rejected` with its reason, the others are stored."})]


def field_name(loc) -> str:
    """("employees", 3, "name") -> "employees[3].name"."""
    field = ""
    for part in loc:
        field += f"[{part}]" if isinstance(part, int) else (f".{part}" if field else str(part))
    return field


def describe(error: ValidationError) -> list[dict]:
    """[{field, problem}] of a validation error; the input is never echoed."""
    return [{"field": field_name(e["loc"]) or "body", "problem": e["msg"].removeprefix("Value error, ")}
            for e in error.errors(include_url=False, include_input=False, include_context=False)]


def check_events(items: list) -> list[Event | str]:
    """Each item as an Event, or the reason it is not one."""
    out: list[Event | str] = []
    for item in items:
        if not isinstance(item, dict):
            out.append("an event must be a JSON object")
            continue
        try:
            out.append(Event.model_validate(item))
        except ValidationError as e:
            out.append("; ".join(f"{d['field']}: {d['problem']}" if d["field"] != "body" else d["problem"]
                                 for d in describe(e))[:500])
    return out


def echo_id(item) -> str:
    """The id a rejected event is answered with: what it sent when that is printable text, cut
    to 64 characters, else the empty string (the answer's `index` says which it was)."""
    v = item.get("id") if isinstance(item, dict) else None
    if isinstance(v, str) and encoding_problem(v) is None:
        return v[:64]
    return ""


class EventResult(BaseModel):
    index: int = Field(description="Position in the batch")
    id: str = Field(description="The event's id (its UUID; for a rejected event what it sent, or '')")
    status: Literal["accepted", "duplicate", "rejected"]
    reason: str | None = Field(None, description="Why rejected (or 'repeated in this batch')")


class BatchResult(BaseModel):
    batch_id: str | None = None
    accepted: int
    duplicate: int
    rejected: int
    server_time: str = Field(json_schema_extra={"format": "date-time"})
    results: list[EventResult]


# --- heartbeat --------------------------------------------------------------------------------

class Heartbeat(Strict):
    """How far this kiosk has synced, and its health; every field optional."""

    software_version: Text(64) | None = None
    pending: Count | None = Field(None, description="Events recorded and not yet acknowledged")
    rejected: Count | None = Field(None, description="Events the server refused (kept on the kiosk)")
    newest_recorded_at: Time | None = Field(None, description="utc_at of the newest event recorded")
    newest_acked_at: Time | None = Field(None, description="utc_at of the newest event acknowledged")
    clock_synced: bool | None = None
    free_disk_bytes: SafeInt | None = None
    roster_version: SafeInt | None = None
    sent_at: Time | None = Field(None, description="The kiosk's clock now (the server records the offset)")


class HeartbeatReply(BaseModel):
    server_time: str = Field(json_schema_extra={"format": "date-time"})
    roster_version: int = Field(description="Newer than the kiosk's: pull the roster")


# --- roster -----------------------------------------------------------------------------------

class EmployeeIn(Strict):
    """An employee enrolled at a kiosk. A new one joins `unit`, which must be one of the kiosk's
    units (left out or empty: the kiosk's only unit). An existing one must be in one of the
    kiosk's units; its unit changes only through HR on the server; `active` never changes here."""

    nip: Nip
    name: Text(MAX_LENGTH["name"], one_line=True) = ""
    unit: Text(MAX_LENGTH["unit"], one_line=True) | None = None
    active: bool | None = None
    schedule: Text(MAX_LENGTH["schedule"], one_line=True) | None = None


class TemplateIn(Strict):
    uid: Uuid
    nip: Nip
    encoding: Encoding
    model_version: Text(80, 1) = Field(description="Encoder; a kiosk matches only its own version")
    quality: float | None = None
    source: Text(1000) | None = None
    created_at: Time | None = None


class HoldIn(Strict):
    """A look-alike hold: a photo `kiosk enroll` refused as the duplicate of employee `resembles`,
    of person `nip`, who was not enrolled. Every kiosk of `resembles`' unit refuses a face nearer
    it than to every employee instead of recording it."""

    uid: Uuid
    nip: Nip
    resembles: Nip
    encoding: Encoding
    model_version: Text(80, 1) = Field(description="Encoder; a kiosk matches only its own version")
    source: Text(1000) | None = None
    created_at: Time | None = None


class RosterPush(Strict):
    employees: list[EmployeeIn] = Field([], max_length=MAX_ROSTER_ITEMS)
    templates: list[TemplateIn] = Field([], max_length=MAX_ROSTER_ITEMS)
    holds: list[HoldIn] = Field([], max_length=MAX_ROSTER_ITEMS)
    removed_holds: list[Uuid] = Field([], max_length=MAX_ROSTER_ITEMS,
                                      description="Look-alike holds HR removed at this kiosk (by uid)")


class ItemResult(BaseModel):
    status: Literal["accepted", "unchanged", "duplicate", "refused"]
    reason: str | None = Field(None, description="Why refused")


class EmployeeResult(ItemResult):
    nip: str


class TemplateResult(ItemResult):
    uid: str


class HoldResult(ItemResult):
    uid: str


class RosterPushResult(BaseModel):
    employees_changed: int
    version: int
    employees: list[EmployeeResult] = Field(description="Each employee of the push, in order: accepted (stored "
                                                        "or changed), unchanged, or refused with the reason")
    holds: list[HoldResult] = Field([], description="Each look-alike hold, in order: accepted, duplicate "
                                     "or refused with the reason")
    removed_holds: list[HoldResult] = Field([], description="Each removal, in order: accepted, unchanged (not "
                                             "on the server, or removed already) or refused with the reason")
    templates: list[TemplateResult] = Field(description="Each template, in order: accepted, duplicate (its uid "
                                                        "is stored already) or refused with the reason")


class EmployeeOut(BaseModel):
    nip: str
    name: str
    unit: str
    active: bool
    schedule: str | None = None
    version: int


class TemplateOut(BaseModel):
    uid: str
    nip: str
    deleted: bool = Field(description="Delete this template")
    version: int
    encoding: str | None = Field(None, json_schema_extra={"contentEncoding": "base64"})
    model_version: str | None = None
    quality: float | None = None
    created_at: str | None = None


class HoldOut(BaseModel):
    uid: str
    nip: str
    resembles: str
    deleted: bool = Field(description="Delete this hold")
    version: int
    encoding: str | None = Field(None, json_schema_extra={"contentEncoding": "base64"})
    model_version: str | None = None
    created_at: str | None = None


class RosterPage(BaseModel):
    version: int = Field(description="Store this after applying the page")
    more: bool
    employees: list[EmployeeOut]
    templates: list[TemplateOut]
    holds: list[HoldOut] = Field([], description="Look-alike holds of employees of this kiosk's units")


# --- the rest ---------------------------------------------------------------------------------

class Health(BaseModel):
    status: Literal["ok"]
    protocol: Literal["1"]


class FieldProblem(BaseModel):
    field: str
    problem: str


class ErrorBody(BaseModel):
    error: str = Field(description="A code: bad_request, invalid, unauthorized, revoked, too_large, ...")
    message: str
    fields: list[FieldProblem] | None = Field(None, description="422: each field and what is wrong with it")
