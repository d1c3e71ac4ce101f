#!/usr/bin/env python3
"""A note dropped into kb/ while a big file is embedded: how long until it is searchable, with
the big file set aside for it (the default) and with the note waiting for the big file (the
baseline, SET_ASIDE_AFTER_S infinite), measured in the same run, trials alternating.

    .venv/bin/python scripts/bench_behind_big_file.py [--passages 1500] [--trials 1]

A real worker and watcher on a temp kb/ and data dir, the default models. Also printed: the
big file's own landing -> indexed time in both modes (what setting it aside costs it: reading
it again) and the passages embedded (each once in both modes).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from appliance.app import open_parts  # noqa: E402
from appliance.config import load_settings  # noqa: E402
from appliance.sync import manifest as m  # noqa: E402
from appliance.sync import pipeline as pipeline_module  # noqa: E402
from appliance.sync.watch import Watcher  # noqa: E402

SET_ASIDE, WAITING = "set aside", "waiting"
now = time.perf_counter


def big_text(passages: int, trial: int) -> str:
    """A manual of `passages` paragraphs of about 60 words, different in each trial."""
    return "\n\n".join(
        f"Section {trial}.{i}. The maintenance step {i} of unit {trial} checks the valve, "
        f"records pressure {i * 7 % 97} kPa, and {'replaces the filter and ' * 8}logs it."
        for i in range(passages)
    )


def trial(parts, mode: str, n: int, passages: int) -> dict:
    kb, worker = parts.settings.paths.kb, parts.worker
    big, note = f"manual-{n}.txt", f"note-{n}.txt"
    token = f"zqnote{n}drill"
    pipeline_module.SET_ASIDE_AFTER_S = 5.0 if mode == SET_ASIDE else float("inf")
    embedded_before = counter["texts"]
    landed = now()
    (kb / big).write_text(big_text(passages, n))
    while (worker.current or {}).get("path") != big or worker.current.get("done", 0) < 64:
        time.sleep(0.05)
    (kb / note).write_text(f"The fire drill {token} is on Tuesday at ten, in the car park.")
    dropped = now()
    dense, sparse = parts.embedder.embed_query(token), parts.embedder.sparse_query(token)
    note_s = None
    while note_s is None or (entry := parts.manifest.get(big)) is None or entry.status != m.INDEXED:
        if note_s is None:
            hits = parts.index.search(dense, sparse, 5, parts.settings.index.candidates)
            if any(h.source == note for h in hits):
                note_s = now() - dropped
        time.sleep(0.05)
    return {
        "mode": mode,
        "note_s": note_s,
        "big_s": now() - landed,
        "embedded": counter["texts"] - embedded_before,
        "chunks": parts.index.count(big) + parts.index.count(note),
    }


counter = {"texts": 0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--passages", type=int, default=1500, help="paragraphs in the big file")
    ap.add_argument("--trials", type=int, default=1, help="trials per mode")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-big-") as tmp:
        work = Path(tmp)
        (work / "kb").mkdir()
        settings = load_settings(
            None,
            env={},
            overrides={
                "paths.kb": str(work / "kb"),
                "paths.data": str(work / "data"),
                "paths.models": str(REPO / "models"),
            },
        )
        parts = open_parts(settings)
        embed = parts.embedder.embed_documents

        def counted(texts):
            counter["texts"] += len(texts)
            return embed(texts)

        parts.embedder.embed_documents = counted
        watcher = Watcher(settings.paths.kb, parts.worker, settings.watcher.polling)
        parts.worker.start()
        watcher.start()
        parts.worker.startup_done.wait(60)
        results = []
        try:
            for n in range(2 * args.trials):
                mode = (SET_ASIDE, WAITING)[n % 2]
                results.append(trial(parts, mode, n, args.passages))
                r = results[-1]
                print(
                    f"  trial {n} ({mode}): note searchable {r['note_s']:.2f} s after the drop, "
                    f"big file indexed {r['big_s']:.1f} s after landing; "
                    f"{r['embedded']} passages embedded for {r['chunks']} chunks",
                    flush=True,
                )
        finally:
            watcher.stop()
            parts.close()
    print()
    mean = {
        mode: {
            key: statistics.mean(r[key] for r in results if r["mode"] == mode)
            for key in ("note_s", "big_s")
        }
        for mode in (SET_ASIDE, WAITING)
    }
    aside, waiting = mean[SET_ASIDE], mean[WAITING]
    print(
        f"note dropped -> searchable: {aside['note_s']:.2f} s set aside vs "
        f"{waiting['note_s']:.2f} s waiting ({aside['note_s'] / waiting['note_s']:.2f}x)"
    )
    print(
        f"big file landing -> indexed: {aside['big_s']:.1f} s set aside vs "
        f"{waiting['big_s']:.1f} s waiting ({aside['big_s'] / waiting['big_s']:.2f}x)"
    )
    twice = [r for r in results if r["embedded"] != r["chunks"]]
    print(f"trials embedding a passage twice (or missing one): {len(twice)} of {len(results)}")


if __name__ == "__main__":
    main()
