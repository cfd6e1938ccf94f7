"""Every sentence the kiosk shows, through Qt's translation mechanism.

Source strings are English and marked with QT_TRANSLATE_NOOP (context "Kiosk") so that
`pyside6-lupdate` finds them; kiosk/ui/i18n/kiosk_id.ts holds Bahasa Indonesia, the default
language, compiled to .qm by scripts/setup.sh (pyside6-lrelease). A test fails when a string
has no translation. Dates use QLocale, so day and month names come from Qt's own locale data
("Selasa, 24 November 2026").
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QCoreApplication, QDate, QLocale, QT_TRANSLATE_NOOP, QTranslator

I18N = Path(__file__).with_name("i18n")

TEXT = {
    # quality hints, by the recognition's reason code
    "too_small": QT_TRANSLATE_NOOP("Kiosk", "Come closer"),
    "partial": QT_TRANSLATE_NOOP("Kiosk", "Move your face to the centre"),
    "not_frontal": QT_TRANSLATE_NOOP("Kiosk", "Look straight at the camera"),
    "tilted": QT_TRANSLATE_NOOP("Kiosk", "Hold your head straight"),
    # what helps: the camera also brightens a dark face by itself (face-priority exposure)
    "too_dark": QT_TRANSLATE_NOOP("Kiosk", "Too dark: turn your face towards the light"),
    "too_bright": QT_TRANSLATE_NOOP("Kiosk", "Too bright: step out of the direct light"),
    "blurred": QT_TRANSLATE_NOOP("Kiosk", "Hold still"),
    # decision cards
    "unknown": QT_TRANSLATE_NOOP("Kiosk", "Face not recognised"),
    "unknown_detail": QT_TRANSLATE_NOOP("Kiosk", "Please try again, or contact HR"),
    "repeat": QT_TRANSLATE_NOOP("Kiosk", "Already recorded: %1 at %2"),
    "kind_masuk": QT_TRANSLATE_NOOP("Kiosk", "IN"),
    "kind_pulang": QT_TRANSLATE_NOOP("Kiosk", "OUT"),
    "kind_istirahat_keluar": QT_TRANSLATE_NOOP("Kiosk", "BREAK"),
    "kind_istirahat_kembali": QT_TRANSLATE_NOOP("Kiosk", "BACK"),
    "switch_to_masuk": QT_TRANSLATE_NOOP("Kiosk", "Wrong? Change to IN"),
    "switch_to_pulang": QT_TRANSLATE_NOOP("Kiosk", "Wrong? Change to OUT"),
    "masuk": QT_TRANSLATE_NOOP("Kiosk", "IN %1"),
    "pulang": QT_TRANSLATE_NOOP("Kiosk", "OUT %1"),
    "istirahat_keluar": QT_TRANSLATE_NOOP("Kiosk", "BREAK %1"),
    "istirahat_kembali": QT_TRANSLATE_NOOP("Kiosk", "BACK %1"),
    "outside": QT_TRANSLATE_NOOP("Kiosk", "Outside working hours"),
    "late": QT_TRANSLATE_NOOP("Kiosk", "Late %1 minutes"),
    "on_time": QT_TRANSLATE_NOOP("Kiosk", "On time"),
    "early": QT_TRANSLATE_NOOP("Kiosk", "Leaving %1 minutes early"),
    "goodbye": QT_TRANSLATE_NOOP("Kiosk", "Goodbye, take care"),
    # liveness
    "prompt_blink": QT_TRANSLATE_NOOP("Kiosk", "Blink your eyes"),
    "prompt_turn_left": QT_TRANSLATE_NOOP("Kiosk", "Turn your head to the left"),
    "prompt_turn_right": QT_TRANSLATE_NOOP("Kiosk", "Turn your head to the right"),
    "prompt_look_blink": QT_TRANSLATE_NOOP("Kiosk", "Look at the camera and blink"),
    "unverified": QT_TRANSLATE_NOOP("Kiosk", "Not verified yet"),
    "unverified_detail": QT_TRANSLATE_NOOP("Kiosk", "Please try again and blink when asked"),
    "spoof": QT_TRANSLATE_NOOP("Kiosk", "Face check failed"),
    "spoof_detail": QT_TRANSLATE_NOOP("Kiosk", "Use your own face, not a photo or a screen. Contact HR if this is wrong."),
    # status line
    "camera_ok": QT_TRANSLATE_NOOP("Kiosk", "Camera OK"),
    "camera_starting": QT_TRANSLATE_NOOP("Kiosk", "Camera starting"),
    "camera_ended": QT_TRANSLATE_NOOP("Kiosk", "Camera stopped"),
    "camera_error": QT_TRANSLATE_NOOP("Kiosk", "Camera not available, retrying"),
    "recognition_ok": QT_TRANSLATE_NOOP("Kiosk", "Recognition ready"),
    "recognition_starting": QT_TRANSLATE_NOOP("Kiosk", "Recognition starting"),
    "recognition_restarting": QT_TRANSLATE_NOOP("Kiosk", "Recognition restarting"),
    "recognition_fatal": QT_TRANSLATE_NOOP("Kiosk", "Recognition failed"),
    "clock_synced": QT_TRANSLATE_NOOP("Kiosk", "Clock synchronised"),
    "clock_unsynced": QT_TRANSLATE_NOOP("Kiosk", "Clock not synchronised"),
    "upload_not_configured": QT_TRANSLATE_NOOP("Kiosk", "Upload not configured"),
    "upload_ok": QT_TRANSLATE_NOOP("Kiosk", "Server connected"),
    "upload_offline": QT_TRANSLATE_NOOP("Kiosk", "Server not reachable, records kept"),
    "upload_revoked": QT_TRANSLATE_NOOP("Kiosk", "Device token revoked: call the technician"),
    "pending": QT_TRANSLATE_NOOP("Kiosk", "Waiting for upload: %1"),
    # banners
    "banner_camera": QT_TRANSLATE_NOOP("Kiosk", "Camera not available. Please use the paper attendance list."),
    "banner_store": QT_TRANSLATE_NOOP("Kiosk", "Records cannot be saved. Please use the paper attendance list."),
    "banner_restarting": QT_TRANSLATE_NOOP("Kiosk", "Face recognition is restarting, please wait."),
    "banner_fatal": QT_TRANSLATE_NOOP("Kiosk", "Face recognition cannot start. Please use the paper attendance list."),
}


def t(key: str, *args: object) -> str:
    """The translated sentence, with %1, %2 ... filled from `args` (as QString::arg does)."""
    s = QCoreApplication.translate("Kiosk", TEXT[key])
    for i, a in enumerate(args, start=1):
        s = s.replace(f"%{i}", str(a))
    return s


def prompt(code: str | None) -> str:
    """The liveness challenge the screen asks for ("blink", "turn_left" ...); before any challenge
    (the passive phase), a blink: any blink counts there, so the person who stands still is not
    left waiting for the challenge (docs/liveness.md, "How soon a genuine face is live")."""
    return t(f"prompt_{code}") if code in ("blink", "turn_left", "turn_right") else t("prompt_look_blink")


def hint(reason: str | None) -> str:
    return t(reason) if reason in ("too_small", "partial", "not_frontal", "tilted", "too_dark",
                                   "too_bright", "blurred") else ""


def install_translator(app, language: str) -> QTranslator | None:
    """Load kiosk_<language>.qm (none needed for English, the source language)."""
    if language == "en":
        return None
    translator = QTranslator(app)
    qm = I18N / f"kiosk_{language}.qm"
    if not translator.load(str(qm)):
        raise FileNotFoundError(f"{qm} is missing: run scripts/setup.sh (it compiles the "
                                "translations with pyside6-lrelease)")
    app.installTranslator(translator)
    return translator


def long_date(date: QDate, language: str) -> str:
    lang = QLocale.Language.Indonesian if language == "id" else QLocale.Language.English
    return QLocale(lang).toString(date, "dddd, d MMMM yyyy")


def card_lines(msg: dict) -> tuple[str, str, str, str, str]:
    """(style, headline, detail, name, NIP) for a decision message from the recognition loop."""
    name, nip = (msg.get("name") or "").strip(), (msg.get("employee_id") or "").strip()
    if msg["type"] == "unknown":
        return "unknown", t("unknown"), t("unknown_detail"), "", ""
    if msg["type"] == "spoof":
        return "unknown", t("spoof"), t("spoof_detail"), "", ""
    if msg["type"] == "unverified":
        return "retry", t("unverified"), t("unverified_detail"), "", ""
    kind = msg.get("kind")
    if msg.get("status") == "already_recorded":
        word = t(f"kind_{kind}") if f"kind_{kind}" in TEXT else ""
        return "repeat", t("repeat", word, (msg.get("recorded_at") or "")[11:16]), "", name, nip
    headline = t(kind, (msg.get("local_time") or "")[11:16]) if kind in TEXT else ""
    late, early = msg.get("late_minutes") or 0, msg.get("early_minutes") or 0
    if msg.get("note") in ("off", "holiday", "outside_window"):
        detail = t("outside")
    elif kind == "masuk":
        detail = t("late", late) if late else t("on_time")
    elif kind == "pulang":
        detail = t("early", early) if early else t("goodbye")
    else:
        detail = ""
    return ("late" if late or early else "ok"), headline, detail, name, nip


def switch_label(msg: dict) -> str:
    """The card's one button for a recorded MASUK or PULANG ("Salah? Ganti ke PULANG"), or ""."""
    if msg.get("type") != "attendance" or msg.get("status") != "recorded" or not msg.get("event_id"):
        return ""
    other = {"masuk": "pulang", "pulang": "masuk"}.get(msg.get("kind"))
    return t(f"switch_to_{other}") if other else ""


