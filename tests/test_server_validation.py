"""Every bad value the review of issue 14 found, kept as a regression table, against a real
collector on SQLite and on PostgreSQL: a bad event is rejected with its reason and the good
event of the same batch is stored; a bad heartbeat, roster push or query gets 422 naming the
field (400 for a body that is not JSON at all); nothing answers 500."""

from __future__ import annotations

import base64
import json
import uuid

import numpy as np
import pytest
import requests
from server_fixtures import NIP, Collector, database_url
from test_server import event

NAN = float("nan")
INF = float("inf")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request, tmp_path_factory):
    """One collector per database for the whole table: (collector, device token, HR login)."""
    c = Collector(database_url(request, request.param, tmp_path_factory.mktemp("validation")))
    yield c, c.register("kiosk-01"), c.hr_login()
    c.stop()


def send(c, method: str, path: str, token: str | None, body=None, raw: bytes | None = None, **kw):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if body is not None or raw is not None:
        headers["Content-Type"] = "application/json"
        raw = raw if raw is not None else json.dumps(body).encode()  # NaN/Infinity and \ud800 as JSON has them
    return requests.request(method, c.url + path, data=raw, headers=headers, timeout=30, **kw)


def at(year: int) -> dict:
    return {"local_time": f"{year:04d}-11-24T07:42:03+07:00", "utc_at": f"{year:04d}-11-24T00:42:03.000+00:00",
            "local_date": f"{year:04d}-11-24", "work_date": f"{year:04d}-11-24"}


EVENT_CASES = [
    # (case, changes to a good event, the reason says)
    ("lone surrogate in nip", {"nip": "\ud800"}, "nip: "),
    ("NUL in nip", {"nip": "19850101\x00"}, "nip: contains a NUL character"),
    ("NUL in boot_id", {"boot_id": "b\x00"}, "boot_id: contains a NUL"),
    ("surrogate in boot_id", {"boot_id": "\udfff"}, "boot_id: "),
    ("monotonic_ns beyond 64 bits", {"monotonic_ns": 2**64}, "monotonic_ns: "),
    ("monotonic_ns negative", {"monotonic_ns": -1}, "monotonic_ns: "),
    ("nip over its column", {"nip": "1" * 41}, "nip: String should have at most 40"),
    ("local_time of 42 characters", {"local_time": "2026-11-24T07:42:03.0000000000000000+07:00"}, "local_time: "),
    ("year 9999", at(9999), "utc_at 9999-11-24T00:42:03.000+00:00 is not between 2020-01-01"),
    ("year 0001", at(1), "is not between 2020-01-01"),
    ("local_time 8,000 years from utc_at", {"local_time": "0026-11-24T07:42:03+07:00"}, "not the same instant"),
    ("local_time an hour from utc_at", {"local_time": "2026-11-24T08:42:03+07:00"}, "not the same instant"),
    ("offset beyond UTC+14", {"local_time": "2026-11-24T15:42:03+15:00"}, "outside UTC-12 to UTC+14"),
    ("work_date 2026-02-30", {"work_date": "2026-02-30"}, "work_date: is not a real date"),
    ("work_date a week off", {"work_date": "2026-11-17"}, "neither local_date nor the day before"),
    ("local_date not local_time's", {"local_date": "2026-11-25"}, "not the date of local_time"),
    ("no UTC offset", {"utc_at": "2026-11-24T00:42:03"}, "utc_at: is not an RFC 3339 date-time"),
    ("NaN distance", {"distance": NAN}, "distance: Input should be a finite number"),
    ("Infinity margin", {"margin": INF}, "margin: Input should be a finite number"),
    ("unknown field", {"lunch": True}, "lunch: Extra inputs are not permitted"),
    ("kind as a list", {"kind": ["masuk"]}, "kind: "),
    ("clock_synced as text", {"clock_synced": "1"}, "clock_synced: "),
    ("distance as text", {"distance": "0.3"}, "distance: "),
    ("device_id as an object", {"device_id": {"id": "kiosk-01"}}, "device_id: "),
]


@pytest.mark.parametrize("case,changes,reason", EVENT_CASES, ids=[c[0] for c in EVENT_CASES])
def test_a_bad_event_is_rejected_and_its_batch_stored(server, case, changes, reason):
    c, token, _ = server
    good, bad = event(), event(**changes)
    r = send(c, "POST", "/api/v1/events", token, {"batch_id": str(uuid.uuid4()), "events": [bad, good]})
    assert r.status_code == 200, r.text
    res = r.json()["results"]
    assert res[0]["status"] == "rejected" and reason in res[0]["reason"], res[0]
    assert res[0]["id"] == bad["id"]
    assert res[1] == {"index": 1, "id": good["id"], "status": "accepted"}
    assert c.count("select count(*) from events where id = :i", i=good["id"]) == 1


