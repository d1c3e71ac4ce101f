"""The write path on real files, a real embedder and a real Qdrant Edge shard."""

import dataclasses
import os
import time

import pytest

from appliance.config import load_settings
from appliance.index.embedder import Embedder
from appliance.sync import manifest as m
from appliance.sync.reconcile import is_ignored, stale_paths
from appliance.sync.worker import SyncWorker
from tests.corpus import make_pdf, write_text


class CountingEmbedder:
    """The real embedders, counting how many chunks each embeds."""

    def __init__(self, real: Embedder):
        self.real = real
        self.dim = real.dim
        self.embedded = 0
        self.embedded_multilingual = 0

    def embed_documents(self, texts):
        self.embedded += len(texts)
        return self.real.embed_documents(texts)

    def embed_multilingual_documents(self, texts):
        self.embedded_multilingual += len(texts)
        return self.real.embed_multilingual_documents(texts)

    def __getattr__(self, name):
        return getattr(self.real, name)


@pytest.fixture
def env(make_pipeline, real_embedder):
    embedder = CountingEmbedder(real_embedder)
    return make_pipeline(embedder, limits__max_file_mb=0.01), embedder


def statuses(pipeline):
    return {e.path: (e.status, e.error) for e in pipeline.manifest.entries()}


def sync(pipeline):
    for rel in stale_paths(pipeline, ("*.swp", ".*")):
        pipeline.update(rel)


def test_every_file_gets_a_status_and_a_reason(env):
    pipeline, _ = env
    kb = pipeline.kb
    write_text(kb / "ok.md", "# Title\n\nSome text about leave.")
    write_text(kb / "sheet.ods", "not really")
    write_text(kb / "big.txt", "word " * 5000)
    (kb / "bad.docx").write_bytes(b"not a zip")
    make_pdf(kb / "empty.pdf", [""])
    write_text(kb / ".hidden.txt", "ignored")
    write_text(kb / "draft.txt.swp", "ignored")
    sync(pipeline)
    found = statuses(pipeline)
    assert set(found) == {"ok.md", "sheet.ods", "big.txt", "bad.docx", "empty.pdf"}
    assert found["ok.md"] == (m.INDEXED, "")
    assert found["sheet.ods"][0] == m.UNSUPPORTED and ".pdf" in found["sheet.ods"][1]
    assert found["big.txt"][0] == m.TOO_LARGE and "limits.max_file_mb" in found["big.txt"][1]
    assert found["bad.docx"][0] == m.FAILED and "bad.docx" in found["bad.docx"][1]
    assert found["empty.pdf"][0] == m.FAILED and "no text" in found["empty.pdf"][1]
    assert pipeline.index.chunks_per_source() == {"ok.md": 1}


def test_unchanged_content_is_never_embedded_again(env):
    pipeline, embedder = env
    write_text(pipeline.kb / "a.txt", "alpha text " * 50)
    sync(pipeline)
    first = pipeline.manifest.get("a.txt")
    embedded = embedder.embedded
    assert embedded > 0 and first.status == m.INDEXED
    sync(pipeline)  # nothing changed
    os.utime(pipeline.kb / "a.txt", None)  # touched: mtime changes, content does not
    sync(pipeline)
    assert embedder.embedded == embedded
    assert pipeline.manifest.get("a.txt").indexed_at == first.indexed_at


def test_edits_deletes_and_orphans_are_reconciled(env):
    pipeline, _ = env
    make_pdf(pipeline.kb / "h.pdf", ["page one text", "page two about leave"])
    write_text(pipeline.kb / "gone.txt", "soon deleted")
    sync(pipeline)
    assert pipeline.index.chunks_per_source() == {"h.pdf": 2, "gone.txt": 1}
    make_pdf(pipeline.kb / "h.pdf", ["only one page now"])
    (pipeline.kb / "gone.txt").unlink()
    sync(pipeline)
    assert pipeline.index.chunks_per_source() == {"h.pdf": 1}
    assert set(statuses(pipeline)) == {"h.pdf"}
    # Chunks the manifest does not know (e.g. a crash before its row was written) go too.
    pipeline.manifest.remove("h.pdf")
    (pipeline.kb / "h.pdf").unlink()
    sync(pipeline)
    assert pipeline.index.chunks_per_source() == {}


