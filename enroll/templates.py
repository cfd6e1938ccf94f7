"""Export and import of face templates (biometric personal data: files are 0600, logged).

The export is one JSON document: the encoder version, per employee their NIP, name, unit, active
flag and templates (base64 of 128 little-endian float32), and the look-alike holds (`holds`:
people refused as another employee's duplicate, kiosk.recognition.gallery), so that a kiosk
given the templates also refuses those faces. An export without `holds` (older) imports as before. It is written atomically (a
temporary file in the same folder, fsync, rename), so a full disk or a crash never leaves a
half-written export. An import is checked completely before one transaction writes it.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

from enroll.photos import EnrollInputError, check_nip
from kiosk.fileio import write_atomic
from kiosk.store import Store
from kiosk.store.db import TemplateRow, decode_template
from kiosk_models import ENCODER_VERSION

FORMAT = "kiosk-face-templates"
VERSION = 1


def export_templates(store: Store, path: Path, actor: str = "cli") -> int:
    people = {e["nip"]: {"nip": e["nip"], "name": e["name"], "unit": e["unit"], "active": e["active"],
                         "templates": []} for e in store.employees()}
    n = 0
    for t in store.template_rows():
        people[t["nip"]]["templates"].append({
            "encoding": base64.b64encode(t["encoding"]).decode(), "model_version": t["model_version"],
            "quality": t["quality"], "source": t["source"], "created_at": t["created_at"]})
        n += 1
    holds = [{"nip": h["nip"], "resembles": h["resembles"], "encoding": base64.b64encode(h["encoding"]).decode(),
              "model_version": h["model_version"], "source": h["source"], "created_at": h["created_at"]}
             for h in store.hold_templates()]
    doc = {"format": FORMAT, "version": VERSION, "encoder": ENCODER_VERSION, "employees": list(people.values()),
           "holds": holds}
    write_atomic(Path(path), json.dumps(doc, ensure_ascii=False, indent=1).encode())
    store.audit("export_templates", {"file": str(path), "employees": len(people), "templates": n,
                                     "holds": len(holds)}, actor)
    return n


def _encoding(item: dict, where: str):
    """The 128 floats of an exported template or hold, of this kiosk's encoder, or the error."""
    if item.get("model_version") != ENCODER_VERSION:
        raise EnrollInputError(f"{where}: model {item.get('model_version')!r} differs from this "
                               f"kiosk's {ENCODER_VERSION!r}; re-enroll from photos instead")
    try:
        return decode_template(base64.b64decode(item["encoding"], validate=True))
    except (KeyError, ValueError) as e:
        raise EnrollInputError(f"{where}: bad encoding ({e})") from None


def import_templates(store: Store, path: Path, nip_pattern: str, actor: str = "cli") -> tuple[int, int, int]:
    """Returns (employees, templates added, look-alike hold photos added); what is already
    present is skipped."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EnrollInputError(f"{path}: file not found") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise EnrollInputError(f"{path}: not a template export (invalid JSON: {e})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise EnrollInputError(f"{path}: not a template export (format is not {FORMAT!r})")
    if doc.get("version") != VERSION:
        raise EnrollInputError(f"{path}: export version {doc.get('version')!r} is not supported (expected {VERSION})")
    people, templates = [], []
    for i, p in enumerate(doc.get("employees", [])):
        nip = str(p.get("nip", ""))
        problem = check_nip(nip, nip_pattern)
        if problem:
            raise EnrollInputError(f"{path}: employees[{i}]: {problem}")
        people.append({"nip": nip, "name": p.get("name", ""), "unit": p.get("unit", ""),
                       "active": int(p.get("active", 1))})
        for j, t in enumerate(p.get("templates", [])):
            enc = _encoding(t, f"{path}: employee {nip}, templates[{j}]")
            templates.append(TemplateRow(nip, enc, t.get("quality"), f"import:{path.name}", ENCODER_VERSION))
    holds = []
    for j, h in enumerate(doc.get("holds") or []):
        where = f"{path}: holds[{j}]"
        if not isinstance(h, dict):
            raise EnrollInputError(f"{where}: not an object")
        for key in ("nip", "resembles"):
            problem = check_nip(str(h.get(key, "")), nip_pattern)
            if problem:
                raise EnrollInputError(f"{where}: {key}: {problem}")
        holds.append((str(h["nip"]), str(h["resembles"]), _encoding(h, where), f"import:{path.name}"))
    existing = {(r["nip"], bytes(r["encoding"])) for r in store.template_rows()}
    new = [t for t in templates if (t.nip, t.encoding.astype("<f4").tobytes()) not in existing]
    with store.transaction(f"import {path}") as db:
        store.upsert_employees(people, db=db)
        store.add_templates(new, db)
        held = store.add_holds(holds, ENCODER_VERSION, db)
        store.audit("import_templates", {"file": str(path), "employees": len(people), "templates": len(new),
                                         "skipped": len(templates) - len(new), "holds": held}, actor, db=db)
    return len(people), len(new), held