@pytest.mark.parametrize("sent,echoed", [(5, ""), (["x"], ""), ({"a": 1}, ""), (None, ""), (True, ""),
                                         ("x" * 100, "x" * 64), ("\ud800", ""), ("not-a-uuid", "not-a-uuid")])
def test_a_rejected_events_id_is_echoed_as_a_string(server, sent, echoed):
    c, token, _ = server
    bad = {**event(), "id": sent}
    r = send(c, "POST", "/api/v1/events", token, {"events": [bad, "not an object", event()]})
    assert r.status_code == 200, r.text
    res = r.json()["results"]
    assert [x["id"] for x in res[:2]] == [echoed, ""] and all(isinstance(x["id"], str) for x in res)
    assert res[1]["reason"] == "an event must be a JSON object" and res[2]["status"] == "accepted"


def roster_body(**employee) -> dict:
    return {"employees": [{"nip": NIP, "name": "Ani", **employee}]}


def template_body(**template) -> dict:
    t = {"uid": str(uuid.uuid4()), "nip": NIP, "model_version": "dlib-v1",
         "encoding": base64.b64encode(np.zeros(128, "<f4").tobytes()).decode(), **template}
    return {"templates": [t]}


BODY_CASES = [
    # (case, path, body, the field named)
    ("heartbeat pending beyond 32 bits", "/api/v1/heartbeat", {"pending": 2**31}, "pending"),
    ("heartbeat pending beyond 64 bits", "/api/v1/heartbeat", {"pending": 2**64}, "pending"),
    ("heartbeat free_disk_bytes beyond 64 bits", "/api/v1/heartbeat", {"free_disk_bytes": 2**64}, "free_disk_bytes"),
    ("heartbeat free_disk_bytes Infinity", "/api/v1/heartbeat", {"free_disk_bytes": INF}, "free_disk_bytes"),
    ("heartbeat pending NaN", "/api/v1/heartbeat", {"pending": NAN}, "pending"),
    ("heartbeat version with a surrogate", "/api/v1/heartbeat", {"software_version": "1.\ud800"}, "software_version"),
    ("heartbeat version with NUL", "/api/v1/heartbeat", {"software_version": "1\x00"}, "software_version"),
    ("heartbeat version over its column", "/api/v1/heartbeat", {"software_version": "1" * 65}, "software_version"),
    ("heartbeat time not a time", "/api/v1/heartbeat", {"newest_recorded_at": "yesterday"}, "newest_recorded_at"),
    ("heartbeat clock_synced as text", "/api/v1/heartbeat", {"clock_synced": "yes"}, "clock_synced"),
    ("heartbeat unknown field", "/api/v1/heartbeat", {"pending": 0, "mood": "ok"}, "mood"),
    ("heartbeat not an object", "/api/v1/heartbeat", [1, 2], "body"),
    ("roster name as a list", "/api/v1/roster", roster_body(name=["Ani"]), "employees[0].name"),
    ("roster unit as an object", "/api/v1/roster", roster_body(unit={"x": 1}), "employees[0].unit"),
    ("roster name with NUL", "/api/v1/roster", roster_body(name="A\x00ni"), "employees[0].name"),
    ("roster name with a surrogate", "/api/v1/roster", roster_body(name="A\ud800"), "employees[0].name"),
    ("roster name with a line break", "/api/v1/roster", roster_body(name="A\nni"), "employees[0].name"),
    ("roster name over 200", "/api/v1/roster", roster_body(name="A" * 201), "employees[0].name"),
    ("roster schedule over 40", "/api/v1/roster", roster_body(schedule="s" * 41), "employees[0].schedule"),
    ("roster nip over 40", "/api/v1/roster", roster_body(nip="1" * 41), "employees[0].nip"),
    ("roster unknown employee field", "/api/v1/roster", roster_body(unit_id=3), "employees[0].unit_id"),
    ("roster active as 1", "/api/v1/roster", roster_body(active=1), "employees[0].active"),
    ("template encoding a number", "/api/v1/roster", template_body(encoding=5), "templates[0].encoding"),
    ("template encoding a list", "/api/v1/roster", template_body(encoding=[0.1] * 128), "templates[0].encoding"),
    ("template encoding not base64", "/api/v1/roster", template_body(encoding="*" * 684), "templates[0].encoding"),
    ("template quality NaN", "/api/v1/roster", template_body(quality=NAN), "templates[0].quality"),
    ("template uid not a UUID", "/api/v1/roster", template_body(uid="x"), "templates[0].uid"),
    ("roster of 2001 employees", "/api/v1/roster", {"employees": [{"nip": str(i)} for i in range(2001)]},
     "employees"),
    ("roster unknown top-level field", "/api/v1/roster", {"employees": [], "units": []}, "units"),
    ("batch_id over its column", "/api/v1/events", {"batch_id": "b" * 37, "events": []}, "batch_id"),
    ("batch_id with NUL", "/api/v1/events", {"batch_id": "b\x00", "events": []}, "batch_id"),
    ("events not a list", "/api/v1/events", {"events": {"0": {}}}, "events"),
    ("batch unknown field", "/api/v1/events", {"events": [], "device": "x"}, "device"),
]


