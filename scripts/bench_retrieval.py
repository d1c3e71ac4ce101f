"""Retrieval at scale: latency, memory and start-up time with a large index.

Builds an index of --chunks synthetic chunks (random unit vectors and real BM25 vectors of
random words, spread over files that really exist in a kb/ folder, with matching manifest
rows), then measures, in one run:
  - the bare engine: the hybrid query alone (dense + BM25 prefetch, RRF fusion, payload),
  - the whole retrieval: query embedding + the same query + filtering (what a user waits for),
  - queries while the HNSW index is built in the background (optimize must not block them),
  - queries of users granted some of the folders (access by folder filters in the engine),
  - questions in Chinese, searched with the multilingual embedder's vector too (random
    vectors of its size in the index; a quarter of the files are in Chinese: store.rankings),
  - resident memory, time to reopen the index, and `appliance serve` start-up to /ready.

    .venv/bin/python scripts/bench_retrieval.py [--chunks 100000] [--backend edge]
"""

from __future__ import annotations

import argparse
import hashlib
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from appliance.app import open_parts, open_store  # noqa: E402
from appliance.config import load_settings  # noqa: E402
from appliance.index.store import IndexedChunk, SearchFilter  # noqa: E402
from appliance.sync import manifest as m  # noqa: E402
from appliance.sync.pipeline import pipeline_version  # noqa: E402

WORDS = (
    "leave policy printer badge canteen expenses travel laptop wifi security contract salary "
    "holiday reception parking meeting budget invoice server backup password network vpn "
    "office manager training safety fire drill insurance pension overtime remote desk"
).split()
QUERIES = [
    "how many days of annual leave",
    "printer on the third floor is broken",
    "how do I claim travel expenses",
    "vpn password reset",
    "fire drill procedure",
    "pension and insurance",
    "who approves overtime",
    "guest wifi at reception",
]
CHINESE_WORDS = (
    "年假 政策 打印机 工牌 食堂 报销 差旅 电脑 无线网络 安全 合同 工资 假期 前台 停车 会议 预算 "
    "发票 服务器 备份 密码 网络 办公室 经理 培训 消防 演习 保险 养老金 加班 远程 工位"
).split()
CHINESE_FILES = 4  # one file in this many is in Chinese, the others in English
CHINESE_QUERIES = [  # searched with the multilingual embedder's vector too
    "每年有多少天年假",
    "三楼的打印机坏了",
    "差旅费怎么报销",
    "怎样重置 VPN 密码",
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build(settings, chunks: int, per_file: int, embedder) -> float:
    """A consistent kb/ + manifest + index, as if every file had been ingested."""
    rng = random.Random(7)
    np_rng = np.random.default_rng(7)
    version = pipeline_version(settings)
    store = open_store(settings)
    manifest = m.Manifest(settings.paths.data / "manifest.sqlite3")
    started = time.perf_counter()
    files = chunks // per_file
    for f in range(files):
        rel = f"dept{f % 20}/file{f}.txt"
        path = settings.paths.kb / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"synthetic file {f}\n")
        st = path.stat()
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        vectors = unit_vectors(np_rng, per_file, settings.embedder.dim)
        second = embedder.multilingual_dim
        multilingual = unit_vectors(np_rng, per_file, second) if second else [None] * per_file
        batch = []
        chinese = f % CHINESE_FILES == 0
        for i in range(per_file):
            words = [rng.choice(CHINESE_WORDS if chinese else WORDS) for _ in range(120)]
            words[rng.randrange(120)] = part_number(f, i)  # an identifier, held once
            text = ("，" if chinese else " ").join(words)
            batch.append(
                IndexedChunk(
                    rel,
                    f"File {f}",
                    st.st_mtime,
                    sha,
                    f"{f}:{i}",
                    i,
                    None,
                    "",
                    text,
                    vectors[i],
                    embedder.sparse_document(text, "chinese" if chinese else "english"),
                    multilingual=multilingual[i],
                    language="chinese" if chinese else "english",
                )
            )
        store.upsert(batch)
        manifest.put(
            m.Entry(
                rel, st.st_size, st.st_mtime_ns, sha, m.INDEXED, "", per_file, time.time(), version
            )
        )
    store.close()
    manifest.close()
    return time.perf_counter() - started


