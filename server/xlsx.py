"""The monthly recap as the BKPSDM form HR prints and signs: one sheet per unit (and, for the
regency, a first sheet with one line per unit), a title with the government, the unit and the
month in Indonesian, grouped headers (TL1-4, PSW1-4, C/S/I/DL), a key to the codes, the
signature block ("Mengetahui, <title>, <name>, NIP. <nip>") and page numbers, landscape and
fitted to the page width, the header repeated on every printed page."""

from __future__ import annotations

import datetime as dt
import io
import re
from copy import copy

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from server.format import bulan, persen, tanggal
from server.gcpause import gc_paused
from server.monthly import Recap

THIN = Side(style="thin", color="000000")
BOX = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
HEAD = PatternFill("solid", fgColor="D9E1F2")
CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)
BANDS = ("TL1", "TL2", "TL3", "TL4", "PSW1", "PSW2", "PSW3", "PSW4")
NAME_CHARS, JOB_CHARS = 26, 32  # characters of a line in the name and jabatan columns


def _cell(ws: Worksheet, row: int, col: int, value, **style):
    c = ws.cell(row=row, column=col, value=value)
    if c.data_type == "f":  # text starting with "=" (a name, a unit) stays text, never a formula
        c.data_type = "s"
    for k, v in style.items():
        if v is not None:
            setattr(c, k, v)
    return c


def _table(ws: Worksheet, row: int, rows: list[list], styles: list[dict]) -> int:
    """Write `rows` from `row` on, column i styled by styles[i]. The styles are set once, on the
    first row, and copied to the others (setting them cell by cell costs openpyxl seconds for a
    regency); values are written as text where a spreadsheet would read a formula."""
    first = None
    for values in rows:
        cells = []
        for col, value in enumerate(values, start=1):
            c = ws.cell(row=row, column=col, value=value)
            if c.data_type == "f":
                c.data_type = "s"
            cells.append(c)
        if first is None:
            for c, style in zip(cells, styles):
                for k, v in style.items():
                    setattr(c, k, v)
            first = [c._style for c in cells]
        else:
            for c, style in zip(cells, first):
                c._style = copy(style)
        row += 1
    return row


def _sheet_name(unit: str, taken: set[str]) -> str:
    base = re.sub(r"[\[\]:*?/\\']", " ", unit).strip()[:28] or "Unit"
    name, n = base, 2
    while name.lower() in taken:
        name, n = f"{base[:25]} ({n})", n + 1
    taken.add(name.lower())
    return name


def _layout(ws: Worksheet, widths: list[float], header_rows: str) -> None:
    for i, w in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = w
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = header_rows
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.oddFooter.center.text = "Halaman &P dari &N"
    ws.evenFooter.center.text = "Halaman &P dari &N"


def _title(ws: Worksheet, lines: list[str], width: int) -> int:
    for i, text in enumerate(lines, start=1):
        _cell(ws, i, 1, text, font=Font(bold=i <= 2, size=13 if i == 1 else 11), alignment=Alignment(horizontal="center"))
        ws.merge_cells(start_row=i, start_column=1, end_row=i, end_column=width)
    return len(lines) + 2


def _group_header(ws: Worksheet, row: int, groups: list[tuple[str, list[str]]]) -> int:
    """Two header rows: a group's name over its columns, single columns merged down."""
    col = 1
    for name, subs in groups:
        if subs:
            _cell(ws, row, col, name, font=Font(bold=True), alignment=CENTER, fill=HEAD, border=BOX)
            ws.merge_cells(start_row=row, start_column=col, end_row=row, end_column=col + len(subs) - 1)
            for i, s in enumerate(subs):
                _cell(ws, row + 1, col + i, s, font=Font(bold=True), alignment=CENTER, fill=HEAD, border=BOX)
            for i in range(1, len(subs)):
                ws.cell(row=row, column=col + i).border = BOX
            col += len(subs)
        else:
            _cell(ws, row, col, name, font=Font(bold=True), alignment=CENTER, fill=HEAD, border=BOX)
            ws.cell(row=row + 1, column=col).border = BOX
            ws.merge_cells(start_row=row, start_column=col, end_row=row + 1, end_column=col)
            col += 1
    ws.row_dimensions[row].height = 30
    return row + 2