@pytest.mark.parametrize("case,path,body,field", BODY_CASES, ids=[c[0] for c in BODY_CASES])
def test_a_bad_body_gets_422_naming_the_field(server, case, path, body, field):
    c, token, _ = server
    r = send(c, "POST", path, token, body)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/json"
    fields = [f["field"] for f in r.json()["fields"]]
    assert field in fields, r.json()
    assert r.json()["error"] == "invalid" and field in r.json()["message"]


QUERY_CASES = [
    ("since beyond 64 bits", "/api/v1/roster", {"since": 2**64}, "since"),
    ("since negative", "/api/v1/roster", {"since": -1}, "since"),
    ("since not a number", "/api/v1/roster", {"since": "1e3"}, "since"),
    ("limit 0", "/api/v1/roster", {"limit": 0}, "limit"),
    ("limit over a page", "/api/v1/roster", {"limit": 2001}, "limit"),
    ("dashboard 9999-12-31", "/", {"date": "9999-12-31"}, "date"),
    ("dashboard 0001-01-01", "/", {"date": "0001-01-01"}, "date"),
    ("daily CSV 2026-02-30", "/export/daily.csv", {"date": "2026-02-30"}, "date"),
    ("events CSV not a date", "/export/events.csv", {"date": "<script>"}, "date"),
]


@pytest.mark.parametrize("case,path,params,field", QUERY_CASES, ids=[c[0] for c in QUERY_CASES])
def test_a_bad_query_gets_422_naming_the_parameter(server, case, path, params, field):
    c, token, hr = server
    r = send(c, "GET", path, token if path.startswith("/api") else None, params=params,
             auth=None if path.startswith("/api") else hr)
    assert r.status_code == 422, r.text
    assert [f["field"] for f in r.json()["fields"]] == [field]


@pytest.mark.parametrize("path", ["/api/v1/events", "/api/v1/heartbeat", "/api/v1/roster"])
def test_unreadable_bodies_get_400(server, path):
    c, token, _ = server
    for raw in (b"[" * 100_000, b'{"events": [' + b"9" * 5000 + b"]}", b"{nope", b"\xff\xfe"):
        r = send(c, "POST", path, token, raw=raw)
        assert r.status_code in (400, 422), (raw[:20], r.status_code, r.text)
        assert r.json()["error"] in ("bad_json", "bad_request", "invalid")


def test_options_and_unsupported_methods_answer_allow(server):
    c, token, _ = server
    r = send(c, "OPTIONS", "/api/v1/roster", None)
    assert r.status_code == 204 and r.headers["allow"] == "GET, OPTIONS, POST"
    r = send(c, "OPTIONS", "/api/v1/events", None)
    assert r.status_code == 204 and r.headers["allow"] == "OPTIONS, POST"
    r = send(c, "DELETE", "/api/v1/roster", token)
    assert r.status_code == 405 and r.headers["allow"] == "GET, OPTIONS, POST"
    assert r.json()["error"] == "method_not_allowed"
    r = send(c, "PUT", "/export/daily.csv", None)
    assert r.status_code == 405 and r.headers["allow"] == "GET, OPTIONS"


def test_an_unexpected_failure_is_a_clean_logged_500(tmp_path, caplog):
    """The catch-all: no input should reach it, but if something does, the answer is JSON and
    the log has the error without the token."""
    import logging

    from server import service

    c = Collector(f"sqlite:///{tmp_path / 'c.db'}")
    token = c.register("kiosk-01")
    real = service.heartbeat
    service.heartbeat = lambda *a: 1 / 0
    caplog.set_level(logging.ERROR, logger="server")
    try:
        r = send(c, "POST", "/api/v1/heartbeat", token, {"pending": 1})
    finally:
        service.heartbeat = real
        c.stop()
    assert r.status_code == 500 and r.json()["error"] == "internal" and "ZeroDivisionError" not in r.text
    assert "ZeroDivisionError" in caplog.text and token not in caplog.text