def test_a_new_pipeline_version_reindexes_and_a_new_embedder_reembeds(env):
    pipeline, embedder = env
    write_text(pipeline.kb / "a.txt", "alpha " * 30)
    sync(pipeline)
    before = embedder.embedded
    # Other chunking: the file is chunked again; chunks with the same words keep their vectors.
    pipeline.version = "something else"
    assert stale_paths(pipeline, ()) == ["a.txt"]
    sync(pipeline)
    assert (
        embedder.embedded == before and pipeline.manifest.get("a.txt").version == "something else"
    )
    # Another embedder: every vector is made again.
    pipeline.version, pipeline.embedding = "a third", "another model"
    sync(pipeline)
    assert embedder.embedded > before


def test_the_worker_waits_for_a_file_to_settle(env):
    pipeline, _ = env
    settings = dataclasses.replace(load_settings(None, env={}).watcher, settle_s=0.3)
    worker = SyncWorker(pipeline, settings)
    worker.start()
    assert worker.startup_done.wait(10)
    path = pipeline.kb / "growing.txt"
    with path.open("w") as f:
        for _ in range(6):  # still being written for longer than settle_s
            f.write("growing text " * 20)
            f.flush()
            worker.submit("growing.txt")
            time.sleep(0.15)
            assert pipeline.manifest.get("growing.txt").status == m.PENDING
    deadline = time.monotonic() + 10
    while pipeline.manifest.get("growing.txt").status == m.PENDING:
        assert time.monotonic() < deadline, "the settled file was never indexed"
        time.sleep(0.1)
    assert pipeline.manifest.get("growing.txt").size == path.stat().st_size
    worker.stop()


@pytest.mark.parametrize(
    ("rel", "ignored"),
    [
        ("a.txt", False),
        ("sub/a.pdf", False),
        (".git/config", True),
        ("~$report.docx", True),
        ("x.docx.part", True),
        ("notes.txt~", True),
        ("dir/.~lock.a.docx#", True),
    ],
)
def test_ignore_patterns(rel, ignored):
    patterns = load_settings(None, env={}).watcher.ignore
    assert is_ignored(rel, patterns) is ignored


def test_rename_copy_and_partial_edit_reuse_stored_vectors(env):
    pipeline, embedder = env
    paragraphs = [f"Paragraph {i} about topic {i}. " + f"detail{i} " * 150 for i in range(4)]
    write_text(pipeline.kb / "a.txt", "\n\n".join(paragraphs))
    sync(pipeline)
    chunks = pipeline.manifest.get("a.txt").chunks
    embedded = embedder.embedded
    assert chunks >= 4 and embedder.embedded_multilingual == embedded

    (pipeline.kb / "a.txt").rename(pipeline.kb / "moved.txt")
    write_text(pipeline.kb / "copy/also.txt", "\n\n".join(paragraphs))
    sync(pipeline)
    assert embedder.embedded == embedded  # nothing embedded again, by either embedder
    assert embedder.embedded_multilingual == embedded
    assert pipeline.index.chunks_per_source() == {"moved.txt": chunks, "copy/also.txt": chunks}
    assert set(statuses(pipeline)) == {"moved.txt", "copy/also.txt"}

    paragraphs[-1] = "A rewritten last paragraph. " + "changed " * 150
    write_text(pipeline.kb / "moved.txt", "\n\n".join(paragraphs))
    sync(pipeline)
    assert 0 < embedder.embedded - embedded < chunks  # only the changed chunks
    assert embedder.embedded_multilingual == embedder.embedded


def test_a_query_never_sees_a_document_missing_or_twice_during_updates(env):
    pipeline, _ = env
    import threading

    def version(n: int) -> str:
        return f"Release notes version {n}. " + " ".join(f"feature{n}x{i}" for i in range(300))

    write_text(pipeline.kb / "notes.txt", version(0))
    sync(pipeline)
    seen, stop = [], threading.Event()
    dense = pipeline.embedder.embed_query("release notes version")
    sparse = pipeline.embedder.sparse_query("release notes version")

    def query_loop():
        while not stop.is_set():
            hits = [
                h for h in pipeline.index.search(dense, sparse, 10, 30) if h.source == "notes.txt"
            ]
            seen.append({h.doc_hash for h in hits})

    reader = threading.Thread(target=query_loop)
    reader.start()
    for n in range(1, 6):
        write_text(pipeline.kb / "notes.txt", version(n))
        sync(pipeline)
    stop.set()
    reader.join()
    assert len(seen) > 20
    assert all(len(hashes) == 1 for hashes in seen), "a query saw the document missing or twice"
    assert len(set().union(*seen)) >= 2  # the queries really ran across updates


