from pathlib import Path

import docx
import pytest

from appliance.documents import (
    READERS,
    SUPPORTED_SUFFIXES,
    Section,
    UnreadableDocument,
    UnsupportedFormat,
    read_document,
)
from tests.corpus import (
    make_docx,
    make_password_protected_pdf,
    make_pdf,
    make_pdf_from_content,
    write_text,
)


def test_registry_covers_every_supported_suffix() -> None:
    assert SUPPORTED_SUFFIXES == {
        ".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx",
        ".csv", ".json", ".jsonl", ".ndjson", ".xlsx", ".pptx",
        ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp",
    }  # fmt: skip
    assert set(READERS) == SUPPORTED_SUFFIXES


# --- plain text -------------------------------------------------------------


def test_txt_is_one_section_without_heading(tmp_path: Path) -> None:
    path = write_text(tmp_path / "notes.txt", "First line.\nSecond line.\n")
    assert read_document(path) == [Section(text="First line.\nSecond line.", page=None, heading="")]


def test_txt_with_utf8_bom_drops_the_bom(tmp_path: Path) -> None:
    path = tmp_path / "bom.txt"
    path.write_bytes(b"\xef\xbb\xbfCaf\xc3\xa9 menu")
    assert read_document(path)[0].text == "Café menu"


def test_txt_that_is_not_utf8_falls_back_to_a_legacy_encoding(tmp_path: Path) -> None:
    path = tmp_path / "legacy.txt"
    path.write_bytes("Ångström naïve café “quoted”".encode("cp1252"))
    assert read_document(path)[0].text == "Ångström naïve café “quoted”"


def test_txt_with_bytes_undefined_in_cp1252_uses_latin1(tmp_path: Path) -> None:
    path = tmp_path / "latin.txt"
    path.write_bytes(b"caf\xe9 \x81 end")
    assert read_document(path)[0].text == "café \x81 end"


def test_txt_with_only_whitespace_returns_no_sections(tmp_path: Path) -> None:
    assert read_document(write_text(tmp_path / "blank.txt", "  \n\t\n")) == []


def test_suffix_is_matched_case_insensitively(tmp_path: Path) -> None:
    assert read_document(write_text(tmp_path / "LOUD.TXT", "hello"))[0].text == "hello"


# --- markdown ---------------------------------------------------------------


def test_markdown_headings_build_a_nested_path(tmp_path: Path) -> None:
    text = (
        "Preamble text.\n\n"
        "# Leave policy\nGeneral rules.\n\n"
        "## Annual leave\nTwenty-five days, see [the form](http://intranet/form).\n\n"
        "### Carry over ###\nUp to five days.\n\n"
        "## Sick leave\nTell your manager.\n\n"
        "# Expenses\nKeep receipts.\n"
    )
    sections = read_document(write_text(tmp_path / "handbook.md", text))
    assert [(s.heading, s.text) for s in sections] == [
        ("", "Preamble text."),
        ("Leave policy", "General rules."),
        ("Leave policy > Annual leave", "Twenty-five days, see the form."),
        ("Leave policy > Annual leave > Carry over", "Up to five days."),
        ("Leave policy > Sick leave", "Tell your manager."),
        ("Expenses", "Keep receipts."),
    ]
    assert all(s.page is None for s in sections)


def test_markdown_hashes_inside_code_fences_are_not_headings(tmp_path: Path) -> None:
    text = "# Setup\n```bash\n# install the tool\napt install tool\n```\nDone.\n"
    sections = read_document(write_text(tmp_path / "setup.markdown", text))
    assert len(sections) == 1
    assert sections[0].heading == "Setup"
    assert "# install the tool" in sections[0].text
    assert "Done." in sections[0].text


# --- html -------------------------------------------------------------------

