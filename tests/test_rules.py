"""Attendance rules, table-driven with real dates (November 2026: the 2nd is a Monday)."""

import datetime as dt
import zoneinfo

import pytest

from kiosk.clock import Stamp
from kiosk.config import ConfigError, load_config
from kiosk.decision import decide
from kiosk.rules.day import Punch, evaluate_day
from kiosk.rules.schedule import Calendar, schedules_from_config

WIB = zoneinfo.ZoneInfo("Asia/Jakarta")

CONFIG = """
[attendance]
ramadan = [["2026-02-18", "2026-03-19"]]
unit_schedules = { "Puskesmas Sragen" = "malam" }
track_breaks = true

[schedules.malam]
week = ["21:00-07:00", "21:00-07:00", "21:00-07:00", "21:00-07:00", "21:00-07:00", "", ""]
breaks = ["01:00-01:30", "01:00-01:30", "01:00-01:30", "01:00-01:30", "01:00-01:30", "", ""]
punch_from = "19:30"
punch_until = "09:00"
"""


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    p = tmp_path_factory.mktemp("cfg") / "config.toml"
    p.write_text(CONFIG)
    cfg = load_config(p)
    schedules = schedules_from_config(cfg)
    cal = Calendar.from_config(cfg.values["attendance"], {dt.date(2026, 12, 25): "Hari Raya Natal"})
    return cfg, schedules, cal


def at(s: str) -> dt.datetime:
    return dt.datetime.fromisoformat(s).replace(tzinfo=WIB)




