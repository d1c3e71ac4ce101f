#!/usr/bin/env python3
"""Ingestion benchmark: the whole sync pipeline against the raw embedder, measured in one run.

    .venv/bin/python scripts/bench_ingest.py [--corpus DIR] [--limit N] [--big-index 50000]
                                             [--settle S] [--trials 10] [--cache DIR]

The machine is shared and small (2 cores), so absolute figures are noisy: every figure is
printed next to a baseline measured in the same run, and the ratio is what to compare.

1. pipeline   - N HTML pages copied into a temp kb/, fresh data dir, worker.sync_all()
2. raw embed  - embedder.embed_documents on exactly the same chunk texts, in batches of
                embedder.batch_size; half the batches before and half after step 1, so drift
                in the machine's load hits both sides alike
3. reconcile  - stale_paths + a second sync_all on the unchanged kb/ (0 chunks embedded)
4. freshness  - an index holding --big-index synthetic chunks, a real SyncWorker + Watcher,
                a 10-page PDF dropped into kb/ --trials times: landing -> searchable
5. peak RSS

Without --corpus the python3.11-doc HTML pages are fetched with `apt-get download` into
--cache (default /tmp/appliance-bench). Nothing in the repository is written.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import os
import random
import re
import resource
import shutil
import statistics
import string
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # for tests/corpus.py (make_pdf)

from appliance.app import Parts, open_parts  # noqa: E402
from appliance.config import load_settings  # noqa: E402
from appliance.documents import chunk_sections, read_document  # noqa: E402
from appliance.index.edge import IndexedChunk  # noqa: E402
from appliance.sync import manifest as m  # noqa: E402
from appliance.sync import pipeline as pipeline_module  # noqa: E402
from appliance.sync.reconcile import stale_paths  # noqa: E402
from appliance.sync.watch import Watcher  # noqa: E402

DOC_PACKAGE = "python3.11-doc"
DOC_HTML = "usr/share/doc/python3.11/html"
DEFAULT_LIMIT = 30  # see --limit: all ~530 pages would take ~35 min per embedding pass on 2 cores

now = time.perf_counter


# -- corpus ------------------------------------------------------------------------------------
def fetch_corpus(cache: Path) -> Path:
    html = cache / "doc" / DOC_HTML
    if html.is_dir() and any(html.rglob("*.html")):
        return html
    cache.mkdir(parents=True, exist_ok=True)
    debs = sorted(cache.glob(f"{DOC_PACKAGE}_*.deb"))
    if not debs:
        print(f"fetching {DOC_PACKAGE} with apt-get download into {cache} ...", flush=True)
        subprocess.run(["apt-get", "download", DOC_PACKAGE], cwd=cache, check=True)
        debs = sorted(cache.glob(f"{DOC_PACKAGE}_*.deb"))
    subprocess.run(["dpkg", "-x", str(debs[-1]), str(cache / "doc")], check=True)
    return html


def pick_files(corpus: Path, limit: int) -> list[Path]:
    """`limit` files spread evenly over the sorted corpus (not just the first folder)."""
    files = sorted(p for p in corpus.rglob("*") if p.is_file() and p.suffix.lower() == ".html")
    if not files:
        sys.exit(f"no .html files under {corpus}")
    if limit >= len(files):
        return files
    step = len(files) / limit
    return [files[int(i * step)] for i in range(limit)]


# -- instrumentation ---------------------------------------------------------------------------
class Clock:
    """Seconds and calls per label, collected by wrapping methods of live objects."""

    def __init__(self):
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.embedded = 0  # texts given to embed_documents

    def reset(self):
        self.seconds.clear()
        self.calls.clear()
        self.embedded = 0

    def wrap(self, owner, name: str, label: str, count_texts: bool = False):
        original = getattr(owner, name)

        def timed(*args, **kwargs):
            if count_texts:
                self.embedded += len(args[0])
            started = now()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[label] += now() - started
                self.calls[label] += 1

        setattr(owner, name, timed)
        return original


PHASES = [  # label, what it is
    ("stale_paths", "reconcile scan (stale_paths)"),
    ("sha256", "file sha256"),
    ("read+chunk", "read_document + chunk_sections"),
    ("reuse lookup", "index.dense_vectors (vector reuse)"),
    ("dense embed", "embedder.embed_documents"),
    ("multilingual embed", "embedder.embed_multilingual_documents (the second embedder)"),
    ("bm25", "embedder.sparse_document"),
    ("upsert", "index.upsert"),
    ("flush", "index.flush"),
    ("delete", "index.delete_document"),
    ("count", "index.count"),
    ("manifest", "manifest get/put/entries"),
]


def instrument(app: Parts, clock: Clock):
    """Wrap the pipeline's collaborators; returns the unwrapped embed_documents."""
    pipe = app.worker.pipeline
    raw_embed = clock.wrap(app.embedder, "embed_documents", "dense embed", count_texts=True)
    clock.wrap(app.embedder, "embed_multilingual_documents", "multilingual embed")
    clock.wrap(app.embedder, "sparse_document", "bm25")
    clock.wrap(pipe, "_read", "read+chunk")
    clock.wrap(app.index, "dense_vectors", "reuse lookup")
    clock.wrap(app.index, "upsert", "upsert")
    clock.wrap(app.index, "flush", "flush")
    clock.wrap(app.index, "delete_document", "delete")
    clock.wrap(app.index, "count", "count")
    for name in ("get", "put", "entries", "mark_pending", "remove"):
        clock.wrap(app.manifest, name, "manifest")
    # module globals looked up at call time by pipeline.py / worker.py
    original_sha = pipeline_module.sha256_of
    original_stale = sys.modules["appliance.sync.worker"].stale_paths

    def sha(path):
        started = now()
        try:
            return original_sha(path)
        finally:
            clock.seconds["sha256"] += now() - started
            clock.calls["sha256"] += 1

    def stale(*args, **kwargs):
        started = now()
        try:
            return original_stale(*args, **kwargs)
        finally:
            clock.seconds["stale_paths"] += now() - started
            clock.calls["stale_paths"] += 1

    pipeline_module.sha256_of = sha
    sys.modules["appliance.sync.worker"].stale_paths = stale
    return raw_embed


