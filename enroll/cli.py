"""`kiosk enroll` and `kiosk templates ...`: thin commands over enroll.batch and enroll.templates."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from enroll.batch import Forced, enroll_photos, progress_bar
from enroll.photos import EnrollInputError, read_roster, scan_folder
from enroll.templates import export_templates, import_templates


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("enroll", help="enroll employees from a folder <root>/<NIP>/*.jpg|png",
                       description="Enroll employees from photos: one folder per NIP, several photos each. "
                       "Exit status: 0 every employee of the folder enrolled (refused photos are listed), "
                       "1 someone not enrolled (or nothing written: a database error), 2 bad input.")
    p.add_argument("root", type=Path, help="folder holding one sub-folder per NIP")
    p.add_argument("--roster", type=Path, help="CSV with columns NIP,name[,unit][,schedule] (',' or ';')")
    p.add_argument("--force", action="append", default=[], metavar="PHOTO_OR_NIP",
                   help="store this photo (or every photo of this employee) even when its face matches a "
                   "different employee; repeat for several")
    p.add_argument("--replace", action="store_true",
                   help="replace the employees' existing templates instead of adding to them")
    p.add_argument("--workers", type=int, default=None, help="processes to use (default: all cores)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_enroll)

    t = sub.add_parser("templates", help="list, remove, export or import face templates")
    tsub = t.add_subparsers(dest="action", required=True)
    tl = tsub.add_parser("list", help="employees and how many templates each has")
    tl.add_argument("--json", action="store_true")
    tl.set_defaults(func=cmd_list)
    tr = tsub.add_parser("remove", help="remove every template of one employee")
    tr.add_argument("nip")
    tr.set_defaults(func=cmd_remove)
    th = tsub.add_parser("holds", help="look-alike holds: people refused as another employee's duplicate")
    th.add_argument("--json", action="store_true")
    th.set_defaults(func=cmd_holds)
    tu = tsub.add_parser("unhold", help="remove the look-alike hold of one person (they were the same person "
                         "as the employee they resemble, or will not be enrolled)")
    tu.add_argument("nip")
    tu.set_defaults(func=cmd_unhold)
    te = tsub.add_parser("export", help="write all templates to a file (personal data: mode 0600)")
    te.add_argument("file", type=Path)
    te.set_defaults(func=cmd_export)
    ti = tsub.add_parser("import", help="add templates from an export file")
    ti.add_argument("file", type=Path)
    ti.set_defaults(func=cmd_import)


def cmd_enroll(args, cfg, open_store) -> int:
    photos = scan_folder(args.root, cfg.enroll.nip_pattern)
    roster = (read_roster(args.roster, cfg.enroll.nip_pattern, set(cfg.values["schedules"]))
              if args.roster else None)
    forced = Forced(args.force, args.root)
    unknown = forced.unknown(photos)
    if unknown:
        raise EnrollInputError(f"--force {unknown[0]}: no such photo, and no employee folder {unknown[0]} "
                               f"in {args.root}")
    with open_store() as store:
        report = enroll_photos(store, photos, cfg, roster=roster, force=forced, replace=args.replace,
                               workers=args.workers, progress=progress_bar())
    if args.json:
        print(json.dumps({"enrolled": report.enrolled, "not_enrolled": report.not_enrolled, "held": report.held,
                          "warnings": report.warnings, "not_stored": report.not_stored,
                          "notes": [{"item": i, "note": n} for i, n in report.notes],
                          "refused": [{"item": i, "reason": r} for i, r in report.refused]}, indent=1))
    else:
        n = sum(report.enrolled.values())
        print(f"enrolled {len(report.enrolled)} employee(s) with {n} template(s)")
        if report.refused:
            print(f"refused {len(report.refused)}:")
            for item, reason in report.refused:
                print(f"  {item}: {reason}")
        for item, note in report.notes:
            print(f"note: {item}: {note}")
        for w in report.warnings:
            print(f"warning: {w}")
        if report.not_enrolled:
            print(f"NOT ENROLLED ({len(report.not_enrolled)}): {', '.join(report.not_enrolled)}")
        else:
            print("every employee of the folder is enrolled")
    return 0 if report.ok else 1


def _listing(args, rows: list[dict], line, what: str) -> int:
    """Rows as JSON (--json) or one `line(row)` each, and their count on stderr."""
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
    else:
        for r in rows:
            print(line(r))
        print(f"{len(rows)} {what}", file=sys.stderr)
    return 0


def cmd_list(args, cfg, open_store) -> int:
    with open_store(create=False) as store:
        rows = store.employees()
    return _listing(args, rows, lambda r: f"{r['nip']}  {r['templates']:3d} template(s)  {r['name']}  {r['unit']}"
                    + ("" if r["active"] else "  (inactive)"), "employee(s)")


def cmd_remove(args, cfg, open_store) -> int:
    with open_store(create=False) as store:
        if store.employee(args.nip) is None:
            raise EnrollInputError(f"employee {args.nip} is not in the database")
        n = store.remove_templates(args.nip, actor="cli")
    print(f"removed {n} template(s) of {args.nip}")
    return 0


def cmd_holds(args, cfg, open_store) -> int:
    with open_store(create=False) as store:
        rows = store.hold_rows()
    return _listing(args, rows, lambda r: f"{r['nip']}  {r['photos']:3d} photo(s)  looks like {r['resembles']}  "
                    f"since {r['since']}  ({'in force' if r['in_force'] else 'not used: enrolled since'})",
                    "look-alike hold(s)")


def cmd_unhold(args, cfg, open_store) -> int:
    with open_store(create=False) as store:
        with store.transaction(f"remove the look-alike hold of {args.nip}") as db:
            n = store.remove_holds([args.nip], db)
            if not n:
                raise EnrollInputError(f"{args.nip} has no look-alike hold ('kiosk templates holds' lists them)")
            store.audit("remove_hold", {"nip": args.nip, "photos": n}, "cli", db=db)
    print(f"removed the look-alike hold of {args.nip} ({n} photo(s))")
    return 0


def cmd_export(args, cfg, open_store) -> int:
    with open_store(create=False) as store:
        n = export_templates(store, args.file)
    print(f"exported {n} template(s) to {args.file} (personal data: keep it safe)")
    return 0


def cmd_import(args, cfg, open_store) -> int:
    with open_store() as store:
        people, n, held = import_templates(store, args.file, cfg.enroll.nip_pattern)
    print(f"imported {n} new template(s) for {people} employee(s)"
          + (f", and {held} look-alike hold photo(s)" if held else ""))
    return 0