# work date, schedule, punches ("YYYY-MM-DD HH:MM[:SS]" or with "!" = clock not synced), expected
DAYS = [
    ("on time", "2026-11-02", "kantor", ["2026-11-02 07:12", "2026-11-02 16:05"],
     dict(status="present", late_minutes=0, tl=None, early_minutes=0, psw=None, cut_percent=0.0)),
    ("07:30:59 is not late", "2026-11-02", "kantor", ["2026-11-02 07:30:59", "2026-11-02 16:00"],
     dict(late_minutes=0, tl=None, cut_percent=0.0)),
    ("07:31 is TL1", "2026-11-02", "kantor", ["2026-11-02 07:31:00", "2026-11-02 16:00"],
     dict(late_minutes=1, tl="TL1", cut_percent=0.5)),
    ("TL2", "2026-11-03", "kantor", ["2026-11-03 08:15", "2026-11-03 16:00"], dict(late_minutes=45, tl="TL2", cut_percent=1.0)),
    ("TL3", "2026-11-03", "kantor", ["2026-11-03 08:45", "2026-11-03 16:00"], dict(late_minutes=75, tl="TL3", cut_percent=1.25)),
    ("TL4", "2026-11-03", "kantor", ["2026-11-03 09:31", "2026-11-03 16:00"], dict(late_minutes=121, tl="TL4", cut_percent=1.5)),
    ("Friday ends 16:30", "2026-11-06", "kantor", ["2026-11-06 07:20", "2026-11-06 16:10"],
     dict(early_minutes=20, psw="PSW1", cut_percent=0.5)),
    ("Friday 16:30 is on time", "2026-11-06", "kantor", ["2026-11-06 07:20", "2026-11-06 16:30"],
     dict(early_minutes=0, psw=None, cut_percent=0.0)),
    ("only pulang = TL4", "2026-11-04", "kantor", ["2026-11-04 16:05"],
     dict(status="present", masuk=None, tl="TL4", late_minutes=None, psw=None, cut_percent=1.5)),
    ("only an early pulang", "2026-11-04", "kantor", ["2026-11-04 15:30"],
     dict(masuk=None, tl="TL4", early_minutes=30, psw="PSW1", cut_percent=2.0)),
    ("only masuk = PSW4", "2026-11-04", "kantor", ["2026-11-04 07:10"],
     dict(status="present", pulang=None, tl=None, psw="PSW4", cut_percent=1.5)),
    ("no record = alpha", "2026-11-05", "kantor", [], dict(status="alpha", cut_percent=3.0)),
    ("Saturday is off", "2026-11-07", "kantor", ["2026-11-07 08:00"], dict(status="off", cut_percent=0.0, masuk=None)),
    ("holiday", "2026-12-25", "kantor", [], dict(status="holiday", holiday="Hari Raya Natal", cut_percent=0.0)),
    ("Ramadan starts 08:00", "2026-02-23", "kantor", ["2026-02-23 07:55", "2026-02-23 15:00"],
     dict(ramadan=True, late_minutes=0, early_minutes=0, cut_percent=0.0)),
    ("Ramadan late and early", "2026-02-23", "kantor", ["2026-02-23 08:10", "2026-02-23 14:30"],
     dict(late_minutes=10, tl="TL1", early_minutes=30, psw="PSW1", cut_percent=1.0)),
    ("before the window is ignored", "2026-11-09", "kantor", ["2026-11-09 05:50", "2026-11-09 07:40", "2026-11-09 16:00"],
     dict(late_minutes=10, tl="TL1", ignored=1)),
    ("after the window is ignored", "2026-11-09", "kantor", ["2026-11-09 07:20", "2026-11-09 18:30"],
     dict(psw="PSW4", pulang=None, ignored=1)),
    ("first masuk, last pulang", "2026-11-10", "kantor",
     ["2026-11-10 07:05", "2026-11-10 07:06", "2026-11-10 07:20", "2026-11-10 15:50", "2026-11-10 16:02"],
     dict(masuk=at("2026-11-10 07:05"), pulang=at("2026-11-10 16:02"), late_minutes=0, early_minutes=0)),
    ("night shift across midnight", "2026-11-02", "malam", ["2026-11-02 20:55", "2026-11-03 07:03"],
     dict(status="present", late_minutes=0, early_minutes=0, cut_percent=0.0, pulang=at("2026-11-03 07:03"))),
    ("night shift late and early", "2026-11-02", "malam", ["2026-11-02 21:40", "2026-11-03 06:20"],
     dict(late_minutes=40, tl="TL2", early_minutes=40, psw="PSW2", cut_percent=2.0)),
    ("unsynchronised clock is flagged", "2026-11-11", "kantor", ["2026-11-11 07:10!", "2026-11-11 16:00"],
     dict(unsynced=True, cut_percent=0.0)),
    ("a late arrival after mid-shift is masuk", "2026-11-12", "kantor", ["2026-11-12 13:05=masuk", "2026-11-12 16:01"],
     dict(masuk=at("2026-11-12 13:05"), late_minutes=335, tl="TL4", pulang=at("2026-11-12 16:01"), psw=None)),
    ("a pulang before mid-shift is a departure", "2026-11-12", "kantor", ["2026-11-12 07:20", "2026-11-12 11:00=pulang"],
     dict(masuk=at("2026-11-12 07:20"), pulang=at("2026-11-12 11:00"), early_minutes=300, psw="PSW4")),
]


@pytest.mark.parametrize("name, day, schedule, punches, expected", DAYS, ids=[d[0] for d in DAYS])
def test_day(setup, name, day, schedule, punches, expected):
    cfg, schedules, cal = setup
    s = schedules[schedule]
    # recorded as the kiosk did for these: masuk before mid-shift, pulang from it on (or as given: "=kind")
    ps = []
    for p in punches:
        text, _, kind = p.partition("=")
        t = at(text.rstrip("!"))
        shift = s.locate(t, cal)[1]
        kind = kind or ("masuk" if shift is None or t < shift.split else "pulang")
        ps.append(Punch(t, kind, clock_synced=not text.endswith("!")))
    for p in ps:  # every punch counts for the work date the schedule places it on
        if s.locate(p.at, cal)[1] is not None:
            assert s.locate(p.at, cal)[0] == dt.date.fromisoformat(day), p
    r = evaluate_day("1", dt.date.fromisoformat(day), s, cal, ps, cfg.values["attendance"])
    for key, value in expected.items():
        got = len(r.ignored) if key == "ignored" else getattr(r, key)
        assert got == value, (key, got, value)


