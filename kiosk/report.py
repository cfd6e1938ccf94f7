"""Reports HR prints at the kiosk: the daily list and the monthly recap, per employee and per
unit, as CSV or as XLSX laid out for printing.

The computation is the shared attendance package's (attendance.recap: the same code the
collector server uses), in the device's local time; this module adds the kiosk's XLSX.
"""

from __future__ import annotations

import io

from attendance.csvfile import csv_cell, to_csv  # noqa: F401 (the kiosk's report API)
from attendance.recap import (DAILY_COLUMNS, MONTHLY_COLUMNS, STATUS_ID, UNIT_COLUMNS,  # noqa: F401
                              EmployeeDay, compute_days, daily_rows, month_bounds, monthly_rows)


def to_xlsx(sheets: list[tuple[str, str, list[dict], list[tuple[str, int]]]], footer: str) -> bytes:
    """One workbook; each sheet (name, title, rows, columns) with a title, bold frozen header,
    filters, column widths, and landscape fit-to-width printing."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    wb.remove(wb.active)
    for name, title, rows, columns in sheets:
        ws = wb.create_sheet(name)
        ws.append([title])
        ws["A1"].font = Font(bold=True, size=14)
        ws.append([footer])
        ws.append([])
        ws.append([c.replace("_", " ") for c, _ in columns])
        header_row = ws.max_row
        for i, (_, width) in enumerate(columns, start=1):
            cell = ws.cell(row=header_row, column=i)
            cell.font = Font(bold=True, color="FFFFFF")
            cell.fill = PatternFill("solid", fgColor="1F4E78")
            cell.alignment = Alignment(wrap_text=True, vertical="center")
            ws.column_dimensions[get_column_letter(i)].width = width
        for row in rows:
            ws.append([row[c] for c, _ in columns])
            for cell in ws[ws.max_row]:
                if cell.data_type == "f":  # openpyxl made a formula of text starting with "="
                    cell.data_type = "s"
        ws.freeze_panes = ws.cell(row=header_row + 1, column=1)
        ws.auto_filter.ref = f"A{header_row}:{get_column_letter(len(columns))}{max(header_row, ws.max_row)}"
        ws.print_title_rows = f"{header_row}:{header_row}"
        ws.page_setup.orientation = "landscape"
        ws.page_setup.paperSize = ws.PAPERSIZE_A4
        ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
        ws.sheet_properties.pageSetUpPr.fitToPage = True
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
