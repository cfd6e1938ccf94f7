"""Masuk/pulang with the interim rule: first of the day, later, repeats, time zones."""

import datetime as dt
import zoneinfo

from kiosk.clock import Stamp
from kiosk.decision import decide


def stamp(hhmm: str, zone="Asia/Jakarta", day="2026-11-24", synced=True) -> Stamp:
    local = dt.datetime.fromisoformat(f"{day}T{hhmm}:00").replace(tzinfo=zoneinfo.ZoneInfo(zone))
    return Stamp(local, local.astimezone(dt.timezone.utc), 123, synced)


def run(s, last=None):
    return decide("198501012010011001", s, last, 5, device_id="k1", boot_id="b", distance=0.31, margin=0.2)


def test_first_of_the_day_is_masuk_with_offset_and_sync_flag():
    d = run(stamp("07:12", synced=False))
    assert d.status == "recorded" and d.kind == "masuk"
    assert d.event["local_time"] == "2026-11-24T07:12:00+07:00"
    assert d.event["utc_at"].startswith("2026-11-24T00:12:00")
    assert d.event["clock_synced"] == 0 and d.event["local_date"] == "2026-11-24"


def test_repeat_within_minutes_records_nothing_later_is_pulang():
    first = run(stamp("07:12")).event
    again = run(stamp("07:15"), last=first)
    assert again.status == "already_recorded" and again.event is None
    assert again.previous_local_time == "2026-11-24T07:12:00+07:00"
    out = run(stamp("16:05"), last=first)
    assert out.status == "recorded" and out.kind == "pulang"


def test_wita_and_wit_keep_their_offsets():
    assert run(stamp("07:30", "Asia/Makassar")).event["local_time"].endswith("+08:00")
    e = run(stamp("07:30", "Asia/Jayapura")).event
    assert e["local_time"].endswith("+09:00") and e["utc_at"].startswith("2026-11-23T22:30")