def test_a_day_still_running_is_never_alpha(setup):
    cfg, schedules, cal = setup
    rules = cfg.values["attendance"]
    k = schedules["kantor"]
    noon = at("2026-11-02 12:00")
    empty = evaluate_day("1", dt.date(2026, 11, 2), k, cal, [], rules, now=noon)
    assert empty.status == "open" and empty.cut_percent == 0
    half = evaluate_day("1", dt.date(2026, 11, 2), k, cal, [Punch(at("2026-11-02 07:40"), "masuk")], rules, now=noon)
    assert half.status == "open" and half.tl == "TL1" and half.psw is None


# live decisions: (time, employee's earlier punches that day, expected)
def live(setup, when, earlier=(), schedule="kantor"):
    cfg, schedules, cal = setup
    t = at(when)
    stamp = Stamp(t, t.astimezone(dt.timezone.utc), 1, True)
    rows = [{"kind": k, "local_time": at(w).isoformat(), "utc_at": at(w).astimezone(dt.timezone.utc).isoformat()}
            for w, k in earlier]
    return decide("1", stamp, schedules[schedule], cal, rows, cfg.values["attendance"], device_id="k",
                  boot_id="b", distance=0.3, margin=0.2)


def test_live_masuk_repeat_and_pulang(setup):
    d = live(setup, "2026-11-02 07:45")
    assert (d.status, d.kind, d.late_minutes, d.category) == ("recorded", "masuk", 15, "TL1")
    assert d.event["work_date"] == "2026-11-02" and d.event["in_window"] == 1
    assert d.event["local_time"] == "2026-11-02T07:45:00+07:00"
    masuk = [("2026-11-02 07:12", "masuk")]
    assert live(setup, "2026-11-02 07:15", masuk).status == "already_recorded"
    again = live(setup, "2026-11-02 09:00", masuk)  # before mid-shift: the first masuk counts
    assert again.status == "already_recorded" and again.previous_local_time.startswith("2026-11-02T07:12")
    out = live(setup, "2026-11-02 15:30", masuk)
    assert (out.kind, out.early_minutes, out.category) == ("pulang", 30, "PSW1")
    later = live(setup, "2026-11-02 16:20", masuk + [("2026-11-02 15:30", "pulang")])
    assert later.status == "recorded" and later.kind == "pulang" and later.early_minutes == 0


def test_live_first_punch_near_or_after_the_end_is_pulang(setup):
    d = live(setup, "2026-11-02 16:05")
    assert (d.status, d.kind, d.early_minutes, d.category) == ("recorded", "pulang", 0, None)
    d = live(setup, "2026-11-02 15:10")  # within first_punch_pulang_minutes (60) of 16:00
    assert (d.kind, d.early_minutes, d.category) == ("pulang", 50, "PSW2")


def test_live_first_punch_after_mid_shift_is_a_late_masuk_not_pulang_cepat(setup):
    """A late arrival (or someone who came in by another door) at 14:19 is MASUK, terlambat -
    not "pulang cepat 101 menit" as the clock alone decided; their 16:05 punch is then PULANG."""
    d = live(setup, "2026-11-02 14:19")
    assert (d.status, d.kind, d.late_minutes, d.category) == ("recorded", "masuk", 409, "TL4")
    out = live(setup, "2026-11-02 16:05", [("2026-11-02 14:19", "masuk")])
    assert (out.kind, out.early_minutes) == ("pulang", 0)


