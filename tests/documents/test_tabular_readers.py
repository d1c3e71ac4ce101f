"""CSV and XLSX: rows become "column: value" lines, grouped into Sections of ROWS_PER_SECTION."""

import csv
import datetime as dt
import zipfile
from pathlib import Path

import openpyxl
import pytest

from appliance.documents import Section, UnreadableDocument, read_document
from appliance.documents.tabular import ROWS_PER_SECTION
from tests.corpus import make_xlsx, write_text

# --- csv --------------------------------------------------------------------


def test_csv_rows_become_named_fields_under_the_file_stem(tmp_path: Path) -> None:
    path = write_text(
        tmp_path / "staff.csv",
        'name,room,note\nAda,101,"likes tea, not coffee"\n\nBob,,"two\nlines"\n',
    )
    assert read_document(path) == [
        Section(
            text="name: Ada; room: 101; note: likes tea, not coffee\nname: Bob; note: two lines",
            page=None,
            heading="staff > rows 2–4",
        )
    ]


def test_csv_dialect_is_sniffed(tmp_path: Path) -> None:
    path = write_text(tmp_path / "eu.csv", "Artikel;Preis\nKaffee;2,50\nTee;1,80\n")
    assert read_document(path)[0].text == "Artikel: Kaffee; Preis: 2,50\nArtikel: Tee; Preis: 1,80"


def test_csv_tab_separated_with_missing_and_extra_columns(tmp_path: Path) -> None:
    path = write_text(tmp_path / "t.csv", "a\t\tc\n1\t2\t3\t4\n")
    assert read_document(path)[0].text == "a: 1; column 2: 2; c: 3; column 4: 4"


def test_big_csv_is_split_into_sections_of_fifty_rows(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["id", "city"])
        for n in range(1, 2 * ROWS_PER_SECTION + 6):
            writer.writerow([n, f"city{n}"])
    sections = read_document(path)
    assert [s.heading for s in sections] == [
        "big > rows 2–51",
        "big > rows 52–101",
        "big > rows 102–106",
    ]
    assert sections[0].text.splitlines()[0] == "id: 1; city: city1"
    assert len(sections[1].text.splitlines()) == ROWS_PER_SECTION
    assert sections[2].text.splitlines()[-1] == "id: 105; city: city105"


def test_csv_in_cp1252_and_utf16_decodes(tmp_path: Path) -> None:
    text = "item,price\nCafé “crème”,€3\n"
    (tmp_path / "ansi.csv").write_bytes(text.encode("cp1252"))
    (tmp_path / "unicode.csv").write_bytes(text.encode("utf-16"))
    for name in ("ansi.csv", "unicode.csv"):
        assert read_document(tmp_path / name)[0].text == "item: Café “crème”; price: €3"


def test_csv_with_only_a_header_has_no_sections(tmp_path: Path) -> None:
    assert read_document(write_text(tmp_path / "head.csv", "a,b,c\n")) == []


def test_binary_csv_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "dump.csv"
    path.write_bytes(b"a,b\n\x00\x01\x02\x03binary")
    with pytest.raises(UnreadableDocument, match=r"^dump\.csv looks like binary data, not text"):
        read_document(path)


# --- xlsx -------------------------------------------------------------------


def test_xlsx_sheets_become_sections_headed_by_sheet_and_rows(tmp_path: Path) -> None:
    path = make_xlsx(
        tmp_path / "book.xlsx",
        {
            "Staff": [
                ["Name", "Start", "Days", "Remote"],
                ["Ada", dt.datetime(2024, 3, 1), 25.0, True],
                [None, None, None, None],
                ["Bob", dt.datetime(2023, 1, 2, 9, 30), 20.5, False],
            ],
            "Empty": [],
            "Rooms": [[None], ["Room", None, "Seats"], ["101", None, 4]],
        },
    )
    assert read_document(path) == [
        Section(
            text="Name: Ada; Start: 2024-03-01; Days: 25; Remote: TRUE\n"
            "Name: Bob; Start: 2023-01-02 09:30:00; Days: 20.5; Remote: FALSE",
            page=None,
            heading="Staff > rows 2–4",
        ),
        Section(text="Room: 101; Seats: 4", page=None, heading="Rooms > row 3"),
    ]


def test_xlsx_formulas_give_their_cached_values_not_their_text(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["a", "b", "sum"])
    sheet.append([1, 2, "=A2+B2"])
    path = tmp_path / "calc.xlsx"
    workbook.save(path)
    # openpyxl stores no calculated value, so a reader of cached values sees an empty cell.
    assert read_document(path)[0].text == "a: 1; b: 2"


def test_big_sheet_is_split_into_sections(tmp_path: Path) -> None:
    rows = [["n"], *([n] for n in range(1, ROWS_PER_SECTION + 2))]
    sections = read_document(make_xlsx(tmp_path / "n.xlsx", {"Numbers": rows}))
    assert [s.heading for s in sections] == ["Numbers > rows 2–51", "Numbers > row 52"]


def test_corrupt_xlsx_is_unreadable_and_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "budget.xlsx"
    path.write_bytes(b"this is not a spreadsheet")
    with pytest.raises(UnreadableDocument, match=r"^budget\.xlsx could not be read as XLSX: .+"):
        read_document(path)


def test_zip_that_is_not_a_workbook_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "fake.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", "hi")
    with pytest.raises(UnreadableDocument, match=r"^fake\.xlsx could not be read as XLSX: .+"):
        read_document(path)


def test_password_protected_xlsx_says_so(tmp_path: Path) -> None:
    # An encrypted OOXML file is an OLE compound file; its signature is all that is checked.
    path = tmp_path / "salaries.xlsx"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504)
    with pytest.raises(UnreadableDocument, match=r"^salaries\.xlsx .*password-protected"):
        read_document(path)