_HTML_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Staff Handbook</title>
<style>body { color: red; }</style>
<script>var secret = "do not index";</script>
</head>
<body>
<noscript>Enable JavaScript</noscript>
<h1>Leave <em>policy</em></h1>
<p>Fish &amp; chips&nbsp;on Friday&#33;</p><div>Second</div><div>block</div>
<ul><li>alpha</li><li>beta</li></ul>
<h2>Annual leave</h2>
<p>Line one<br>line two</p>
<table><tr><th>Grade</th><th>Days</th></tr><tr><td>A</td><td>25</td></tr></table>
<h1>Expenses</h1><p>Keep receipts.</p>
</body></html>"""


def test_html_headings_sections_and_no_glued_words(tmp_path: Path) -> None:
    path = tmp_path / "handbook.html"
    path.write_bytes(_HTML_PAGE.encode("utf-8"))
    sections = read_document(path)
    assert [s.heading for s in sections] == [
        "Leave policy",
        "Leave policy > Annual leave",
        "Expenses",
    ]
    words = sections[0].text.split()
    assert "Fish & chips on Friday!" in " ".join(words)
    assert "Second" in words and "block" in words
    assert "alpha" in words and "beta" in words
    assert "Line one\nline two" in sections[1].text
    assert "Grade | Days" in sections[1].text and "A | 25" in sections[1].text
    everything = " ".join(s.text for s in sections)
    for hidden in ("color", "secret", "do not index", "Enable JavaScript", "Staff Handbook"):
        assert hidden not in everything


def test_html_title_heads_the_path_when_there_is_no_h1(tmp_path: Path) -> None:
    page = (
        "<html><head><title>FAQ</title></head><body><p>Intro.</p>"
        "<h2>Wi-Fi</h2><p>Ask reception.</p></body></html>"
    )
    path = tmp_path / "faq.htm"
    path.write_bytes(page.encode())
    assert [(s.heading, s.text) for s in read_document(path)] == [
        ("FAQ", "Intro."),
        ("FAQ > Wi-Fi", "Ask reception."),
    ]


def test_html_uses_the_declared_charset(tmp_path: Path) -> None:
    page = '<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1252">'
    page += "</head><body><p>Caf\xe9 \u201cmenu\u201d</p></body></html>"
    path = tmp_path / "legacy.html"
    path.write_bytes(page.encode("cp1252"))
    assert read_document(path)[0].text == "Café “menu”"


def test_html_with_undecodable_bytes_still_reads(tmp_path: Path) -> None:
    path = tmp_path / "broken.html"
    path.write_bytes(b"<p>ok \xff\xfe text</p>")
    text = read_document(path)[0].text
    assert text.startswith("ok") and text.endswith("text")


# --- pdf --------------------------------------------------------------------


def test_pdf_has_one_section_per_page_with_the_right_words(tmp_path: Path) -> None:
    long_text = " ".join(f"word{n}" for n in range(60))
    path = make_pdf(
        tmp_path / "manual.pdf",
        [
            "Alpha page talks about (brackets) and back\\slash.",
            "Bravo page " + long_text,
            "Charlie page",
        ],
    )
    sections = read_document(path)
    assert [s.page for s in sections] == [1, 2, 3]
    assert all(s.heading == "" for s in sections)
    assert sections[0].text == "Alpha page talks about (brackets) and back\\slash."
    assert sections[1].text.split() == ["Bravo", "page", *long_text.split()]
    assert sections[2].text == "Charlie page"


def test_pdf_pages_are_cut_at_their_outlines_headings_and_kept_under_them(tmp_path: Path) -> None:
    """As in HTML, a passage knows its section: the outline (bookmarks) gives the headings,
    each path led by the document's title (here the first line of its first page)."""
    path = make_pdf(
        tmp_path / "admin.pdf",
        [
            "Appliance Administration\nVersion 2",
            "1 Installing\nRun the installer.\n1.1 On Debian\nUse apt to install it.",
            "It needs 2 GB of disk.\n2 Backups\nCopy the data folder nightly.",
        ],
        outline=[
            (0, "1 Installing", 1, None),
            (1, "On Debian", 1, 2),
            (0, "2 Backups", 2, 1),
        ],
    )
    sections = [(s.page, s.heading, s.text) for s in read_document(path)]
    title = "Appliance Administration"
    assert sections == [
        (1, "", "Appliance Administration\nVersion 2"),
        (2, f"{title} > 1 Installing", "1 Installing\nRun the installer."),
        (2, f"{title} > 1 Installing > On Debian", "1.1 On Debian\nUse apt to install it."),
        (3, f"{title} > 1 Installing > On Debian", "It needs 2 GB of disk."),
        (3, f"{title} > 2 Backups", "2 Backups\nCopy the data folder nightly."),
    ]


def test_pdf_running_heads_and_page_numbers_are_left_out(tmp_path: Path) -> None:
    """A line that begins or ends three pages or more, numbers aside, is the page's running
    head or foot: not part of what any passage says."""
    pages = [f"Chapter 2: Backups {n}\nBody of page {n} about backups.\n{n}" for n in range(1, 5)]
    pages.append("Chapter 2: Backups 5\nA last page of body.")
    sections = read_document(make_pdf(tmp_path / "running.pdf", pages))
    assert [s.text for s in sections] == [
        *(f"Body of page {n} about backups." for n in range(1, 5)),
        "A last page of body.",
    ]
    twice = make_pdf(tmp_path / "twice.pdf", ["Note\nalpha", "Note\nbravo", "charlie"])
    assert [s.text for s in read_document(twice)] == ["Note\nalpha", "Note\nbravo", "charlie"]


def test_pdf_letters_of_one_ligature_glyph_stay_one_word() -> None:
    """TeX sets "fi" of "configure" as one glyph; pdfium gives its two letters the same box,
    which read as a step back (a new table cell) gave "conf igure" everywhere."""
    from appliance.documents.pdf_text import _is_unmarked_gap

    f_letter = (140.28, 146.33, 657.78, 10.0)  # left, right, baseline, font size
    assert not _is_unmarked_gap(f_letter, 140.28, 146.33, 657.78, 10.0)  # its "i"
    assert _is_unmarked_gap(f_letter, 120.0, 125.0, 657.78, 10.0)  # a real step back


def test_pdf_blank_pages_are_skipped_but_numbering_stays_physical(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "gaps.pdf", ["first", "", "third"])
    assert [(s.page, s.text) for s in read_document(path)] == [(1, "first"), (3, "third")]