def test_a_correction_is_a_new_event_naming_the_original(setup):
    from kiosk.decision import correction
    from kiosk.rules.day import current

    d = live(setup, "2026-11-02 14:19")
    fixed = correction(d.event, "employee")
    assert fixed["kind"] == "pulang" and fixed["corrects"] == d.event["id"] and fixed["id"] != d.event["id"]
    assert {k: fixed[k] for k in ("nip", "local_time", "utc_at", "work_date")} == \
        {k: d.event[k] for k in ("nip", "local_time", "utc_at", "work_date")}
    assert d.event["kind"] == "masuk"  # the original is never changed
    assert current([d.event, fixed]) == [fixed]
    back = correction(fixed, "employee")
    assert current([d.event, fixed, back]) == [back] and back["kind"] == "masuk"


def test_live_outside_window_weekend_holiday_are_kept_and_marked(setup):
    early = live(setup, "2026-11-02 05:30")
    assert early.status == "recorded" and early.note == "outside_window" and early.event["in_window"] == 0
    assert live(setup, "2026-11-07 08:00").note == "off"
    assert live(setup, "2026-12-25 08:00").note == "holiday"


def test_live_night_shift_counts_for_the_previous_date(setup):
    d = live(setup, "2026-11-03 06:50", [("2026-11-02 20:58", "masuk")], schedule="malam")
    assert (d.kind, d.event["work_date"], d.early_minutes) == ("pulang", "2026-11-02", 10)


def test_live_breaks(setup):
    masuk = [("2026-11-02 07:10", "masuk")]
    out = live(setup, "2026-11-02 12:05", masuk)
    assert out.kind == "istirahat_keluar"
    back = live(setup, "2026-11-02 12:55", masuk + [("2026-11-02 12:05", "istirahat_keluar")])
    assert back.kind == "istirahat_kembali"
    # break punches never count as pulang or masuk in the day's verdict
    cfg, schedules, cal = setup
    ps = [Punch(at("2026-11-02 07:10"), "masuk"), Punch(at("2026-11-02 12:05"), "istirahat_keluar"),
          Punch(at("2026-11-02 12:55"), "istirahat_kembali")]
    r = evaluate_day("1", dt.date(2026, 11, 2), schedules["kantor"], cal, ps, cfg.values["attendance"])
    assert r.pulang is None and r.psw == "PSW4" and len(r.ignored) == 2


def test_time_zones_keep_their_offsets(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text('[device]\ntimezone = "Asia/Jayapura"\n')
    cfg = load_config(p)
    k = schedules_from_config(cfg)["kantor"]
    t = dt.datetime(2026, 11, 2, 7, 40, tzinfo=cfg.tz)  # 07:40 WIT = 05:40 WIB
    d = decide("1", Stamp(t, t.astimezone(dt.timezone.utc), 1, True), k, Calendar({}), [],
               cfg.values["attendance"], device_id="k", boot_id="b", distance=0.3, margin=0.2)
    assert d.event["local_time"] == "2026-11-02T07:40:00+09:00" and d.late_minutes == 10
    assert d.event["utc_at"].startswith("2026-11-01T22:40")


def test_bad_schedules_are_named(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text('[schedules.malam]\nweek = ["21:00-07:00", "", "", "", "", "", ""]\n')
    with pytest.raises(ConfigError, match=r"\[schedules.malam\] week Monday 21:00-07:00 lies outside the punch window"):
        load_config(p)
    p.write_text('[schedules.kantor]\nweek = ["07:30-16:00"]\n')
    with pytest.raises(ConfigError, match=rf"{p}:2: \[schedules.kantor\] week .*needs 7 entries"):
        load_config(p)
    p.write_text('[attendance]\ndefault_schedule = "shift"\n')
    with pytest.raises(ConfigError, match="names schedule 'shift', which is not defined"):
        load_config(p)
    p.write_text('[attendance]\ntl_bands = [30, 20, 90]\n')
    with pytest.raises(ConfigError, match=rf"{p}:2: \[attendance\] tl_bands .*ascending"):
        load_config(p)