def two_lines(s: str, metrics, width: int) -> str:
    """`s` word-wrapped to `width` pixels in at most two lines, the second elided ("...") when
    the rest does not fit: a long name never pushes the NIP off the card."""
    from PySide6.QtCore import Qt

    words, lines = s.split(), []
    while words and len(lines) < 2:
        line = words.pop(0)
        while words and metrics.horizontalAdvance(f"{line} {words[0]}") <= width:
            line = f"{line} {words.pop(0)}"
        if len(lines) == 1 and words:
            line = " ".join([line, *words])
            words = []
        lines.append(metrics.elidedText(line, Qt.TextElideMode.ElideRight, width))
    return "\n".join(lines)


ADMIN_TEXT = {
    "pin_enter": QT_TRANSLATE_NOOP("Kiosk", "Enter the admin PIN"),
    "pin_new": QT_TRANSLATE_NOOP("Kiosk", "Choose a new admin PIN (6 to 12 digits)"),
    "pin_repeat": QT_TRANSLATE_NOOP("Kiosk", "Enter the new PIN again"),
    "pin_mismatch": QT_TRANSLATE_NOOP("Kiosk", "The two PINs differ. Choose a new PIN again."),
    "pin_bad_format": QT_TRANSLATE_NOOP("Kiosk", "The PIN must be 6 to 12 digits."),
    "pin_wrong": QT_TRANSLATE_NOOP("Kiosk", "Wrong PIN. %1 attempt(s) left."),
    "pin_locked": QT_TRANSLATE_NOOP("Kiosk", "Too many wrong PINs. Try again in %1 seconds."),
    "pin_taken": QT_TRANSLATE_NOOP("Kiosk", "Another account has this PIN. Choose a different one."),
    "accounts": QT_TRANSLATE_NOOP("Kiosk", "HR accounts"),
    "accounts_list": QT_TRANSLATE_NOOP("Kiosk", "Accounts: %1"),
    "account_first": QT_TRANSLATE_NOOP("Kiosk", "First start: your name for the HR account"),
    "account_new": QT_TRANSLATE_NOOP("Kiosk", "New HR account: the person's name"),
    "account_name_missing": QT_TRANSLATE_NOOP("Kiosk", "Enter a name (at most 40 characters)."),
    "account_exists": QT_TRANSLATE_NOOP("Kiosk", "There is already an account named %1."),
    "account_added": QT_TRANSLATE_NOOP("Kiosk", "Account %1 added."),
    "ok": QT_TRANSLATE_NOOP("Kiosk", "OK"),
    "cancel": QT_TRANSLATE_NOOP("Kiosk", "Cancel"),
    "back": QT_TRANSLATE_NOOP("Kiosk", "Back"),
    "exit_admin": QT_TRANSLATE_NOOP("Kiosk", "Exit admin mode"),
    "search": QT_TRANSLATE_NOOP("Kiosk", "Search NIP or name"),
    "new_employee": QT_TRANSLATE_NOOP("Kiosk", "New employee"),
    "status": QT_TRANSLATE_NOOP("Kiosk", "Status"),
    "samples": QT_TRANSLATE_NOOP("Kiosk", "%1 sample(s)"),
    "not_enrolled": QT_TRANSLATE_NOOP("Kiosk", "not enrolled"),
    "inactive": QT_TRANSLATE_NOOP("Kiosk", "inactive"),
    "add_samples": QT_TRANSLATE_NOOP("Kiosk", "Add samples"),
    "reenroll": QT_TRANSLATE_NOOP("Kiosk", "Re-enroll"),
    "try": QT_TRANSLATE_NOOP("Kiosk", "Test recognition"),
    "remove_templates": QT_TRANSLATE_NOOP("Kiosk", "Remove face data"),
    "confirm_remove": QT_TRANSLATE_NOOP("Kiosk", "Press again to remove all face data of this employee"),
    "deactivate": QT_TRANSLATE_NOOP("Kiosk", "Deactivate"),
    "activate": QT_TRANSLATE_NOOP("Kiosk", "Activate"),
    "nip": QT_TRANSLATE_NOOP("Kiosk", "NIP"),
    "name": QT_TRANSLATE_NOOP("Kiosk", "Name"),
    "next": QT_TRANSLATE_NOOP("Kiosk", "Next"),
    "nip_invalid": QT_TRANSLATE_NOOP("Kiosk", "NIP %1 is not valid (18 digits)."),
    "nip_exists": QT_TRANSLATE_NOOP("Kiosk", "NIP %1 is already registered: search for it instead."),
    "name_missing": QT_TRANSLATE_NOOP("Kiosk", "Enter the name."),
    "pose_straight": QT_TRANSLATE_NOOP("Kiosk", "Look straight at the camera"),
    "pose_left": QT_TRANSLATE_NOOP("Kiosk", "Turn your head slightly to the left"),
    "pose_right": QT_TRANSLATE_NOOP("Kiosk", "Turn your head slightly to the right"),
    "pose_glasses": QT_TRANSLATE_NOOP("Kiosk", "Put your glasses on and look straight"),
    "pose_no_glasses": QT_TRANSLATE_NOOP("Kiosk", "Take your glasses off and look straight"),
    "sample_n": QT_TRANSLATE_NOOP("Kiosk", "Sample %1"),
    "duplicate": QT_TRANSLATE_NOOP("Kiosk", "This face matches another employee: %1"),
    "keep_anyway": QT_TRANSLATE_NOOP("Kiosk", "Keep anyway"),
    "retake": QT_TRANSLATE_NOOP("Kiosk", "Retake"),
    "different_person": QT_TRANSLATE_NOOP("Kiosk", "A different face from the first sample: retaking"),
    "review": QT_TRANSLATE_NOOP("Kiosk", "Check the samples, then save or redo"),
    "save": QT_TRANSLATE_NOOP("Kiosk", "Save"),
    "redo": QT_TRANSLATE_NOOP("Kiosk", "Redo"),
    "saved": QT_TRANSLATE_NOOP("Kiosk", "Saved: %1 sample(s)."),
    "removed": QT_TRANSLATE_NOOP("Kiosk", "Face data removed."),
    "test_result": QT_TRANSLATE_NOOP("Kiosk", "Distance %1 (limit %2), margin %3"),
    "recognised": QT_TRANSLATE_NOOP("Kiosk", "Recognised"),
    "not_recognised": QT_TRANSLATE_NOOP("Kiosk", "Not recognised"),
    "status_device": QT_TRANSLATE_NOOP("Kiosk", "Device"),
    "status_unit": QT_TRANSLATE_NOOP("Kiosk", "Unit"),
    "status_version": QT_TRANSLATE_NOOP("Kiosk", "Software version"),
    "status_clock": QT_TRANSLATE_NOOP("Kiosk", "Clock"),
    "status_camera": QT_TRANSLATE_NOOP("Kiosk", "Camera"),
    "status_disk": QT_TRANSLATE_NOOP("Kiosk", "Free disk"),
    "status_people": QT_TRANSLATE_NOOP("Kiosk", "Employees / face samples"),
    "status_today": QT_TRANSLATE_NOOP("Kiosk", "Records today"),
    "status_pending": QT_TRANSLATE_NOOP("Kiosk", "Waiting for upload"),
    "status_upload": QT_TRANSLATE_NOOP("Kiosk", "Last upload / last error"),
    "status_holds": QT_TRANSLATE_NOOP("Kiosk", "Look-alike holds"),
    # frames a second the last liveness checks saw (kiosk.app.LivenessPace; below MIN_FPS nobody passes)
    "status_liveness": QT_TRANSLATE_NOOP("Kiosk", "Liveness check speed"),
    "liveness_pace": QT_TRANSLATE_NOOP("Kiosk", "%1 frames/s (median of the last %2 checks)"),
    "liveness_pace_none": QT_TRANSLATE_NOOP("Kiosk", "no check since the kiosk started"),
    "liveness_pace_off": QT_TRANSLATE_NOOP("Kiosk", "off ([liveness] mode)"),
    "liveness_too_slow": QT_TRANSLATE_NOOP(
        "Kiosk", "TOO SLOW: at least %1 are needed, so everyone is asked to try again (technician's guide, section 8)"),
}
TEXT.update(ADMIN_TEXT)