def _signature(ws: Worksheet, row: int, width: int, place_date: str, signer: tuple[str, str, str]) -> int:
    title, name, nip = signer
    col = max(1, width - 5)
    lines = [(place_date, Font()), ("Mengetahui,", Font()), (title, Font()), ("", Font()), ("", Font()), ("", Font()),
             (name or "(" + "." * 40 + ")", Font(bold=True, underline="single" if name else None)),
             (f"NIP. {nip}" if nip else "NIP. " + "." * 30, Font())]
    for i, (text, font) in enumerate(lines):
        _cell(ws, row + i, col, text, font=font, alignment=Alignment(horizontal="center"))
        ws.merge_cells(start_row=row + i, start_column=col, end_row=row + i, end_column=width)
    return row + len(lines)


def _key(ws: Worksheet, row: int, width: int, columns: tuple[str, ...], labels: dict, rules: dict) -> int:
    tl, psw = rules["tl_bands"], rules["psw_bands"]
    texts = [
        f"Keterangan: TL = terlambat masuk (TL1 1-{tl[0]} menit, TL2 {tl[0] + 1}-{tl[1]}, TL3 {tl[1] + 1}-{tl[2]}, "
        f"TL4 lebih dari {tl[2]} menit atau tidak absen masuk); PSW = pulang sebelum waktu (PSW1 1-{psw[0]} menit, "
        f"PSW2 {psw[0] + 1}-{psw[1]}, PSW3 {psw[1] + 1}-{psw[2]}, PSW4 lebih dari {psw[2]} menit atau tidak absen "
        "pulang).",
        "; ".join(f"{c} = {labels.get(c, c)}" for c in columns) + "; alpha = tidak hadir tanpa keterangan.",
        f"Potongan TPP per hari: TL1-4 {', '.join(persen(x) for x in rules['cut_tl'])} %; PSW1-4 "
        f"{', '.join(persen(x) for x in rules['cut_psw'])} %; alpha {persen(rules['cut_alpha'])} %. "
        "Hari dikoreksi: ada koreksi absen yang disetujui (lihat log koreksi).",
    ]
    for i, text in enumerate(texts):
        _cell(ws, row + i, 1, text, font=Font(size=9), alignment=Alignment(wrap_text=True, vertical="top"))
        ws.merge_cells(start_row=row + i, start_column=1, end_row=row + i, end_column=width)
        ws.row_dimensions[row + i].height = 26
    return row + len(texts)