def test_crash_leftovers_are_repaired_without_embedding(env):
    pipeline, embedder = env
    write_text(pipeline.kb / "a.txt", "first version " * 100)
    sync(pipeline)
    old = pipeline.manifest.get("a.txt")
    write_text(pipeline.kb / "a.txt", "second version " * 100)
    # A crash after the new chunks were stored, before the manifest named them:
    from appliance.sync.pipeline import FileState, sha256_of

    new_sha = sha256_of(pipeline.kb / "a.txt")
    sections, _, _ = pipeline._read("a.txt", pipeline.kb / "a.txt", new_sha)
    chunks = pipeline._chunk("a.txt", sections)
    state = pipeline.kb.joinpath("a.txt").stat()
    points = pipeline._embed("a.txt", FileState(state.st_size, state.st_mtime_ns), new_sha, chunks)
    pipeline.index.upsert(points)
    embedded = embedder.embedded
    assert pipeline.index.count("a.txt") == old.chunks + len(chunks)
    sync(pipeline)  # what a restart does
    assert embedder.embedded == embedded
    assert pipeline.index.count("a.txt") == len(chunks)
    assert pipeline.manifest.get("a.txt").sha256 == new_sha

    # Points the manifest does not account for, of a file still on disk, are removed too.
    pipeline.index.upsert([dataclasses.replace(points[0], doc_hash="stray", index=99)])
    sync(pipeline)
    assert pipeline.index.count("a.txt") == len(chunks)


def test_unreadable_paths_get_a_status_and_never_stop_the_queue(env):
    pipeline, _ = env
    kb = pipeline.kb
    (kb / "zero.pdf").write_bytes(b"")
    os.symlink(kb / "loop.txt", kb / "loop.txt")
    os.symlink(kb / "nowhere.txt", kb / "dangling.txt")
    os.mkfifo(kb / "pipe.txt")
    write_text(kb / "good.txt", "still indexed")
    sync(pipeline)
    found = statuses(pipeline)
    assert found["good.txt"] == (m.INDEXED, "")
    assert found["zero.pdf"] == (m.FAILED, "zero.pdf is empty (0 bytes)")
    assert found["loop.txt"][0] == m.FAILED and "symlink" in found["loop.txt"][1]
    assert found["dangling.txt"][0] == m.FAILED
    assert found["pipe.txt"] == (m.UNSUPPORTED, "pipe.txt is not a regular file")
    assert stale_paths(pipeline, ()) == []  # settled: not retried on every scan


def test_links_out_of_kb_are_not_read_unless_their_folder_is_allowed(make_pipeline, tmp_path):
    """kb/ is often a share many can write to: a link in it must not expose other files."""
    outside = tmp_path / "outside"
    outside.mkdir()
    write_text(outside / "secrets.txt", "db_password = swordfish")
    (outside / "folder").mkdir()
    write_text(outside / "folder" / "notes.txt", "private notes about swordfish")
    pipeline = make_pipeline()
    kb = pipeline.kb
    write_text(kb / "real.txt", "The office printer is on floor 3.")
    os.symlink(outside / "secrets.txt", kb / "notes.txt")
    os.symlink("/proc/self/environ", kb / "environ.txt")
    os.symlink(kb / "real.txt", kb / "alias.txt")  # inside kb/: fine
    os.symlink(outside / "folder", kb / "linked")  # a symlinked folder is not followed
    sync(pipeline)
    found = statuses(pipeline)
    assert found["real.txt"] == (m.INDEXED, "") and found["alias.txt"] == (m.INDEXED, "")
    assert found["notes.txt"][0] == m.FAILED and "outside kb/" in found["notes.txt"][1]
    assert "allow_outside" in found["notes.txt"][1]
    assert found["environ.txt"][0] == m.FAILED and "system file" in found["environ.txt"][1]
    assert "linked/notes.txt" not in found
    # A file reached through a symlinked folder (a watcher event, say) is refused too.
    assert pipeline.update("linked/notes.txt").status == m.FAILED
    assert pipeline.index.count("notes.txt") == 0 and pipeline.index.count("linked/notes.txt") == 0

    allowed = make_pipeline(
        watcher__allow_outside=[str(outside)], paths__data=str(tmp_path / "data-allowed")
    )
    sync(allowed)
    found = statuses(allowed)
    assert found["notes.txt"] == (m.INDEXED, "") and allowed.index.count("notes.txt") > 0
    assert found["environ.txt"][0] == m.FAILED  # never, whatever is allowed


