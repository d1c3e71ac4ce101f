"""The write path on real files, a real embedder and a real Qdrant Edge shard."""

import dataclasses
import os
import time

import pytest

from appliance.config import load_settings
from appliance.index.edge import EdgeIndex
from appliance.index.embedder import Embedder
from appliance.sync import manifest as m
from appliance.sync.pipeline import Pipeline
from appliance.sync.reconcile import is_ignored, stale_paths
from appliance.sync.worker import SyncWorker
from tests.corpus import make_pdf, write_text


class CountingEmbedder:
    """The real embedder, counting how many chunks it embeds."""

    def __init__(self, real: Embedder):
        self.real = real
        self.dim = real.dim
        self.embedded = 0

    def embed_documents(self, texts):
        self.embedded += len(texts)
        return self.real.embed_documents(texts)

    def __getattr__(self, name):
        return getattr(self.real, name)


@pytest.fixture(scope="module")
def real_embedder(models_dir):
    settings = load_settings(None, env={})
    return Embedder(settings.embedder, models_dir / "embedder")


@pytest.fixture
def env(tmp_path, models_dir, real_embedder):
    overrides = {
        "paths.kb": str(tmp_path / "kb"),
        "paths.data": str(tmp_path / "data"),
        "paths.models": str(models_dir),
        "limits.max_file_mb": 0.01,
        "watcher.settle_s": 0.2,
    }
    settings = load_settings(None, env={}, overrides=overrides)
    settings.paths.kb.mkdir()
    index = EdgeIndex(settings.paths.data / "index", real_embedder.dim)
    manifest = m.Manifest(settings.paths.data / "manifest.sqlite3")
    embedder = CountingEmbedder(real_embedder)
    pipeline = Pipeline(settings, manifest, index, embedder)
    yield pipeline, embedder
    index.close()
    manifest.close()


def statuses(pipeline):
    return {e.path: (e.status, e.error) for e in pipeline.manifest.entries()}


def sync(pipeline):
    for rel in stale_paths(pipeline, ("*.swp", ".*")):
        pipeline.update(rel)


def test_every_file_gets_a_status_and_a_reason(env):
    pipeline, _ = env
    kb = pipeline.kb
    write_text(kb / "ok.md", "# Title\n\nSome text about leave.")
    write_text(kb / "sheet.xlsx", "not really")
    write_text(kb / "big.txt", "word " * 5000)
    (kb / "bad.docx").write_bytes(b"not a zip")
    make_pdf(kb / "empty.pdf", [""])
    write_text(kb / ".hidden.txt", "ignored")
    write_text(kb / "draft.txt.swp", "ignored")
    sync(pipeline)
    found = statuses(pipeline)
    assert set(found) == {"ok.md", "sheet.xlsx", "big.txt", "bad.docx", "empty.pdf"}
    assert found["ok.md"] == (m.INDEXED, "")
    assert found["sheet.xlsx"][0] == m.UNSUPPORTED and ".pdf" in found["sheet.xlsx"][1]
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


def test_a_new_pipeline_version_reindexes(env):
    pipeline, embedder = env
    write_text(pipeline.kb / "a.txt", "alpha " * 30)
    sync(pipeline)
    before = embedder.embedded
    pipeline.version = "something else"
    assert stale_paths(pipeline, ()) == ["a.txt"]
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
