#!/usr/bin/env python3
"""Refresh kiosk/ui/i18n/kiosk_id.ts from the source strings (pyside6-lupdate), keeping every
existing translation; prints the strings that still need one. Then scripts/setup.sh compiles it.

Usage: python scripts/translations.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TS = ROOT / "kiosk" / "ui" / "i18n" / "kiosk_id.ts"


def main() -> int:
    old = {m.findtext("source"): m.findtext("translation") for m in ET.parse(TS).getroot().iter("message")}
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "fresh.ts"
        lupdate = Path(sys.executable).with_name("pyside6-lupdate")
        subprocess.run([str(lupdate), "-silent", str(ROOT / "kiosk" / "ui" / "text.py"), "-ts", str(fresh),
                        "-target-language", "id_ID"], check=True)
        tree = ET.parse(fresh)
    missing = []
    for msg in tree.getroot().iter("message"):
        src = msg.findtext("source")
        tr = msg.find("translation")
        loc = msg.find("location")
        if loc is not None:
            msg.remove(loc)
        if old.get(src):
            tr.text = old[src]
            tr.attrib.pop("type", None)
        else:
            missing.append(src)
    ET.indent(tree)
    with open(TS, "wb") as f:
        f.write(b'<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE TS>\n')
        tree.write(f, encoding="utf-8", xml_declaration=False)
    for src in missing:
        print(f"untranslated: {src}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