def open_appliance(kb: Path, data: Path, models: Path, settle: float | None) -> Parts:
    overrides = {"paths.kb": str(kb), "paths.data": str(data), "paths.models": str(models)}
    if settle is not None:
        overrides["watcher.settle_s"] = settle
    return open_parts(load_settings(None, env={}, overrides=overrides))


# -- output ------------------------------------------------------------------------------------
def table(title: str, rows: list[tuple[str, str]]):
    width = max(len(r[0]) for r in rows)
    print(f"\n== {title} " + "=" * max(0, 76 - len(title)))
    for label, value in rows:
        print(f"  {label:<{width}}  {value}")


def rss() -> str:
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return f"RSS {fields.get('VmRSS', '?')}, peak {fields.get('VmHWM', '?')}"


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:5.1f}%" if whole else "  -  "


def breakdown_rows(clock: Clock, total: float, per: int = 1) -> list[tuple[str, str]]:
    rows, accounted = [], 0.0
    for label, what in PHASES:
        secs = clock.seconds.get(label, 0.0)
        accounted += secs
        calls = clock.calls.get(label, 0)
        rows.append(
            (
                f"{label:<13} {what}",
                f"{secs / per:8.3f} s  {pct(secs, total)}  ({calls / per:g} calls)",
            )
        )
    other = total - accounted
    rows.append(
        (
            f"{'other':<13} worker/pipeline glue, IndexedChunk build",
            f"{other / per:8.3f} s  {pct(other, total)}",
        )
    )
    return rows


# -- 2. raw baseline -----------------------------------------------------------------------------
def embed_batches(raw_embed, batches: list[list[str]]) -> float:
    started = now()
    for batch in batches:
        raw_embed(batch)
    return now() - started


# -- 4. freshness ------------------------------------------------------------------------------
def random_word(rng: random.Random, n: int = 10) -> str:
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(n))