def unit_vectors(rng, count: int, dim: int) -> list[list[float]]:
    vectors = rng.normal(size=(count, dim)).astype(np.float32)
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).tolist()


def part_number(file: int, chunk: int) -> str:
    return f"ZX-{file:06d}{chunk:02d}"


def identifier_questions(files: int, per_file: int, count: int = 50) -> list[tuple[str, str]]:
    rng = random.Random(11)
    picks = [(rng.randrange(files), rng.randrange(per_file)) for _ in range(count)]
    return [
        (f"Which unit does part {part_number(f, i)} fit?", f"dept{f % 20}/file{f}.txt")
        for f, i in picks
    ]


def file_questions(files: int, count: int = 50) -> list[tuple[str, str]]:
    """Questions naming a file (file1234) about random words: the search alone rarely
    brings that file, so the retriever searches it on its own."""
    rng = random.Random(13)
    picks = [(rng.randrange(files), rng.randrange(len(QUERIES))) for _ in range(count)]
    return [
        (f"What does file{f} say about {QUERIES[q]}?", f"dept{f % 20}/file{f}.txt")
        for f, q in picks
    ]


def time_named_questions(retriever, questions) -> tuple[list[float], int]:
    """Whole retrieval of questions naming a part number or a file; how many put its file
    first."""
    times, first = [], 0
    for question, source in questions:
        t = time.perf_counter()
        hits = retriever.retrieve(question, 5).citations
        times.append((time.perf_counter() - t) * 1000)
        first += bool(hits) and hits[0].source == source
    return times, first


def time_queries(
    retriever, store, embedder, rounds: int, where: SearchFilter | None = None, queries=QUERIES
) -> tuple[list[float], list[float]]:
    engine, whole = [], []
    for r in range(rounds):
        q = queries[r % len(queries)]
        dense, sparse = embedder.embed_query(q), embedder.sparse_query(q)
        multilingual = embedder.embed_multilingual_query(q)
        t = time.perf_counter()
        store.search(dense, sparse, 5, 30, where, multilingual=multilingual)
        engine.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        hits = retriever.retrieve(q, 5, where).citations
        whole.append((time.perf_counter() - t) * 1000)
        if where is not None and where.within is not None:
            outside = [h.source for h in hits if h.source.split("/")[0] not in where.within]
            assert not outside, f"a user's search returned files outside their grants: {outside}"
    return engine, whole


GRANTS = {  # a user's folders (of the 20 dept* folders): a share of the index each
    "1 folder (5 %)": ("dept3",),
    "2 folders (10 %)": ("dept3", "dept11"),
    "10 folders (50 %)": tuple(f"dept{d}" for d in range(0, 20, 2)),
}