def test_a_link_into_another_folder_of_kb_is_not_read(make_pipeline):
    """Users see kb/'s top level and their granted folders: a link at the top level (or in
    hr/) to finance/salaries.txt would show it to everyone (or to hr). Links within a folder,
    to a folder below theirs or to the top level are read."""
    pipeline = make_pipeline()
    kb = pipeline.kb
    write_text(kb / "finance/salaries.txt", "The CFO bonus pool is 250000 EUR.")
    write_text(kb / "hr/2024/leave.txt", "Leave is 25 days.")
    write_text(kb / "welcome.txt", "Welcome to the team.")
    os.symlink("finance/salaries.txt", kb / "handy.txt")
    os.symlink("../finance/salaries.txt", kb / "hr/pay.txt")
    os.symlink("salaries.txt", kb / "finance/latest.txt")
    os.symlink("2024/leave.txt", kb / "hr/leave.txt")
    os.symlink("welcome.txt", kb / "hello.txt")
    os.symlink("../welcome.txt", kb / "hr/welcome.txt")
    sync(pipeline)
    found = statuses(pipeline)
    for refused in ("handy.txt", "hr/pay.txt"):
        assert found[refused][0] == m.FAILED, refused
        assert "in another folder of kb/" in found[refused][1]
        assert pipeline.index.count(refused) == 0
    for read in ("finance/latest.txt", "hr/leave.txt", "hello.txt", "hr/welcome.txt"):
        assert found[read] == (m.INDEXED, ""), read
    # A change to a file is a change to the links to it (the watcher names the file only),
    # also for links indexed before a restart, which the start-up scan finds again.
    assert sorted(pipeline.links_to({"welcome.txt"})) == ["hello.txt", "hr/welcome.txt"]
    pipeline._links.clear()
    assert stale_paths(pipeline, ()) == []
    assert sorted(pipeline.links_to({"welcome.txt", "hr/2024/leave.txt"})) == [
        "hello.txt",
        "hr/leave.txt",
        "hr/welcome.txt",
    ]


def test_an_indexed_link_whose_target_moves_out_is_removed(make_pipeline, tmp_path):
    pipeline = make_pipeline()
    kb = pipeline.kb
    write_text(kb / "a.txt", "Leave is 25 days.")
    os.symlink(kb / "a.txt", kb / "link.txt")
    sync(pipeline)
    assert statuses(pipeline)["link.txt"] == (m.INDEXED, "")
    outside = tmp_path / "elsewhere.txt"
    write_text(outside, "Leave is 25 days.")  # same size and content: only the target moved
    os.utime(outside, ns=(os.stat(kb / "a.txt").st_atime_ns, os.stat(kb / "a.txt").st_mtime_ns))
    (kb / "link.txt").unlink()
    os.symlink(outside, kb / "link.txt")
    assert "link.txt" in stale_paths(pipeline, ())
    sync(pipeline)
    assert statuses(pipeline)["link.txt"][0] == m.FAILED
    assert pipeline.index.count("link.txt") == 0


def test_a_manifest_from_before_reason_codes_is_read_and_migrated(tmp_path):
    import sqlite3

    path = tmp_path / "manifest.sqlite3"
    old = sqlite3.connect(path)
    old.execute(
        "CREATE TABLE documents (path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER "
        "NOT NULL, sha256 TEXT NOT NULL DEFAULT '', status TEXT NOT NULL, error TEXT NOT NULL "
        "DEFAULT '', chunks INTEGER NOT NULL DEFAULT 0, indexed_at REAL, version TEXT NOT NULL "
        "DEFAULT '')"
    )
    old.execute("INSERT INTO documents VALUES ('a.pdf', 1, 2, 'x', 'failed', 'bad', 0, NULL, 'v')")
    old.commit()
    old.close()
    reading = m.Manifest(path, readonly=True)  # appliance docs, before the server migrated it
    assert reading.get("a.pdf").code == "" and reading.get("a.pdf").error == "bad"
    reading.close()
    writing = m.Manifest(path)
    writing.put(dataclasses.replace(writing.get("a.pdf"), code="unreadable"))
    assert writing.entries()[0].code == "unreadable"
    writing.close()