def fill_big_index(app: Parts, total: int, vocab: list[str], rng: random.Random) -> int:
    """`total` synthetic chunks under kb/synthetic/*.txt, consistent with the manifest, so the
    worker's start-up reconcile keeps them (100 chunks per synthetic file)."""
    import numpy as np

    pipe, index, embedder = app.worker.pipeline, app.index, app.embedder
    per_file = 100
    n_files = max(1, (total + per_file - 1) // per_file)
    dim = app.settings.embedder.dim
    np_rng = np.random.default_rng(7)
    written = 0
    for f in range(n_files):
        rel = f"synthetic/doc{f:05d}.txt"
        path = pipe.kb / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"synthetic document {f}\n", encoding="utf-8")
        st = path.stat()
        sha = pipeline_module.sha256_of(path)
        n = min(per_file, total - written)
        vectors = np_rng.standard_normal((n, dim)).astype("float32")
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        points = []
        for i, vector in enumerate(vectors.tolist()):
            text = " ".join(rng.choices(vocab, k=120))
            points.append(
                IndexedChunk(
                    rel,
                    f"synthetic {f}",
                    st.st_mtime_ns / 1e9,
                    sha,
                    hashlib.sha256(f"{rel}{i}{text}".encode()).hexdigest()[:32],
                    i,
                    None,
                    "",
                    text,
                    vector,
                    embedder.sparse_document(text),
                )
            )
        index.upsert(points)
        app.manifest.put(
            m.Entry(
                rel, st.st_size, st.st_mtime_ns, sha, m.INDEXED, "", n, time.time(), pipe.version
            )
        )
        index.publish(rel, sha)
        written += n
    index.flush()
    return written


