"""The watcher on a real kb/ folder: events, a dead observer, a deleted kb/ root."""

import shutil

import pytest

from appliance.sync.watch import Watcher
from appliance.sync.worker import SyncWorker
from tests.corpus import write_text
from tests.e2e.conftest import wait_for


@pytest.fixture(params=[False, True], ids=["inotify", "polling"])
def running(request, make_pipeline):
    pipeline = make_pipeline(watcher__polling=request.param)
    s = pipeline.settings
    worker = SyncWorker(pipeline, s.watcher)
    watcher = Watcher(s.paths.kb, worker, polling=s.watcher.polling)
    worker.health_checks.append(watcher.ensure_running)
    worker.start()
    watcher.start()
    yield s.paths.kb, pipeline.manifest, watcher
    watcher.stop()
    worker.stop()


def paths(manifest):
    return {e.path: e.status for e in manifest.entries()}


def test_files_and_folders_added_moved_and_deleted(running):
    kb, manifest, _ = running
    write_text(kb / "docs/a.txt", "alpha")
    write_text(kb / "docs/b.md", "# B\n\nbeta")
    write_text(kb / "docs/.hidden.txt", "never")
    write_text(kb / "docs/~$lock.docx", "never")
    wait_for(
        lambda: paths(manifest) == {"docs/a.txt": "indexed", "docs/b.md": "indexed"},
        20,
        "two files indexed",
    )
    (kb / "docs").rename(kb / "archive")
    wait_for(lambda: set(paths(manifest)) == {"archive/a.txt", "archive/b.md"}, 20, "folder move")
    shutil.rmtree(kb / "archive")
    wait_for(lambda: paths(manifest) == {}, 20, "folder delete")


def test_a_dead_observer_is_restarted_and_the_gap_rescanned(running):
    kb, manifest, watcher = running
    watcher._observer.stop()  # what a handler crash or an inotify failure does
    watcher._observer.join(5)
    write_text(kb / "while-dead.txt", "written while no observer ran")
    wait_for(lambda: watcher.restarts == 1 and watcher.alive(), 10, "the observer restart")
    wait_for(lambda: paths(manifest).get("while-dead.txt") == "indexed", 20, "the rescan")


def test_a_deleted_kb_root_empties_the_index_and_watching_resumes(running):
    kb, manifest, watcher = running
    write_text(kb / "a.txt", "alpha")
    wait_for(lambda: paths(manifest) == {"a.txt": "indexed"}, 20, "a.txt indexed")
    shutil.rmtree(kb)
    wait_for(lambda: paths(manifest) == {}, 20, "the index to follow the deleted kb/")
    kb.mkdir(exist_ok=True)
    write_text(kb / "b.txt", "beta")
    wait_for(lambda: paths(manifest) == {"b.txt": "indexed"}, 20, "b.txt after kb/ came back")
    assert watcher.alive()


def test_ingestion_pauses_when_the_data_dir_is_full_and_resumes(running):
    kb, manifest, watcher = running
    worker = watcher.worker
    worker.min_free_mb = 10**12  # "the disk is full"
    write_text(kb / "while-full.txt", "written while the disk was full")
    wait_for(lambda: worker.paused, 10, "ingestion to pause")
    assert "limits.min_free_mb" in worker.paused
    assert paths(manifest).get("while-full.txt") != "indexed"
    worker.min_free_mb = 0  # space came back
    wait_for(lambda: paths(manifest).get("while-full.txt") == "indexed", 20, "the resume")
    assert worker.paused == ""
