"""Hostile or odd files: binary data under text names, legacy encodings, empty files,
paths that cannot be opened, and readers that crash."""

import os
import socket
from pathlib import Path

import pytest

from appliance.documents import READERS, SUPPORTED_SUFFIXES, UnreadableDocument, read_document
from appliance.documents.readers import decode_text
from appliance.documents.text_decoding import detect_encoding, looks_binary
from tests.corpus import write_text

_TEXT_SUFFIXES = (".txt", ".md", ".markdown", ".csv", ".json", ".jsonl", ".ndjson", ".html")

# --- binary data with a text name --------------------------------------------


@pytest.mark.parametrize("suffix", _TEXT_SUFFIXES)
def test_nul_bytes_mean_binary_for_every_text_format(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"x{suffix}"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    with pytest.raises(UnreadableDocument, match=rf"^x\{suffix} looks like binary data, not text"):
        read_document(path)


def test_many_control_characters_mean_binary(tmp_path: Path) -> None:
    path = tmp_path / "x.txt"
    path.write_bytes(b"readable words " * 10 + b"\x01\x02\x03\x04\x05\x06\x07\x08" * 10)
    with pytest.raises(UnreadableDocument, match=r"^x\.txt looks like binary data, not text"):
        read_document(path)


def test_a_few_control_characters_are_still_text(tmp_path: Path) -> None:
    # ANSI colour codes in a log, form feeds between pages: text with some controls.
    path = tmp_path / "build.txt"
    path.write_bytes(b"\x1b[31merror\x1b[0m: disk full\n\x0cnext page\n" + b"more text " * 20)
    assert "disk full" in read_document(path)[0].text


def test_only_the_first_8_kb_are_judged(tmp_path: Path) -> None:
    path = tmp_path / "tail.txt"
    path.write_bytes(b"plain words\n" * 1000 + b"\x00" * 100)
    assert read_document(path)[0].text.startswith("plain words")


def test_legacy_cjk_bytes_are_not_mistaken_for_binary() -> None:
    sample = "日本語のテキストです。会議室は三階にあります。" * 20
    encoded = sample.encode("shift_jis")
    assert not looks_binary(encoded, detect_encoding(encoded))


# --- encodings ---------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_with_a_bom_decodes(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "unicode.txt"
    text = "Ünïcödé “notes” €5 日本"
    bom = {"utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff"}.get(encoding, b"")
    path.write_bytes(bom + text.encode(encoding))
    assert read_document(path)[0].text == text


def test_utf16_markdown_keeps_its_headings(tmp_path: Path) -> None:
    path = tmp_path / "notes.md"
    path.write_bytes("# Título\nCafé.\n".encode("utf-16"))
    sections = read_document(path)
    assert [(s.heading, s.text) for s in sections] == [("Título", "Café.")]


def test_utf16_html_decodes(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_bytes("<html><body><p>Grüße</p></body></html>".encode("utf-16"))
    assert read_document(path)[0].text == "Grüße"


def test_windows_1252_curly_quotes_and_euro_decode(tmp_path: Path) -> None:
    path = tmp_path / "ansi.txt"
    text = "“Quoted” – it’s €10… naïve"
    path.write_bytes(text.encode("cp1252"))
    assert read_document(path)[0].text == text


def test_utf8_beats_cp1252_and_a_bom_is_dropped() -> None:
    assert decode_text("€ “x”".encode()) == "€ “x”"
    assert decode_text(b"\xef\xbb\xbf\xe2\x82\xac") == "€"


def test_a_utf8_sequence_cut_by_the_sample_is_not_an_error() -> None:
    assert detect_encoding("ab€".encode()[:-1], complete=False) == "utf-8"
    assert detect_encoding("ab€".encode()[:-1], complete=True) == "cp1252"


# --- empty files --------------------------------------------------------------


@pytest.mark.parametrize("suffix", sorted(SUPPORTED_SUFFIXES))
def test_zero_byte_file_of_every_format_has_no_sections(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"empty{suffix}"
    path.write_bytes(b"")
    assert read_document(path) == []


# --- paths that cannot be opened ------------------------------------------------


def test_symlink_loop_cannot_be_opened(tmp_path: Path) -> None:
    loop = tmp_path / "loop.txt"
    loop.symlink_to(tmp_path / "loop.txt")
    with pytest.raises(
        UnreadableDocument, match=r"^loop\.txt could not be opened: Too many levels of symbolic"
    ):
        read_document(loop)


def test_dangling_symlink_cannot_be_opened(tmp_path: Path) -> None:
    link = tmp_path / "gone.pdf"
    link.symlink_to(tmp_path / "nowhere.pdf")
    with pytest.raises(UnreadableDocument, match=r"^gone\.pdf could not be opened: No such file"):
        read_document(link)


@pytest.mark.parametrize("suffix", [".txt", ".pdf", ".xlsx"])
def test_a_folder_cannot_be_opened(tmp_path: Path, suffix: str) -> None:
    folder = tmp_path / f"folder{suffix}"
    folder.mkdir()
    with pytest.raises(UnreadableDocument, match=rf"^folder\{suffix} could not be opened: Is a"):
        read_document(folder)


@pytest.mark.skipif(os.geteuid() == 0, reason="root may read any file")
@pytest.mark.parametrize("suffix", [".txt", ".pdf", ".docx"])
def test_unreadable_permissions_cannot_be_opened(tmp_path: Path, suffix: str) -> None:
    path = write_text(tmp_path / f"secret{suffix}", "text")
    path.chmod(0)
    try:
        with pytest.raises(
            UnreadableDocument, match=rf"^secret\{suffix} could not be opened: Permission denied"
        ):
            read_document(path)
    finally:
        path.chmod(0o600)


def test_permission_denied_on_open_is_reported_as_not_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The chmod test above is skipped as root, so simulate what open() raises there.
    real_open = Path.open

    def guarded_open(self: Path, *args, **kwargs):
        if self.name == "locked.pdf":
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    path = write_text(tmp_path / "locked.pdf", "%PDF-1.4")
    monkeypatch.setattr(Path, "open", guarded_open)
    with pytest.raises(
        UnreadableDocument, match=r"^locked\.pdf could not be opened: Permission denied$"
    ):
        read_document(path)


def test_permission_denied_while_reading_is_reported_as_not_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Works as root too: the reader itself meets the error, as after a chmod mid-sync.
    def denied(path: Path) -> list:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setitem(READERS, ".txt", denied)
    path = write_text(tmp_path / "notes.txt", "text")
    with pytest.raises(
        UnreadableDocument, match=r"^notes\.txt could not be opened: Permission denied$"
    ):
        read_document(path)


def test_a_named_pipe_is_refused_instead_of_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    with pytest.raises(UnreadableDocument, match=r"^pipe\.txt could not be opened: .*regular"):
        read_document(fifo)


def test_a_socket_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.txt"
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(path))
    except OSError:
        pytest.skip("cannot bind a unix socket here (path too long?)")
    try:
        with pytest.raises(UnreadableDocument, match=r"^s\.txt could not be opened"):
            read_document(path)
    finally:
        server.close()


# --- readers that crash ---------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        ValueError("bad value"),
        KeyError("xl/workbook.xml"),
        RecursionError(),
        OSError("cannot identify image file"),  # a library's content error, not the disk's
    ],
)
def test_any_reader_exception_becomes_unreadable_naming_file_and_format(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    def crash(path: Path) -> list:
        raise error

    monkeypatch.setitem(READERS, ".xlsx", crash)
    path = tmp_path / "book.xlsx"
    path.write_bytes(b"anything")
    with pytest.raises(UnreadableDocument, match=r"^book\.xlsx could not be read as XLSX: .+"):
        read_document(path)


def test_running_out_of_memory_is_not_blamed_on_the_file(tmp_path, monkeypatch) -> None:
    """The reader process turns it into "needs more than N MB (limits.read_memory_mb)"
    (tests/documents/test_isolated.py)."""

    def crash(path: Path) -> list:
        raise MemoryError

    monkeypatch.setitem(READERS, ".xlsx", crash)
    path = tmp_path / "book.xlsx"
    path.write_bytes(b"anything")
    with pytest.raises(MemoryError):
        read_document(path)


def test_deeply_nested_json_is_unreadable_not_a_crash(tmp_path: Path) -> None:
    path = write_text(tmp_path / "deep.json", "[" * 100_000 + "]" * 100_000)
    with pytest.raises(UnreadableDocument, match=r"^deep\.json could not be read as JSON: .+"):
        read_document(path)


def test_simplified_chinese_in_gb18030_is_detected_and_western_text_is_not():
    from appliance.documents.text_decoding import detect_encoding

    assert detect_encoding("路由器的默认密码是管理员。".encode("gb18030")) == "gb18030"
    assert detect_encoding("Le café est prêt, à bientôt.".encode("cp1252")) == "cp1252"
    assert detect_encoding("Grüße aus Köln".encode("cp1252")) == "cp1252"


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("會議室在三樓東側，請提前預約。這是公司的規定，所有員工都要遵守。", "big5"),
        ("会議室は三階にあります。金曜日までに予約してください。これは会社の規則です。", "cp932"),
        ("镕基与喆在这里，会议室在三楼，这是公司的规定。", "gbk"),  # beyond GB2312
    ],
)
def test_traditional_chinese_japanese_and_gbk_files_are_read_as_written(tmp_path, text, encoding):
    path = tmp_path / f"{encoding}.txt"
    path.write_bytes(text.encode(encoding))
    (section,) = read_document(path)
    assert section.text.strip() == text


def test_western_legacy_text_is_not_taken_for_chinese_or_japanese():
    from appliance.documents.text_decoding import detect_encoding

    french = "L'été dernier, le café était fermé. Ça a été très décevant pour Élodie et Hélène."
    assert detect_encoding(french.encode("cp1252")) == "cp1252"
    german = "Größere Übungen für Schüler: Äpfel, Öfen, Mädchen und Straße."
    assert detect_encoding(german.encode("cp1252")) == "cp1252"