def test_every_status_has_a_reason_code(env):
    pipeline, _ = env
    write_text(pipeline.kb / "ok.md", "# Title\n\nSome text about leave.")
    write_text(pipeline.kb / "sheet.ods", "not really")
    write_text(pipeline.kb / "big.txt", "word " * 5000)
    (pipeline.kb / "bad.docx").write_bytes(b"not a zip")
    (pipeline.kb / "empty.txt").write_bytes(b"")
    sync(pipeline)
    codes = {e.path: e.code for e in pipeline.manifest.entries()}
    assert codes == {
        "ok.md": "",
        "sheet.ods": "unsupported_format",
        "big.txt": "too_large",
        "bad.docx": "unreadable",
        "empty.txt": "empty_file",
    }


def test_turning_the_multilingual_embedder_on_indexes_kb_again(make_pipeline, models_dir):
    """An index without the multilingual vectors cannot take them: opened with the second
    embedder on, it is made anew and every file is indexed again, with both vectors."""
    settings = load_settings(None, env={})
    english_only = make_pipeline(
        Embedder(settings.embedder, models_dir / "embedder"), multilingual__enabled=False
    )
    write_text(english_only.kb / "guide.txt", "Use cp -r to copy a directory and all in it.")
    sync(english_only)
    assert english_only.index.chunks_per_source() == {"guide.txt": 1}
    english_only.index.close()
    english_only.manifest.close()

    both = make_pipeline()  # the defaults: MiniLM and the multilingual embedder
    assert both.index.count() == 0
    sync(both)
    assert statuses(both) == {"guide.txt": (m.INDEXED, "")}
    question = "怎样把整个目录连同里面的东西一起复制？"
    multilingual = both.embedder.embed_multilingual_query(question)
    hits = both.index.search(
        both.embedder.embed_query(question),
        both.embedder.sparse_query(question),
        1,
        10,
        multilingual=multilingual,
    )
    assert hits[0].source == "guide.txt"
    assert hits[0].relevance > 0.3  # the multilingual cosine (0.35; MiniLM's: -0.08)


def test_each_passage_keeps_the_language_it_was_read_as(env):
    """Stored with it, so that a question in another language can be searched by it
    (store.rankings) without reading every candidate's language again."""
    pipeline, _ = env
    write_text(pipeline.kb / "en.txt", "Use cp -r to copy a directory and all that is in it.")
    write_text(pipeline.kb / "zh.txt", "用 cp -r 复制整个目录以及其中的所有文件。")
    write_text(pipeline.kb / "de.txt", "Mit cp -r kopieren Sie ein Verzeichnis und alles darin.")
    sync(pipeline)
    embedder = pipeline.embedder
    hits = pipeline.index.search(
        embedder.embed_query("cp -r"), embedder.sparse_query("cp -r"), 3, 10
    )
    languages = {h.source: h.language for h in hits}
    assert languages == {"en.txt": "english", "zh.txt": "chinese", "de.txt": "german"}


def test_a_larger_chunk_size_leaves_no_chunk_of_the_smaller_one(make_pipeline):
    """chunk_tokens 120 → 200 cut a file (the same version) into fewer chunks; the old
    ones past the new count stayed in the index and were served, and every scan read the
    file again without removing them (a QA pass)."""
    from appliance.sync.pipeline import Pipeline

    small = make_pipeline(retrieval__chunk_tokens=60, retrieval__chunk_overlap_tokens=10)
    write_text(
        small.kb / "rules.txt", " ".join(f"Rule {n} says staff do task {n}." for n in range(80))
    )
    sync(small)
    before = small.manifest.get("rules.txt").chunks
    settings = load_settings(
        None,
        env={},
        overrides={
            "paths.kb": str(small.kb),
            "paths.data": str(small.settings.paths.data),
            "paths.models": str(small.settings.paths.models),
        },
    )
    large = Pipeline(settings, small.manifest, small.index, small.embedder)
    sync(large)
    after = large.manifest.get("rules.txt").chunks
    assert after < before
    assert large.index.count("rules.txt") == after
    assert stale_paths(large, ()) == []  # and a scan finds nothing left to do
