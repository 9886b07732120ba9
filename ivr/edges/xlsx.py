"""XlsxWriter: the only module that writes Excel workbooks.

``workbook(title, header, rows)`` is one sheet as the bytes of an ``.xlsx`` file: the header
row bold and frozen, cells that are whole numbers or decimals written as numbers (so Excel can
sum and sort them), every other cell as text ("-" for a rate that has no denominator stays
text). XLSX stores text as UTF-8 XML, so Excel on a Chinese Windows shows the names as they
are, with no byte-order mark or code page to guess. A failure of the library is a
``SpreadsheetError``. It runs in memory and blocks for the few milliseconds a report takes:
call it through ``asyncio.to_thread`` on the event loop's side.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence

import xlsxwriter
import xlsxwriter.exceptions

from ivr.errors import SpreadsheetError

_NUMBER = re.compile(r"-?\d{1,15}(\.\d{1,6})?")
_SHEET_NAME_MAX = 31  # Excel's limit
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")


def workbook(title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> bytes:
    """One sheet named ``title`` (cut to Excel's 31 characters), ``header`` then ``rows``."""
    out = io.BytesIO()
    name = _SHEET_FORBIDDEN.sub(" ", title).strip()[:_SHEET_NAME_MAX] or "Sheet1"
    try:
        book = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_numbers": False})
        sheet = book.add_worksheet(name)
        bold = book.add_format({"bold": True, "text_wrap": True, "valign": "top"})
        widths = [len(h) for h in header]
        for col, text in enumerate(header):
            sheet.write_string(0, col, text, bold)
        for r, row in enumerate(rows, start=1):
            for col, cell in enumerate(row):
                if _NUMBER.fullmatch(cell):
                    sheet.write_number(r, col, float(cell) if "." in cell else int(cell))
                else:
                    sheet.write_string(r, col, cell)
                if col < len(widths):
                    widths[col] = max(widths[col], len(cell))
        for col, width in enumerate(widths):
            # CJK characters are about two columns wide.
            sheet.set_column(col, col, min(60, max(8, width * 1.6)))
        sheet.freeze_panes(1, 0)
        book.close()
    except (xlsxwriter.exceptions.XlsxWriterException, ValueError, OSError) as exc:
        raise SpreadsheetError(f"cannot write the workbook: {exc}") from exc
    return out.getvalue()