def serve_until_ready(settings, config: Path) -> float:
    port = 18765
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "appliance", "serve", "--config", str(config), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while time.perf_counter() - started < 300:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=2) as r:
                    if r.status == 200:
                        return time.perf_counter() - started
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("the server never became ready")
    finally:
        proc.terminate()
        proc.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--per-file", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--backend", default="edge", choices=["edge", "qdrant"])
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-retrieval-") as tmp:
        root = Path(tmp)
        config = root / "appliance.yaml"
        config.write_text(
            f"paths:\n  kb: kb\n  data: data\n  models: {ROOT / 'models'}\n"
            f"index:\n  backend: {args.backend}\nwatcher:\n  rescan_interval_s: 3600\n"
        )
        settings = load_settings(config, env={})
        settings.paths.kb.mkdir(parents=True)
        from appliance.index.embedder import Embedder

        embedder = Embedder(
            settings.embedder, settings.embedder_dir, settings.multilingual_embedder
        )
        build_s = build(settings, args.chunks, args.per_file, embedder)
        files = args.chunks // args.per_file
        print(f"built {args.chunks} chunks in {files} files: {build_s:.1f} s")

        t = time.perf_counter()
        parts = open_parts(settings)
        open_s = time.perf_counter() - t
        store, retriever = parts.index, parts.retriever
        time_queries(retriever, store, embedder, 10)  # warm up
        engine, whole = time_queries(retriever, store, embedder, args.rounds)

        optimize = getattr(getattr(store, "_shard", None), "optimize", None)
        during: list[float] = []
        optimize_s = 0.0
        if optimize is not None:
            done = threading.Event()

            def build_hnsw():
                nonlocal optimize_s
                t0 = time.perf_counter()
                optimize()
                optimize_s = time.perf_counter() - t0
                done.set()

            threading.Thread(target=build_hnsw).start()
            while not done.is_set():
                engine_part, whole_part = time_queries(retriever, store, embedder, 1)
                during.append(engine_part[0] + whole_part[0])
        engine_hnsw, whole_hnsw = time_queries(retriever, store, embedder, args.rounds)
        granted = {
            name: time_queries(retriever, store, embedder, args.rounds, SearchFilter(within=f))
            for name, f in GRANTS.items()
        }
        chinese = time_queries(retriever, store, embedder, args.rounds, queries=CHINESE_QUERIES)
        questions = identifier_questions(files, args.per_file)
        ident, ident_first = time_named_questions(retriever, questions)
        named, named_first = time_named_questions(retriever, file_questions(files))
        rss = rss_mb()
        parts.close()
        ready_s = serve_until_ready(settings, config)

    def row(name, values):
        if values:
            print(f"{name:<52} {statistics.median(values):>8.2f} {percentile(values, 0.95):>8.2f}")

    print(f"\nbackend={args.backend}  chunks={args.chunks}  rounds={args.rounds}")
    print(f"{'query latency (ms)':<52} {'p50':>8} {'p95':>8}")
    row("bare engine (hybrid query), before HNSW", engine)
    row("whole retrieval (embed + query), before", whole)
    row("engine + whole retrieval during HNSW build", during)
    if during:
        print(f"{'   slowest query during the build':<52} {max(during):>8.2f}")
    row("bare engine (hybrid query), after HNSW", engine_hnsw)
    row("whole retrieval (embed + query), after", whole_hnsw)
    row("bare engine, questions in Chinese (one fused search)", chinese[0])
    row("whole retrieval, questions in Chinese", chinese[1])
    row("whole retrieval, questions naming a part no.", ident)
    row("whole retrieval, questions naming a file", named)
    for name, (engine_user, whole_user) in granted.items():
        row(f"bare engine, a user granted {name}", engine_user)
        row(f"whole retrieval, a user granted {name}", whole_user)
    whole_p50, engine_p50 = statistics.median(whole_hnsw), statistics.median(engine_hnsw)
    print(
        f"\nquery embedding ≈ {whole_p50 - engine_p50:.2f} ms of the whole; "
        f"whole / bare engine p50 = {whole_p50 / engine_p50:.1f}x"
    )
    print(
        f"questions in Chinese (also searched with the multilingual embedder's vector): "
        f"whole retrieval p50 {statistics.median(chinese[1]) / whole_p50:.2f}x, "
        f"p95 {percentile(chinese[1], 0.95) / percentile(whole_hnsw, 0.95):.2f}x the English ones'"
    )
    print(
        f"questions naming a part number: its file first in {ident_first} of {len(ident)}; "
        f"p50 {statistics.median(ident) / whole_p50:.2f}x the plain questions' "
        "(a third search, for the identifier)"
    )
    print(
        f"questions naming a file: it comes first in {named_first} of {len(named)}; "
        f"p50 {statistics.median(named) / whole_p50:.2f}x the plain questions' "
        "(searches limited to that file: to find it when the others missed it, and for "
        "more of its passages)"
    )
    for name, (_, whole_user) in granted.items():
        print(
            f"a user granted {name}: whole retrieval p95 "
            f"{percentile(whole_user, 0.95) / percentile(whole_hnsw, 0.95):.2f}x an admin's"
        )
    print(f"HNSW build (optimize): {optimize_s:.1f} s, {len(during)} queries answered meanwhile")
    print(f"open index: {open_s:.2f} s   peak RSS: {rss:.0f} MB   serve → /ready: {ready_s:.2f} s")


if __name__ == "__main__":
    main()