def _employee_sheet(ws: Worksheet, r: Recap, unit: str, rows: list[dict], settings, today: dt.date) -> None:
    columns = r.columns
    groups = [("No.", []), ("NIP", []), ("Nama", []), ("Jabatan / Golongan", []), ("Hari kerja", []), ("Hadir", []),
              ("Terlambat (TL)", list(BANDS[:4])), ("Pulang sebelum waktu (PSW)", list(BANDS[4:])),
              ("Cuti / izin", list(columns)), ("Alpha", []), ("Potongan (%)", []), ("Hari dikoreksi", [])]
    width = 6 + 8 + len(columns) + 3
    region = settings.collector["region"]
    closed = f" (periode ditutup {tanggal(r.closed_at.date())})" if r.closed_at else ""
    row = _title(ws, ["REKAPITULASI KEHADIRAN PEGAWAI", region.upper(), f"Unit kerja: {unit}",
                      f"Bulan: {bulan(r.month)}{closed}"], width)
    first_header = row
    row = _group_header(ws, row, groups)
    text, wrapped = Alignment(horizontal="left"), Alignment(horizontal="left", wrap_text=True)
    number = Alignment(horizontal="center")
    styles = [{"border": BOX, "alignment": wrapped if col in (3, 4) else text if col == 2 else number}
              for col in range(1, width + 1)]
    styles[width - 2]["number_format"] = "0.00"
    values = [[n, e["nip"], e["nama"], " / ".join(x for x in (e.get("jabatan"), e.get("golongan")) if x),
               e["hari_kerja"], e["hadir"], *(e[b] for b in BANDS), *(e.get(c, 0) for c in columns),
               e["alpha"], e["potongan_persen"], e["hari_dikoreksi"] or ""] for n, e in enumerate(rows, start=1)]
    first_data = row
    row = _table(ws, row, values, styles)
    for i, v in enumerate(values):  # wrapped names and positions: a taller row (spreadsheets do not grow it)
        lines = max(-(-len(str(v[2])) // NAME_CHARS), -(-len(str(v[3])) // JOB_CHARS), 1)
        if lines > 1:
            ws.row_dimensions[first_data + i].height = 13 * lines
    if not rows:
        _cell(ws, row, 1, "Tidak ada pegawai.", border=BOX)
        ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=width)
        row += 1
    row = _key(ws, row + 1, width, columns, settings.rules.values["leave"]["columns"],
               settings.rules.values["attendance"]) + 1
    city = settings.collector["city"]
    _signature(ws, row, width, f"{city + ', ' if city else ''}{tanggal(today)}", settings.signer(unit))
    _layout(ws, [5, 21, NAME_CHARS + 2, JOB_CHARS + 2, 7, 7] + [5.5] * 8 + [5] * len(columns) + [7, 9, 9],
            f"{first_header}:{first_header + 1}")
    ws.freeze_panes = ws.cell(row=first_header + 2, column=4)


def _unit_sheet(ws: Worksheet, r: Recap, settings, today: dt.date) -> None:
    columns = r.columns
    groups = [("No.", []), ("Unit kerja", []), ("Pegawai", []), ("Hari kerja (jumlah)", []), ("Hadir", []),
              ("Terlambat (TL)", list(BANDS[:4])), ("Pulang sebelum waktu (PSW)", list(BANDS[4:])),
              ("Cuti / izin", list(columns)), ("Alpha", []), ("Rata-rata potongan (%)", []), ("Hari dikoreksi", [])]
    width = 5 + 8 + len(columns) + 3
    closed = f" (periode ditutup {tanggal(r.closed_at.date())})" if r.closed_at else ""
    row = _title(ws, ["REKAPITULASI KEHADIRAN PEGAWAI PER UNIT KERJA", settings.collector["region"].upper(),
                      f"Bulan: {bulan(r.month)}{closed}"], width)
    first_header = row
    row = _group_header(ws, row, groups)
    totals = {k: sum(u.get(k, 0) for u in r.units)
              for k in ("pegawai", "hari_kerja", "hadir", "alpha", "hari_dikoreksi", *BANDS, *columns)}
    styles = [{"border": BOX, "alignment": Alignment(horizontal="left" if col == 2 else "center")}
              for col in range(1, width + 1)]
    row = _table(ws, row, [[n, u["unit"], u["pegawai"], u["hari_kerja"], u["hadir"], *(u[b] for b in BANDS),
                            *(u.get(c, 0) for c in columns), u["alpha"], u["potongan_rata_rata_persen"],
                            u["hari_dikoreksi"]] for n, u in enumerate(r.units, start=1)], styles)
    cut = round(sum(e["potongan_persen"] for e in r.employees) / len(r.employees), 2) if r.employees else 0.0
    values = ["", "Jumlah", totals["pegawai"], totals["hari_kerja"], totals["hadir"], *(totals[b] for b in BANDS),
              *(totals[c] for c in columns), totals["alpha"], cut, totals["hari_dikoreksi"]]
    for col, value in enumerate(values, start=1):
        _cell(ws, row, col, value, border=BOX, font=Font(bold=True), alignment=CENTER if col != 2 else None)
    row = _key(ws, row + 2, width, columns, settings.rules.values["leave"]["columns"],
               settings.rules.values["attendance"]) + 1
    city = settings.collector["city"]
    _signature(ws, row, width, f"{city + ', ' if city else ''}{tanggal(today)}", settings.signer(None))
    _layout(ws, [5, 32, 9, 10, 8] + [5.5] * 8 + [5] * len(columns) + [7, 10, 9], f"{first_header}:{first_header + 1}")
    ws.freeze_panes = ws.cell(row=first_header + 2, column=3)


@gc_paused()
def recap_xlsx(r: Recap, settings, today: dt.date) -> bytes:
    """The workbook of a recap: for one unit its sheet; for several (the regency) the per-unit
    sheet first, then each unit's."""
    wb = Workbook()
    wb.remove(wb.active)
    taken: set[str] = set()
    by_unit: dict[str, list[dict]] = {}
    for e in r.employees:
        by_unit.setdefault(e["unit"], []).append(e)
    units = sorted(by_unit) if r.units_asked is None else list(r.units_asked)
    if len(units) != 1:
        taken.add("rekap unit")
        _unit_sheet(wb.create_sheet("Rekap unit"), r, settings, today)
    for unit in units:
        _employee_sheet(wb.create_sheet(_sheet_name(unit, taken)), r, unit, by_unit.get(unit, []), settings, today)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
