"""Authorisation by unit, route by route: two units, two kiosks (and one serving both), over real
HTTP against SQLite and PostgreSQL. Unit A's token can neither read nor write unit B's employees
or templates, a pull never returns B's data, and a push of {nip} without a unit moves nobody."""

from __future__ import annotations

import base64
import uuid

import numpy as np
import pytest
import requests
from test_server import event, post

A, B = "Dinas Kominfo", "BKPSDM"
ANI, BUDI, CICI = "198501012010011001", "196211201990031002", "197003032000032003"


def enc(seed: int) -> str:
    return base64.b64encode(np.random.default_rng(seed).normal(size=128).astype("<f4").tobytes()).decode()


def template(nip: str, seed: int, uid: str | None = None) -> dict:
    return {"uid": uid or str(uuid.uuid4()), "nip": nip, "encoding": enc(seed), "model_version": "dlib-v1",
            "quality": 40.0}


def pull(c, token: str, since: int = 0, limit: int | None = None) -> dict:
    params = {"since": since, **({"limit": limit} if limit else {})}
    r = requests.get(f"{c.url}/api/v1/roster", params=params, headers={"Authorization": f"Bearer {token}"},
                     timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def pull_all(c, token: str, since: int = 0, limit: int | None = None) -> tuple[list[dict], list[dict], int]:
    emps, tmps = [], []
    for _ in range(100):
        page = pull(c, token, since, limit)
        emps += page["employees"]
        tmps += page["templates"]
        since = page["version"]
        if not page["more"]:
            return emps, tmps, since
    raise AssertionError("the roster never ended")


@pytest.fixture
def two_units(collector):
    """Kiosk A (unit A) enrolled Ani, kiosk B (unit B) enrolled Budi, each with a face."""
    ta, tb = collector.register("kiosk-a", A), collector.register("kiosk-b", B)
    ra = post(collector, "/roster", ta, {"employees": [{"nip": ANI, "name": "Ani", "unit": A}],
                                         "templates": [template(ANI, 1)]})
    rb = post(collector, "/roster", tb, {"employees": [{"nip": BUDI, "name": "Budi"}],  # the kiosk's only unit
                                         "templates": [template(BUDI, 2)]})
    assert ra.status_code == rb.status_code == 200
    assert [t["status"] for t in ra.json()["templates"] + rb.json()["templates"]] == ["accepted", "accepted"]
    return collector, ta, tb


def employee_row(c, nip: str) -> dict:
    from sqlalchemy import text

    with c.engine.connect() as conn:
        return dict(conn.execute(text("select nip, name, unit, active from employees where nip = :n"),
                                 {"n": nip}).mappings().one())


def test_pull_returns_only_the_kiosks_own_unit(two_units):
    c, ta, tb = two_units
    emps, tmps, _ = pull_all(c, ta)
    assert [e["nip"] for e in emps] == [ANI] and {t["nip"] for t in tmps} == {ANI}
    emps, tmps, _ = pull_all(c, tb)
    assert [e["nip"] for e in emps] == [BUDI] and {t["nip"] for t in tmps} == {BUDI}
    # page by page, one row at a time: still nothing of B
    emps, tmps, _ = pull_all(c, ta, limit=1)
    assert {e["nip"] for e in emps} == {ANI} and {t["nip"] for t in tmps} == {ANI}
    # a kiosk serving both units gets both
    both = c.register("kiosk-lobby", [A, B])
    emps, tmps, _ = pull_all(c, both)
    assert {e["nip"] for e in emps} == {ANI, BUDI} and {t["nip"] for t in tmps} == {ANI, BUDI}


def test_push_cannot_touch_another_units_employee_and_the_rest_is_stored(two_units):
    c, ta, tb = two_units
    b_face = template(BUDI, 2)
    r = post(c, "/roster", ta, {
        "employees": [
            {"nip": BUDI, "name": "Renamed by A"},  # rename B's employee
            {"nip": BUDI},  # {nip} without a unit: must not move Budi into A
            {"nip": ANI, "unit": B},  # move A's own employee to B
            {"nip": CICI, "name": "Cici", "unit": B},  # create an employee in B
            {"nip": ANI, "name": "Ani Rahmawati"},  # allowed: rename within A
        ],
        "templates": [
            template(BUDI, 3),  # a face on B's employee
            template(CICI, 4),  # on the employee just refused
            template(ANI, 5),  # allowed
        ]})
    assert r.status_code == 200, r.text
    res = r.json()
    assert [e["status"] for e in res["employees"]] == ["refused", "refused", "refused", "refused", "accepted"]
    assert "another unit" in res["employees"][0]["reason"] and "only HR" in res["employees"][0]["reason"]
    assert B not in res["employees"][0]["reason"]  # A does not learn where Budi works
    assert "only HR" in res["employees"][2]["reason"]
    assert "not one of this kiosk's units" in res["employees"][3]["reason"]
    assert [t["status"] for t in res["templates"]] == ["refused", "refused", "accepted"]
    assert "another unit" in res["templates"][0]["reason"]
    assert employee_row(c, BUDI) == {"nip": BUDI, "name": "Budi", "unit": B, "active": True}
    assert employee_row(c, ANI)["unit"] == A and employee_row(c, ANI)["name"] == "Ani Rahmawati"
    assert c.count("select count(*) from employees where nip = :n", n=CICI) == 0
    assert c.count("select count(*) from templates where nip = :n", n=BUDI) == 1
    # B's kiosk pulls: nothing of what A tried
    emps, tmps, _ = pull_all(c, tb)
    assert [(e["nip"], e["name"]) for e in emps] == [(BUDI, "Budi")] and len(tmps) == 1
    # B's template uid pushed by A with A's employee: refused, not "duplicate"
    uid_b = tmps[0]["uid"]
    r = post(c, "/roster", ta, {"templates": [{**b_face, "uid": uid_b, "nip": ANI}]})
    assert r.json()["templates"][0]["status"] == "refused"


def test_a_kiosk_of_several_units_must_name_the_unit(two_units):
    c, _, _ = two_units
    both = c.register("kiosk-lobby", [A, B])
    r = post(c, "/roster", both, {"employees": [{"nip": CICI, "name": "Cici"},
                                                {"nip": "199001012015011004", "name": "Dodi", "unit": B}]})
    assert [e["status"] for e in r.json()["employees"]] == ["refused", "accepted"]
    assert "several" in r.json()["employees"][0]["reason"]


def test_events_and_heartbeat_only_as_the_tokens_own_device(two_units):
    c, ta, tb = two_units
    r = post(c, "/events", ta, {"events": [event("kiosk-b"), event("kiosk-a")]})
    assert [x["status"] for x in r.json()["results"]] == ["rejected", "accepted"]
    assert "kiosk-a" in r.json()["results"][0]["reason"]
    assert c.count("select count(*) from events where device_id = 'kiosk-b'") == 0
    assert post(c, "/heartbeat", ta, {"pending": 3}).status_code == 200
    assert c.count("select pending from devices where id = 'kiosk-a'") == 3
    assert c.count("select count(*) from devices where id = 'kiosk-b' and pending is null") == 1


def test_hr_moves_an_employee_the_old_units_kiosks_forget_them(two_units):
    from server import service

    c, ta, tb = two_units
    _, _, va = pull_all(c, ta)
    _, _, vb = pull_all(c, tb)
    with c.engine.begin() as conn:
        assert service.move_employee(conn, ANI, B) is True
    emps, tmps, _ = pull_all(c, ta, va)
    assert [(e["nip"], e["active"], e["name"]) for e in emps] == [(ANI, False, "")]  # nothing of B told
    assert tmps and all(t["deleted"] and "encoding" not in t for t in tmps)
    emps, tmps, _ = pull_all(c, tb, vb)
    assert [(e["nip"], e["active"], e["unit"]) for e in emps] == [(ANI, True, B)]
    assert len(tmps) == 1 and not tmps[0]["deleted"] and tmps[0]["encoding"]
    # A's kiosk now cannot write Ani any more
    r = post(c, "/roster", ta, {"employees": [{"nip": ANI, "name": "x"}], "templates": [template(ANI, 9)]})
    assert [e["status"] for e in r.json()["employees"] + r.json()["templates"]] == ["refused", "refused"]
    # a kiosk that was offline through the move applies both orders of the same page rightly
    emps, tmps, _ = pull_all(c, c.register("kiosk-new", [A, B]))
    assert {e["nip"] for e in emps if e["active"]} == {ANI, BUDI}


def test_a_kiosk_store_applies_a_departure(two_units, tmp_path):
    """The kiosk side: after HR moved Ani away, unit A's kiosk no longer recognises her."""
    from server import service
    from server_fixtures import fast_settings, write_token

    from kiosk.store import Store
    from kiosk.upload import Uploader

    c, ta, _ = two_units
    with Store(tmp_path / "a.db", device_id="kiosk-a") as store:
        up = Uploader(None, store.path, device_id="kiosk-a", clock_synced=lambda: True,
                      settings=fast_settings(c.url, write_token(tmp_path / "t", ta), roster_s=0))
        assert up.round(store) == "ok" and len(store.template_rows(ANI)) == 1
        with c.engine.begin() as conn:
            service.move_employee(conn, ANI, B)
        assert up.round(store) == "ok"
        assert store.template_rows(ANI) == [] and store.employee(ANI)["active"] == 0


def test_registration_needs_a_unit_and_unitless_devices_serve_nobody(collector):
    from server import service
    from server.service import ServiceError

    with collector.engine.begin() as conn:
        with pytest.raises(ServiceError, match="at least one unit"):
            service.register_device(conn, "kiosk-x", units=[])
        with pytest.raises(ServiceError, match="control character"):
            service.register_device(conn, "kiosk-x", units=["Dinas\nKominfo"])
    # a device that had no unit before revision 0002 keeps none: it reads and writes nobody
    token = collector.register("kiosk-old", A)
    from sqlalchemy import text

    with collector.engine.begin() as conn:
        conn.execute(text("delete from device_units where device_id = 'kiosk-old'"))
    post(collector, "/roster", collector.register("kiosk-a", A), {"employees": [{"nip": ANI, "name": "Ani"}]})
    assert pull_all(collector, token)[0] == []
    r = post(collector, "/roster", token, {"employees": [{"nip": CICI, "name": "Cici"}]})
    assert r.json()["employees"][0]["status"] == "refused"
