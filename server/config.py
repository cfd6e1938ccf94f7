"""The collector's configuration file (`--config collector.toml`, else $KIOSK_COLLECTOR_CONFIG,
else the built-in defaults): [collector] (time zone, sign-in and sessions, four-eyes approval),
[signature] (who signs the monthly recap), and the attendance rules of attendance.config
([attendance], [schedules.NAME] as on the kiosks, [leave], [leave_types.CODE]).

server/collector.toml lists every setting with its default; it is generated from this schema
(`kiosk-collector config --print-defaults`) and a test keeps the two identical. An unknown key,
a wrong type or a value out of range stops start-up with the file, line and key.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from attendance.config import RULES_SCHEMA, ZONES, RulesConfig, check_rules
from attendance.settings import Section, Setting, SettingsError, defaults, merge_file, render

CONFIG_ENV = "KIOSK_COLLECTOR_CONFIG"


def _signers(v: dict) -> str | None:
    for unit, s in v.items():
        if not (isinstance(s, list) and len(s) == 3 and all(isinstance(x, str) for x in s)):
            return f"{unit!r}: needs [\"title\", \"name\", \"NIP\"]"
    return None


def _regex(v: str) -> str | None:
    import re

    try:
        re.compile(v)
    except re.error as e:
        return f"is not a valid regular expression: {e}"
    return None


COLLECTOR = Section("The collector: time zone, sign-in, sessions, approval", [
    Setting("timezone", "Asia/Jakarta",
            "Asia/Jakarta (WIB, UTC+7), Asia/Makassar (WITA, UTC+8) or Asia/Jayapura (WIT, UTC+9): the "
            "schedules' hours and every time on the pages.", choices=tuple(ZONES)),
    Setting("region", "Pemerintah Kabupaten", "The government named at the top of the monthly recap form."),
    Setting("city", "", "Place written before the date in the recap's signature block (e.g. Sragen)."),
    Setting("four_eyes_corrections", False,
            "A correction of a punch takes effect only once a second account approves it."),
    Setting("four_eyes_leave", False, "Leave and permits take effect only once a second account approves them."),
    Setting("session_idle_minutes", 30, "A session unused this long ends (sign in again).", lo=5, hi=720),
    Setting("session_max_hours", 12, "A session ends this long after sign-in, used or not.", lo=1, hi=168),
    Setting("secure_cookies", True,
            "Session cookies only over HTTPS (the reverse proxy's TLS). false only for a test on a laptop "
            "without TLS."),
    Setting("login_max_failed", 5, "Wrong passwords in a row before an account is locked ...", lo=1, hi=50),
    Setting("login_lock_s", 60, "... for this many seconds, doubling with each further wrong one (at most an hour).",
            lo=1, hi=3600),
    Setting("login_per_minute", 20, "Sign-in attempts accepted per minute from one address (all accounts).",
            lo=1, hi=10000),
    Setting("min_password", 12, "Shortest password accepted.", lo=8, hi=128),
    Setting("nip_pattern", "^[0-9]{18}$",
            "Regular expression every employee id of a roster import must match (NIP of an ASN: 18 digits).",
            validate=_regex),
])

SIGNATURE = Section("Who signs the monthly recap (\"Mengetahui\")", [
    Setting("title", "Kepala BKPSDM", "The signer's position for the regency's recap."),
    Setting("name", "", "The signer's name (left empty: a blank line to write it by hand)."),
    Setting("nip", "", "The signer's NIP."),
    Setting("units", {},
            "Per unit: { \"Dinas Kominfo\" = [\"Kepala Dinas Kominfo\", \"Nama\", \"NIP\"] } for that unit's "
            "recap; other units' recaps use the lines above.", validate=_signers),
])

SCHEMA: dict[str, Section] = {"collector": COLLECTOR, "signature": SIGNATURE, **RULES_SCHEMA}


@dataclass
class ServerConfig:
    rules: RulesConfig
    collector: dict
    signature: dict
    files: tuple[Path, ...] = ()

    def signer(self, unit: str | None) -> tuple[str, str, str]:
        """(title, name, NIP) of whoever signs the recap of `unit` (None: the regency's)."""
        s = self.signature
        return tuple(s["units"].get(unit) or (s["title"], s["name"], s["nip"]))


def load(path: Path | None = None) -> ServerConfig:
    values = defaults(SCHEMA)
    if path is None and os.environ.get(CONFIG_ENV):
        path = Path(os.environ[CONFIG_ENV])
    files: tuple[Path, ...] = ()
    if path is not None:
        merge_file(values, Path(path), SCHEMA)
        files = (Path(path),)
    check_rules(values, values["collector"]["timezone"], str(path) if path else "defaults")
    rules = RulesConfig({k: values[k] for k in RULES_SCHEMA}, values["collector"]["timezone"])
    return ServerConfig(rules, values["collector"], values["signature"], files)


def render_defaults() -> str:
    return render(SCHEMA, [
        "Collector server configuration. Every setting is listed with its default and meaning.",
        "Generated from server/config.py by `kiosk-collector config --print-defaults`; a test keeps it in sync.",
        "[attendance] and [schedules.NAME] are the kiosks' own sections: copy them from the kiosks' config.toml.",
    ])


__all__ = ["ServerConfig", "SettingsError", "load", "render_defaults", "CONFIG_ENV"]
