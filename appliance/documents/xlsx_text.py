"""XLSX to Sections with openpyxl: each sheet is a table of "column: value" rows."""

from __future__ import annotations

from pathlib import Path

import openpyxl

from appliance.documents.model import Section
from appliance.documents.tabular import table_sections


def xlsx_sections(path: Path) -> list[Section]:
    # read_only streams rows instead of building every cell; data_only gives the values
    # Excel last calculated, since a formula's text means little to someone asking.
    workbook = openpyxl.load_workbook(path, read_only=True, data_only=True, keep_links=False)
    try:
        sections: list[Section] = []
        for sheet in workbook.worksheets:
            # Some generators write a wrong used-range; without it every row is read.
            sheet.reset_dimensions()
            rows = enumerate(sheet.iter_rows(values_only=True), start=1)
            sections.extend(table_sections(rows, sheet.title))
        return sections
    finally:
        workbook.close()
