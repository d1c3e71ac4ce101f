"""Documents are read in a child process under a time and a memory limit: a document that
would take minutes or gigabytes is stopped, reported with the limit it hit, and the next
file is read by a fresh child as if nothing happened."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from appliance.documents.isolated import IsolatedReader, ReaderStopped, ReadLimits, TooMuchText
from appliance.documents.model import UnreadableDocument
from tests.corpus import docx_with_body, write_text


def heavy_docx(path: Path, xml_mb: int) -> Path:
    """A valid DOCX with `xml_mb` MB of paragraphs of random words: it packs only ~2:1, so
    no zip-bomb check refuses it, yet parsing it takes seconds and hundreds of MB."""

    def body(xml) -> None:
        written = 0
        while written < xml_mb << 20:
            words = b" ".join(os.urandom(6).hex().encode() for _ in range(12))
            paragraph = b"<w:p><w:r><w:t>" + words + b"</w:t></w:r></w:p>"
            xml.write(paragraph)
            written += len(paragraph)

    return docx_with_body(path, body)


@pytest.fixture(scope="module")
def heavy(tmp_path_factory) -> Path:
    return heavy_docx(tmp_path_factory.mktemp("heavy") / "heavy.docx", 40)


@pytest.fixture
def good(tmp_path) -> Path:
    return write_text(tmp_path / "good.txt", "Full-time staff get 25 days of annual leave.")


def read_with(limits: ReadLimits, *paths: Path) -> list:
    reader = IsolatedReader(limits)
    try:
        results = []
        for path in paths:
            try:
                results.append(reader.read(path))
            except UnreadableDocument as err:
                results.append(err)
        return results
    finally:
        reader.close()


def test_a_document_that_takes_too_long_is_stopped_and_the_next_one_read(heavy, good):
    started = time.monotonic()
    slow, after = read_with(ReadLimits(timeout_s=1), heavy, good)
    assert isinstance(slow, UnreadableDocument)
    assert "longer than 1 s" in str(slow) and "limits.read_timeout_s" in str(slow)
    assert after[0].text.startswith("Full-time staff")
    assert time.monotonic() - started < 15


def test_a_document_that_needs_too_much_memory_is_stopped_and_the_next_one_read(heavy, good):
    """The parser fails its allocations in the child, which names the limit it hit; the
    fresh child for the next file starts with its whole budget again."""
    started = time.monotonic()
    hungry, after = read_with(ReadLimits(memory_mb=320, timeout_s=120), heavy, good)
    assert isinstance(hungry, UnreadableDocument)
    assert "more than 320 MB" in str(hungry) and "limits.read_memory_mb" in str(hungry)
    assert after[0].text.startswith("Full-time staff")
    assert time.monotonic() - started < 30


def test_more_text_than_max_file_chars_is_too_large(tmp_path, good):
    many = write_text(tmp_path / "many.txt", "leave policy " * 20_000)
    reader = IsolatedReader(ReadLimits(max_chars=100_000))
    try:
        with pytest.raises(TooMuchText, match=r"259,999 characters.*limits.max_file_chars"):
            reader.read(many)
        assert reader.read(good)[0].text.startswith("Full-time staff")
    finally:
        reader.close()


def test_stop_abandons_the_file_being_read_at_once(heavy):
    reader = IsolatedReader(ReadLimits(timeout_s=300, memory_mb=4096))
    outcome: list[object] = []
    thread = threading.Thread(target=lambda: outcome.append(_read(reader, heavy)))
    thread.start()
    time.sleep(1.0)  # the child is parsing by now
    started = time.monotonic()
    reader.stop()
    thread.join(10)
    assert not thread.is_alive() and time.monotonic() - started < 5
    assert outcome == [ReaderStopped]
    with pytest.raises(ReaderStopped):
        reader.read(heavy)


def _read(reader: IsolatedReader, path: Path) -> object:
    try:
        return reader.read(path)
    except ReaderStopped:
        return ReaderStopped


def test_a_reader_that_dies_is_replaced(good):
    reader = IsolatedReader(ReadLimits())
    try:
        assert reader.read(good)
        reader._child.kill()  # as a crash in a C library would end it
        reader._child.wait()
        assert reader.read(good)[0].text.startswith("Full-time staff")
    finally:
        reader.close()


def test_a_reader_killed_from_outside_is_not_blamed_on_its_memory_limit(heavy):
    """Killed twice by someone else (the OOM killer of a container, an operator), the file
    was "needs more than 2048 MB to read", the limit it never reached (a QA pass)."""
    import signal

    from appliance.documents.isolated import ReadMemory

    reader = IsolatedReader(ReadLimits(timeout_s=300, memory_mb=4096))
    done = threading.Event()

    def kill_each_child_mid_read() -> None:
        killed = set()
        while not done.is_set():
            child = reader._child
            if child is not None and child.pid not in killed and child.poll() is None:
                time.sleep(0.7)  # parsing by now
                killed.add(child.pid)
                try:
                    os.kill(child.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.02)

    killer = threading.Thread(target=kill_each_child_mid_read, daemon=True)
    killer.start()
    try:
        with pytest.raises(ReadMemory, match="killed twice while reading heavy.docx"):
            reader.read(heavy)
    finally:
        done.set()
        reader.close()
