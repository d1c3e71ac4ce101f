"""A folder copied into kb/: files still being written wait until they settle (the rescan a new
folder triggers included), cheap verdicts come first, small files go ahead of big ones, the
file being embedded shows its progress, and a stop in the middle of it is quick and clean."""

from __future__ import annotations

import logging
import os
import threading
import time

import pytest

from appliance.sync import manifest as m
from appliance.sync.pipeline import FileChanged
from appliance.sync.worker import SyncWorker
from tests.corpus import docx_with_body, write_text


def many_passages(n: int) -> str:
    return "\n\n".join(f"Section {i}. " + f"maintenance step {i} " * 40 for i in range(n))


@pytest.fixture
def pipeline(make_pipeline):
    return make_pipeline(limits__max_file_mb=1, watcher__settle_s=0.5)


def worker_for(pipeline) -> SyncWorker:
    return SyncWorker(pipeline, pipeline.settings.watcher)


def test_a_scan_orders_cheap_verdicts_first_then_small_files_before_big(pipeline):
    kb = pipeline.kb
    write_text(kb / "big.txt", many_passages(60))
    write_text(kb / "medium.txt", many_passages(8))
    write_text(kb / "small.txt", "Leave: 25 days.")
    write_text(kb / "notes.xyz", "unsupported")
    (kb / "empty.txt").write_bytes(b"")
    (kb / "huge.txt").write_bytes(b"x" * (2 << 20))  # over limits.max_file_mb
    order: list[str] = []
    worker_for(pipeline).sync_all(progress=lambda done, total, rel: order.append(rel))
    assert set(order[:3]) == {"notes.xyz", "empty.txt", "huge.txt"}
    assert order[3:] == ["small.txt", "medium.txt", "big.txt"]
    statuses = {e.path: e.status for e in pipeline.manifest.entries()}
    assert statuses == {
        "big.txt": m.INDEXED,
        "medium.txt": m.INDEXED,
        "small.txt": m.INDEXED,
        "notes.xyz": m.UNSUPPORTED,
        "empty.txt": m.FAILED,
        "huge.txt": m.TOO_LARGE,
    }


def test_a_file_dropped_during_a_scan_goes_ahead_of_the_files_left_to_scan(make_pipeline, caplog):
    """A start-up scan of a backlog (hours, after a big folder was copied in while the box
    was down) does not keep a note dropped meanwhile waiting until its end."""
    caplog.set_level(logging.INFO, logger="appliance.sync")
    pipeline = make_pipeline(watcher__settle_s=0)
    kb = pipeline.kb
    write_text(kb / "small.txt", "Leave: 25 days.")
    write_text(kb / "medium.txt", many_passages(4))
    write_text(kb / "big.txt", many_passages(8))
    worker = worker_for(pipeline)

    def progress(done, total, rel):
        if rel == "small.txt":  # as the watcher would
            write_text(kb / "note.txt", "The fire drill is on Tuesday.")
            worker.submit("note.txt")

    worker.sync_all(progress=progress)
    indexed = [r.path for r in caplog.records if getattr(r, "event", "") == "document"]
    assert indexed == ["small.txt", "note.txt", "medium.txt", "big.txt"]


def test_a_file_still_being_copied_during_a_rescan_waits_until_it_settles(pipeline):
    """The copy of a folder triggers a full rescan; a big file in it, half-copied, was once
    measured under limits.max_file_mb, read and embedded in full, and everything else waited."""
    kb = pipeline.kb
    worker = worker_for(pipeline)
    worker.start()
    assert worker.startup_done.wait(30)
    growing = kb / "copying" / "big.txt"
    growing.parent.mkdir()
    write_text(kb / "copying" / "small.txt", "Leave: 25 days.")
    stop_writing = threading.Event()

    def copy_slowly():
        with growing.open("w") as f:
            while not stop_writing.is_set():
                f.write("x" * 50_000 + "\n")  # ends at ~1.5 MB: over limits.max_file_mb
                f.flush()
                time.sleep(0.1)
                if f.tell() > 1_500_000:
                    break

    writer = threading.Thread(target=copy_slowly)
    writer.start()
    try:
        time.sleep(0.3)
        worker.request_rescan()
        deadline = time.monotonic() + 20
        while (entry := pipeline.manifest.get("copying/small.txt")) is None or (
            entry.status != m.INDEXED
        ):
            assert time.monotonic() < deadline, "the small file waited behind the big one"
            time.sleep(0.1)
        big = pipeline.manifest.get("copying/big.txt")
        assert big is None or big.status == m.PENDING  # never judged while still growing
    finally:
        writer.join()
        stop_writing.set()
    deadline = time.monotonic() + 20
    while (entry := pipeline.manifest.get("copying/big.txt")) is None or entry.status == m.PENDING:
        assert time.monotonic() < deadline, "the copied file was never looked at"
        time.sleep(0.1)
    assert entry.status == m.TOO_LARGE and entry.size == growing.stat().st_size
    worker.stop()


def test_progress_of_the_file_being_embedded_and_a_quick_clean_stop(make_pipeline):
    pipeline = make_pipeline(watcher__settle_s=0.2)
    kb = pipeline.kb
    write_text(kb / "manual.txt", many_passages(400))
    worker = worker_for(pipeline)
    seen: list[dict] = []
    worker.start()
    try:
        deadline = time.monotonic() + 60
        while not seen or seen[-1]["done"] < 64:
            assert time.monotonic() < deadline, f"no progress was shown: {seen}"
            if worker.current and worker.current not in seen:
                seen.append(dict(worker.current))
            time.sleep(0.05)
    finally:
        started = time.monotonic()
        worker.stop()
    assert time.monotonic() - started < 10 and not worker.alive()
    assert seen[0]["path"] == "manual.txt" and seen[0]["total"] >= 300
    assert [s["done"] for s in seen] == sorted(s["done"] for s in seen)
    # Nothing of the half-embedded file was published; after a restart it is indexed whole.
    assert pipeline.index.count("manual.txt") == 0
    entry = pipeline.manifest.get("manual.txt")
    assert entry is None or entry.status != m.INDEXED


def empty_paragraphs_docx(path, paragraphs: int):
    """A DOCX of many paragraphs without text: seconds to read, nothing to embed."""

    def body(xml) -> None:
        for _ in range(paragraphs):
            rsid = os.urandom(4).hex().encode()
            xml.write(b'<w:p w:rsidR="' + rsid + b'"><w:r><w:t></w:t></w:r></w:p>')

    return docx_with_body(path, body)


def test_a_file_that_changes_while_it_is_read_is_looked_at_again(make_pipeline, tmp_path):
    """The check after reading: a file whose size or time changed meanwhile is not indexed
    from what was read (the worker queues it again, to wait until it settles)."""
    pipeline = make_pipeline()
    path = empty_paragraphs_docx(pipeline.kb / "form.docx", 3000)
    started = time.monotonic()
    assert pipeline.update("form.docx").status == m.FAILED  # no text, but it takes a while
    took = time.monotonic() - started
    assert took > 0.5, f"reading took only {took:.2f} s: too quick to change it meanwhile"
    later = time.time() + 10
    touch = threading.Timer(took / 4, lambda: os.utime(path, (later, later)))
    touch.start()
    with pytest.raises(FileChanged):
        pipeline.update("form.docx")
    touch.join()
