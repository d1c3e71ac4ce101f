"""PPTX: one Section per slide, page = slide number, heading = slide title."""

import zipfile
from pathlib import Path

import pptx
import pytest
from pptx.util import Inches

from appliance.documents import Section, UnreadableDocument, read_document
from tests.corpus import make_pptx


def test_slides_become_sections_with_titles_and_notes(tmp_path: Path) -> None:
    path = make_pptx(
        tmp_path / "deck.pptx",
        [("Welcome", "First point\nSecond point"), ("", "No title here"), ("Questions?", "")],
        notes={1: "Say hello to everyone."},
    )
    assert read_document(path) == [
        Section(
            text="First point\nSecond point\n\nSay hello to everyone.", page=1, heading="Welcome"
        ),
        Section(text="No title here", page=2, heading=""),
        Section(text="Questions?", page=3, heading="Questions?"),
    ]


def test_tables_groups_and_text_boxes_are_read(tmp_path: Path) -> None:
    presentation = pptx.Presentation()
    slide = presentation.slides.add_slide(presentation.slide_layouts[5])  # "Title Only"
    slide.shapes.title.text = "Grades"
    table = slide.shapes.add_table(2, 2, Inches(1), Inches(2), Inches(4), Inches(1)).table
    for row, values in enumerate([("Grade", "Days"), ("A", "25")]):
        for column, value in enumerate(values):
            table.cell(row, column).text = value
    group = slide.shapes.add_group_shape()
    box = group.shapes.add_textbox(Inches(1), Inches(4), Inches(3), Inches(1))
    box.text_frame.text = "Grouped remark"
    soft_break = slide.shapes.add_textbox(Inches(1), Inches(5), Inches(3), Inches(1))
    soft_break.text_frame.paragraphs[0].add_run().text = "before"
    soft_break.text_frame.paragraphs[0].add_line_break()
    soft_break.text_frame.paragraphs[0].add_run().text = "after"
    empty = presentation.slides.add_slide(presentation.slide_layouts[6])  # "Blank"
    assert empty is not None
    path = tmp_path / "tables.pptx"
    presentation.save(str(path))

    assert read_document(path) == [
        Section(
            text="Grade | Days\nA | 25\n\nGrouped remark\n\nbefore\nafter", page=1, heading="Grades"
        )
    ]


def test_corrupt_pptx_is_unreadable_and_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "talk.pptx"
    path.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(UnreadableDocument, match=r"^talk\.pptx could not be read as PPTX: .+"):
        read_document(path)


def test_zip_that_is_not_a_presentation_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "fake.pptx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", "hi")
    with pytest.raises(UnreadableDocument, match=r"^fake\.pptx could not be read as PPTX: .+"):
        read_document(path)


def test_password_protected_pptx_says_so(tmp_path: Path) -> None:
    path = tmp_path / "board.pptx"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504)
    with pytest.raises(UnreadableDocument, match=r"^board\.pptx .*password-protected"):
        read_document(path)