def freshness(args, models: Path, vocab: list[str], work: Path, clock: Clock):
    from tests.corpus import make_pdf

    rng = random.Random(11)
    kb, data, staging = work / "fresh-kb", work / "fresh-data", work / "staging"
    for d in (kb, data, staging):
        d.mkdir(parents=True)
    app = open_appliance(kb, data, models, args.settle)
    settle = app.settings.watcher.settle_s

    started = now()
    filled = fill_big_index(app, args.big_index, vocab, rng)
    fill_s = now() - started
    print(f"  filled the index with {filled} synthetic chunks in {fill_s:.1f} s", flush=True)

    raw_embed = instrument(app, clock)
    clock.reset()
    (kb / "fresh").mkdir()  # before the watcher starts: a new folder triggers a full rescan
    worker = app.worker
    watcher = Watcher(kb, worker, app.settings.watcher.polling)
    worker.health_checks.append(watcher.ensure_running)
    started = now()
    worker.start()
    watcher.start()
    worker.startup_done.wait(600)
    startup_s = now() - started
    startup_embedded = clock.embedded
    kept = app.index.count()
    clock.reset()

    candidates = app.settings.index.candidates
    results = []  # (latency, baseline embed seconds, chunks, search polls)
    for trial in range(args.trials):
        token = "zq" + random_word(rng, 12)  # letters only: one BM25 token
        pages = []
        for p in range(10):
            words = rng.choices(vocab, k=args.page_words)
            if p in (0, 9):
                words.insert(len(words) // 2, token)
            pages.append(f"Page {p + 1} of trial {trial}\n" + " ".join(words))
        rel = f"fresh/trial{trial:02d}.pdf"
        built = make_pdf(staging / f"trial{trial:02d}.pdf", pages)
        q_dense = app.embedder.embed_query(token)
        q_sparse = app.embedder.sparse_query(token)
        # baseline: the raw embed time of this document's chunks, measured just before and
        # just after the trial (the mean of the two)
        r, b = app.settings.retrieval, app.settings.embedder.batch_size
        count = app.embedder.count_tokens
        sections = read_document(built)
        chunks = chunk_sections(sections, rel, r.chunk_tokens, r.chunk_overlap_tokens, count)
        texts = [c.text for c in chunks]
        batches = [texts[i : i + b] for i in range(0, len(texts), b)]
        before_s = embed_batches(raw_embed, batches)
        landed = now()
        os.replace(built, kb / rel)  # the file lands in kb/ in one step
        polls, found = 0, None
        while now() - landed < 120:
            polls += 1
            hits = app.index.search(q_dense, q_sparse, 5, candidates)
            if any(h.source == rel and token in h.text for h in hits):
                found = now() - landed
                break
            time.sleep(0.05)
        while worker.pending():
            time.sleep(0.05)
        embed_s = (before_s + embed_batches(raw_embed, batches)) / 2
        results.append((found, embed_s, len(texts), polls))
        print(
            f"  trial {trial}: {'not found' if found is None else f'{found:.2f} s'}"
            f" ({len(texts)} chunks, raw embed {embed_s:.2f} s)",
            flush=True,
        )
        time.sleep(0.3)
    per_update = dict(clock.seconds), dict(clock.calls)
    watcher.stop()
    worker.stop()
    app.close()
    return dict(
        settle=settle,
        filled=filled,
        fill_s=fill_s,
        startup_s=startup_s,
        startup_embedded=startup_embedded,
        kept=kept,
        results=results,
        per_update=per_update,
    )


def quantile(values: list[float], q: float) -> float:
    values = sorted(values)
    if len(values) == 1:
        return values[0]
    pos = q * (len(values) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (pos - lo)


# -- main --------------------------------------------------------------------------------------
def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, help="folder of .html files (default: python3.11-doc)")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/appliance-bench"))
    ap.add_argument(
        "--limit",
        type=int,
        default=DEFAULT_LIMIT,
        help=f"files to ingest, spread over the corpus (default {DEFAULT_LIMIT}: the ~530 pages "
        "of python3.11-doc are ~16,700 chunks, ~35 min of embedding on 2 cores per pass)",
    )
    ap.add_argument("--big-index", type=int, default=50_000, help="chunks in the freshness index")
    ap.add_argument("--settle", type=float, default=None, help="watcher.settle_s (default: config)")
    ap.add_argument("--trials", type=int, default=10, help="documents dropped for freshness")
    ap.add_argument("--page-words", type=int, default=250, help="words per page of those PDFs")
    ap.add_argument("--models", type=Path, default=REPO / "models")
    ap.add_argument("--skip-freshness", action="store_true")
    args = ap.parse_args()

    t_start = now()
    corpus = args.corpus or fetch_corpus(args.cache)
    files = pick_files(corpus, args.limit)
    work = Path(
        tempfile.mkdtemp(prefix="bench-ingest-", dir=args.cache if args.cache.is_dir() else None)
    )
    print(f"corpus {corpus}: {len(files)} files; work dir {work}; load avg {loadavg()}", flush=True)
    if args.limit == DEFAULT_LIMIT and args.corpus is None:
        print(
            f"note: --limit defaults to {DEFAULT_LIMIT}, not 500: all ~530 pages are ~16,700 "
            "chunks, i.e. ~35 min per embedding pass at ~8 chunks/s on 2 cores",
            flush=True,
        )
    try:
        kb, data = work / "kb", work / "data"
        rels = []
        for f in files:
            rel = f.relative_to(corpus).as_posix()
            (kb / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, kb / rel)
            rels.append(rel)

        started = now()
        app = open_appliance(kb, data, args.models, args.settle)
        open_s = now() - started
        s = app.settings
        clock = Clock()
        raw_embed = instrument(app, clock)

        # the chunk texts the pipeline will embed: same files, same reader, same settings
        started = now()
        texts, per_file = [], {}
        for rel in sorted(rels):
            r = s.retrieval
            chunks = chunk_sections(
                read_document(kb / rel),
                rel,
                r.chunk_tokens,
                r.chunk_overlap_tokens,
                app.embedder.count_tokens,
            )
            texts += [c.text for c in chunks]
            per_file[rel] = len(chunks)
        read_s = now() - started
        b = s.embedder.batch_size
        batches = [texts[i : i + b] for i in range(0, len(texts), b)]
        raw_embed(batches[0])  # warm-up (ONNX session, allocator) for both sides
        rss_rows = [("after open + warm-up", rss())]

        # 1 + 2, interleaved: after each file sync_all reports (its progress callback), the raw
        # baseline embeds as many of the same chunk texts, in global batches of batch_size.
        # Both sides see the same machine load; the callback's time is taken out of the
        # pipeline's time.
        print(
            f"pipeline: sync_all over {len(rels)} files ({len(texts)} chunks), raw embed "
            "interleaved ...",
            flush=True,
        )
        state = {"raw_s": 0.0, "raw_n": 0, "next": 0, "target": 0, "cb_s": 0.0}
        marks = []  # (pipeline seconds, raw seconds, chunks) after each file

        def raw_upto(target: int):
            while state["raw_n"] < target and state["next"] < len(batches):
                batch = batches[state["next"]]
                t0 = now()
                raw_embed(batch)
                state["raw_s"] += now() - t0
                state["raw_n"] += len(batch)
                state["next"] += 1

        def progress(done, total, rel):
            t0 = now()
            pipe_elapsed = t0 - pipe_started - state["cb_s"]
            state["target"] += per_file.get(rel, 0)
            raw_upto(state["target"])
            marks.append((pipe_elapsed, state["raw_s"], state["target"]))
            state["cb_s"] += now() - t0
            if done % 10 == 0 or done == total:
                print(f"  {done}/{total} files", flush=True)

        clock.reset()
        pipe_started = now()
        visited = app.worker.sync_all(progress)
        pipe_s = now() - pipe_started - state["cb_s"]
        raw_upto(len(texts))
        raw_s = state["raw_s"]
        pipe_clock = (dict(clock.seconds), dict(clock.calls), clock.embedded)
        stored = app.index.count()
        statuses = defaultdict(int)
        for e in app.manifest.entries():
            statuses[e.status] += 1
        rss_rows.append(("after pipeline", rss()))
        raw_rate = len(texts) / raw_s
        pipe_rate = stored / pipe_s
        embedded = pipe_clock[2]
        # the ratio over each half of the files, to show how stable it is
        halves = []
        if len(marks) >= 2:
            mid = marks[len(marks) // 2 - 1]
            end = (pipe_s, raw_s, len(texts))
            for (p0, r0, c0), (p1, r1, c1) in (((0, 0, 0), mid), (mid, end)):
                if p1 > p0 and r1 > r0:
                    halves.append(((c1 - c0) / (p1 - p0)) / ((c1 - c0) / (r1 - r0)))
        embed_only = (
            embedded / pipe_clock[0]["dense embed"] if pipe_clock[0].get("dense embed") else 0
        )

        # 3. reconcile on the unchanged kb/
        clock.reset()
        started = now()
        todo = stale_paths(app.worker.pipeline, s.watcher.ignore)
        stale_s = now() - started
        started = now()
        visited2 = app.worker.sync_all()
        resync_s = now() - started
        resync_embedded = clock.embedded
        app.close()

        table(
            "1. pipeline: worker.sync_all() on a fresh data dir",
            [
                (
                    "files",
                    f"{len(rels)} visited {visited}; manifest: "
                    + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())),
                ),
                ("chunks stored", f"{stored}  (embedded {embedded}, reused {stored - embedded})"),
                ("seconds", f"{pipe_s:.1f}   (open_parts: {open_s:.2f} s, not included)"),
                ("files/s", f"{len(rels) / pipe_s:.2f}"),
                ("chunks/s", f"{pipe_rate:.2f}"),
            ],
        )
        table(
            "2. baseline: raw embedder.embed_documents, same chunk texts, same run",
            [
                ("chunks", f"{len(texts)} in {len(batches)} batches of {b}"),
                ("seconds", f"{raw_s:.1f}  (interleaved file by file with the pipeline)"),
                ("chunks/s", f"{raw_rate:.2f}"),
                (
                    "RATIO pipeline/raw",
                    f"{pipe_rate / raw_rate:.3f}   (target >= 0.85) "
                    + ("PASS" if pipe_rate / raw_rate >= 0.85 else "FAIL"),
                ),
                ("ratio, 1st/2nd half", " / ".join(f"{h:.3f}" for h in halves) or "-"),
                (
                    "embed calls alone",
                    f"pipeline's embed_documents {embed_only:.2f} chunks/s = "
                    f"{embed_only / raw_rate:.3f} x raw",
                ),
                ("read+chunk alone", f"{read_s:.2f} s for all files (standalone, before the run)"),
            ],
        )
        sec, calls, _ = pipe_clock
        clock.seconds.clear(), clock.seconds.update(sec)
        clock.calls.clear(), clock.calls.update(calls)
        table(f"2b. where pipeline time goes ({pipe_s:.1f} s)", breakdown_rows(clock, pipe_s))
        table(
            "3. reconcile on the unchanged kb/",
            [
                ("stale_paths", f"{stale_s:.3f} s -> {len(todo)} stale paths"),
                (
                    "sync_all (2nd)",
                    f"{resync_s:.3f} s -> {visited2} visited, "
                    f"{resync_embedded} chunks embedded (must be 0)",
                ),
                (
                    "total",
                    f"{stale_s + resync_s:.3f} s for {len(rels)} files (target <= 2 s) "
                    + ("PASS" if stale_s + resync_s <= 2 and resync_embedded == 0 else "FAIL"),
                ),
            ],
        )

        # 4. freshness
        if not args.skip_freshness:
            vocab = sorted({w.lower() for t in texts for w in re.findall(r"[A-Za-z]{3,12}", t)})
            print(f"\nfreshness: filling a {args.big_index}-chunk index ...", flush=True)
            rss_rows.append(("after reconcile", rss()))
            # drop the first appliance (its ONNX session and arena) before opening the second
            del app, raw_embed, clock
            gc.collect()
            rss_rows.append(("after dropping it", rss()))
            fr = freshness(args, args.models, vocab, work, Clock())
            rss_rows.append(("after freshness (incl. big index)", rss()))
            lat = [r[0] for r in fr["results"] if r[0] is not None]
            missed = sum(r[0] is None for r in fr["results"])
            base = [fr["settle"] + r[1] for r in fr["results"]]
            over = [r[0] - fr["settle"] - r[1] for r in fr["results"] if r[0] is not None]
            chunks = [r[2] for r in fr["results"]]
            rows = [
                (
                    "index",
                    f"{fr['kept']} chunks at worker start-up (filled {fr['filled']} "
                    f"synthetic in {fr['fill_s']:.1f} s)",
                ),
                (
                    "start-up reconcile",
                    f"{fr['startup_s']:.2f} s, {fr['startup_embedded']} chunks embedded",
                ),
                (
                    "documents",
                    f"{len(fr['results'])} x 10-page PDF, {statistics.mean(chunks):.1f} "
                    f"chunks each, settle_s {fr['settle']:g}, polling search every 50 ms",
                ),
            ]
            if lat:
                p95 = quantile(lat, 0.95)
                rows += [
                    (
                        "landing -> searchable",
                        f"p50 {quantile(lat, 0.5):.2f} s   p95 {p95:.2f} s   "
                        f"max {max(lat):.2f} s  (target p95 <= 3 s) "
                        + ("PASS" if p95 <= 3 and not missed else "FAIL"),
                    ),
                    (
                        "baseline settle+embed",
                        f"p50 {quantile(base, 0.5):.2f} s   p95 {quantile(base, 0.95):.2f} s",
                    ),
                    (
                        "overhead beyond it",
                        f"p50 {quantile(over, 0.5):.2f} s   p95 {quantile(over, 0.95):.2f} s",
                    ),
                ]
            if missed:
                rows.append(("NOT FOUND", f"{missed} documents within 120 s"))
            table("4. freshness: drop a document into kb/, poll index.search", rows)
            sec, calls = fr["per_update"]
            c = Clock()
            c.seconds.update(sec), c.calls.update(calls)
            n = len(fr["results"])
            total = sum(sec.values())
            table(
                f"4b. per update, mean of {n} ({fr['kept']}-chunk index; sum of timed phases "
                f"{total / n:.2f} s)",
                breakdown_rows(c, total, per=n)[:-1],
            )

        rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        table(
            "5. process",
            [
                ("peak RSS", f"{rss_kb / 1024:.0f} MiB (getrusage ru_maxrss)"),
                *rss_rows,
                ("at end", rss()),
                ("wall time", f"{now() - t_start:.0f} s"),
                ("load avg at end", loadavg()),
                ("cores", str(os.cpu_count())),
            ],
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