def test_pdf_without_any_text_returns_no_sections(tmp_path: Path) -> None:
    assert read_document(make_pdf(tmp_path / "scan.pdf", ["", ""])) == []


def test_pdf_table_cells_pdfium_would_glue_are_kept_apart(tmp_path: Path) -> None:
    # The second cell wraps onto a higher baseline and starts left of where the first
    # ended; pdfium's own text joins them ("config::ifupdownstandardized").
    stream = b"BT /F1 10 Tf 50 700 Td (config::ifupdown) Tj 73 6 Td (standardized tool) Tj ET"
    path = make_pdf_from_content(tmp_path / "table.pdf", [stream])
    assert read_document(path)[0].text.split() == ["config::ifupdown", "standardized", "tool"]


def test_corrupt_pdf_is_unreadable_and_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "handbook.pdf"
    path.write_bytes(b"%PDF-1.4\nthis is not really a pdf")
    with pytest.raises(
        UnreadableDocument,
        match=r"^handbook\.pdf could not be read as PDF: it is damaged .* or not a PDF at all; "
        r"export or download it again \(PDFium: data format error\)$",
    ):
        read_document(path)


def test_password_protected_pdf_is_unreadable_with_the_reason(tmp_path: Path) -> None:
    path = make_password_protected_pdf(tmp_path / "locked.pdf")
    with pytest.raises(
        UnreadableDocument,
        match=r"^locked\.pdf could not be read as PDF: it is password-protected; put a copy "
        r"saved without the password in its place \(PDFium: incorrect password error\)$",
    ):
        read_document(path)


# --- docx -------------------------------------------------------------------


def test_docx_heading_styles_build_the_path(tmp_path: Path) -> None:
    path = make_docx(
        tmp_path / "policy.docx",
        [
            ("p", "Before any heading."),
            ("h1", "Leave policy"),
            ("p", "General rules."),
            ("h2", "Annual leave"),
            ("p", "Twenty-five days."),
            ("p", "Ask HR."),
            ("h1", "Expenses"),
            ("p", "Keep receipts."),
        ],
    )
    assert [(s.heading, s.text) for s in read_document(path)] == [
        ("", "Before any heading."),
        ("Leave policy", "General rules."),
        ("Leave policy > Annual leave", "Twenty-five days.\n\nAsk HR."),
        ("Expenses", "Keep receipts."),
    ]


def test_docx_tables_and_title_are_read_in_document_order(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_heading("Handbook", level=0)  # the "Title" style
    document.add_heading("Grades", level=1)
    document.add_paragraph("See the table.")
    table = document.add_table(rows=2, cols=2)
    for row, values in zip(table.rows, [("Grade", "Days"), ("A", "25")], strict=True):
        for cell, value in zip(row.cells, values, strict=True):
            cell.text = value
    document.add_paragraph("After the table.")
    path = tmp_path / "grades.docx"
    document.save(str(path))

    sections = read_document(path)
    assert len(sections) == 1
    assert sections[0].heading == "Handbook > Grades"
    assert sections[0].text == "See the table.\n\nGrade | Days\nA | 25\n\nAfter the table."


def test_corrupt_docx_is_unreadable_and_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "contract.docx"
    path.write_bytes(b"not a zip archive at all")
    with pytest.raises(UnreadableDocument, match=r"^contract\.docx could not be read as DOCX: .+"):
        read_document(path)


# --- dispatch ---------------------------------------------------------------


def test_unknown_suffix_is_unsupported(tmp_path: Path) -> None:
    path = write_text(tmp_path / "sheet.ods", "whatever")
    with pytest.raises(UnsupportedFormat, match=r"sheet\.ods.*\.ods"):
        read_document(path)


def test_missing_file_is_unreadable(tmp_path: Path) -> None:
    with pytest.raises(
        UnreadableDocument, match=r"^gone\.txt could not be opened: No such file or directory$"
    ):
        read_document(tmp_path / "gone.txt")


def test_html_page_furniture_is_not_indexed(tmp_path):
    page = tmp_path / "page.html"
    page.write_text(
        "<html><body>"
        '<div class="mobile-nav"><ul><li>Previous topic</li><li>fnmatch</li></ul></div>'
        "<nav>Home | Docs</nav>"
        '<div class="body" role="main"><h1>glob — paths<a class="headerlink">¶</a></h1>'
        "<div><p>The glob module finds pathnames.</p><div><p>Nested content.</p></div></div>"
        "</div>"
        '<div class="sphinxsidebar" role="navigation"><div><h3>Next topic</h3>'
        "<p>fnmatch — Unix filename pattern matching</p></div></div>"
        "<footer>© Copyright</footer>"
        '<div role="contentinfo">Report a bug</div>'
        "</body></html>"
    )
    sections = read_document(page)
    text = " ".join(s.text for s in sections)
    assert [s.heading for s in sections] == ["glob — paths"]
    assert "The glob module finds pathnames." in text and "Nested content." in text
    for furniture in ("Previous topic", "fnmatch", "Home", "Next topic", "Copyright", "bug"):
        assert furniture not in text
