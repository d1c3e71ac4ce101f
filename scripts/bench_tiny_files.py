"""Many tiny files against a real `appliance serve`: --files text files of one sentence each
("Tiny note: <made-up word>."), dropped as fast as possible into kb/ in sub-folders of 1000,
while the watcher ingests them. Measures:

- seconds to index all of them (totals.indexed == --files) and files/s;
- GET /api/documents latency, polled every second during the ingest and for --after-s seconds
  after it, as p50/p95 and as a ratio against GET /health polled alongside (the baseline:
  the same server, the same machine load, an endpoint that does no work);
- the server's RSS (VmRSS from /proc/PID/status) at start, peak and end;
- that a search for the made-up word of a random file finds that file;
- a restart: seconds until /ready (a start-up reconcile of N unchanged files), and how many
  documents it embedded again (the log's "event": "document" lines; must be 0).

    .venv/bin/python scripts/bench_tiny_files.py [--files 100000] [--timeout-s 3600]
                                                 [--after-s 20] [--keep DIR]

Everything happens in a temp dir (or --keep DIR, left in place, with server.log); nothing in
the repository is written. The embedder does ~20 short chunks/s on 2 cores, so the default
100000 files take well over an hour; --files 3000 takes a few minutes.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the tests' server harness

from tests.e2e.conftest import Server, document_events  # noqa: E402

PER_FOLDER = 1000
ONSETS = ["b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "kr", "tr"]
VOWELS = ["a", "e", "i", "o", "u"]
SYLLABLES = [o + v for o in ONSETS for v in VOWELS]  # 85

now = time.perf_counter


def codeword(i: int) -> str:
    """A made-up word, unique per i: i written in base 85 syllables, then a fixed tail."""
    parts = []
    for _ in range(4):
        i, digit = divmod(i, len(SYLLABLES))
        parts.append(SYLLABLES[digit])
    return "".join(parts) + "quin"


def rel_path(i: int) -> str:
    return f"d{i // PER_FOLDER:03d}/note{i:06d}.txt"


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def proc_status(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM in MiB."""
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) / 1024
    except OSError:
        pass
    return out


def timed_start(server: Server) -> float:
    """Start the server and wait for /ready (a start-up reconcile of 100,000 files takes a
    while); returns the seconds it took."""
    started = now()
    server.start(timeout=600)
    return now() - started


class Poller(threading.Thread):
    """Every second: GET /api/documents, GET /health, the server's RSS; tagged with a phase."""

    def __init__(self, server: Server):
        super().__init__(daemon=True)
        self.server = server
        self.phase = "ingest"
        self.samples: list[tuple[str, str, float]] = []  # (phase, endpoint, ms)
        self.errors: dict[str, int] = {}
        self.rss: list[tuple[float, float]] = []  # (seconds since start, MiB)
        self.latest: dict | None = None
        self.stopping = threading.Event()
        self.t0 = now()

    def timed(self, path: str):
        started = now()
        try:
            status, body = self.server.get(path)
        except Exception as err:  # noqa: BLE001 — counted, the run goes on
            key = f"{path} {type(err).__name__}"
            self.errors[key] = self.errors.get(key, 0) + 1
            return None
        ms = (now() - started) * 1000
        if status != 200:
            key = f"{path} http {status}"
            self.errors[key] = self.errors.get(key, 0) + 1
            return None
        self.samples.append((self.phase, path, ms))
        return body

    def run(self):
        while not self.stopping.is_set():
            tick = now()
            phase = self.phase
            body = self.timed("/api/documents")
            if body is not None and phase == self.phase:
                self.latest = body
            self.timed("/health")
            mib = proc_status(self.server.proc.pid).get("VmRSS")
            if mib is not None:
                self.rss.append((now() - self.t0, mib))
            self.stopping.wait(max(0.0, 1.0 - (now() - tick)))

    def latencies(self, phase: str, path: str) -> list[float]:
        return [ms for p, e, ms in self.samples if p == phase and e == path]


def drop_files(kb: Path, n: int) -> float:
    started = now()
    for folder in range((n + PER_FOLDER - 1) // PER_FOLDER):
        (kb / f"d{folder:03d}").mkdir(exist_ok=True)
    for i in range(n):
        with open(kb / rel_path(i), "w") as f:
            f.write(f"Tiny note: {codeword(i)}.\n")
    return now() - started


def table(title: str, rows: list[tuple[str, str]]):
    width = max(len(r[0]) for r in rows)
    print(f"\n== {title} " + "=" * max(0, 76 - len(title)))
    for label, value in rows:
        print(f"  {label:<{width}}  {value}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=100000)
    parser.add_argument("--timeout-s", type=float, default=3600)
    parser.add_argument("--after-s", type=float, default=20, help="polling after the ingest")
    parser.add_argument("--models", type=Path, default=ROOT / "models")
    parser.add_argument("--keep", type=Path, help="work here and leave it (default: a temp dir)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    n = args.files
    rng = random.Random(args.seed)
    assert len({codeword(i) for i in range(min(n, 200000))}) == min(n, 200000)

    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        work = args.keep
    else:
        work = Path(tempfile.mkdtemp(prefix="bench-tiny-"))
    server = Server(work, args.models)
    try:
        first_ready_s = timed_start(server)
        rss_start = proc_status(server.proc.pid).get("VmRSS", float("nan"))
        print(f"server ready in {first_ready_s:.1f} s at {server.url}, RSS {rss_start:.0f} MiB")
        poller = Poller(server)
        poller.start()

        print(f"dropping {n} files into {server.kb} ...", flush=True)
        t_drop = now()
        drop_s = drop_files(server.kb, n)
        print(f"  dropped in {drop_s:.1f} s ({n / drop_s:.0f} files/s)", flush=True)

        indexed, last_print, done_s = 0, 0.0, None
        while now() - t_drop < args.timeout_s:
            if server.proc.poll() is not None:
                sys.exit(f"server exited with {server.proc.returncode}; log: {server.log}")
            body = poller.latest
            if body is not None:
                indexed = body["totals"].get("indexed", 0)
                if indexed >= n:
                    done_s = now() - t_drop
                    break
                if now() - last_print >= 15:
                    last_print = now()
                    print(
                        f"  {now() - t_drop:6.0f} s  indexed {indexed}/{n}  totals "
                        f"{body['totals']}  indexing {body['indexing']}",
                        flush=True,
                    )
            time.sleep(0.1)
        if done_s is None:
            print(f"  TIMEOUT after {args.timeout_s:.0f} s: indexed {indexed}/{n}")
        else:
            print(f"  all {n} indexed after {done_s:.1f} s", flush=True)

        poller.phase = "after"
        time.sleep(args.after_s)
        poller.stopping.set()
        poller.join()
        final = server.get("/api/documents")[1]
        status = proc_status(server.proc.pid)
        rss_end, rss_hwm = status.get("VmRSS", float("nan")), status.get("VmHWM", float("nan"))
        first_events = document_events(server.logs())

        # search for the made-up word of a random indexed file
        i = rng.randrange(n)
        q = urllib.parse.urlencode({"q": codeword(i), "k": 5})
        started = now()
        search_status, search_body = server.get(f"/api/search?{q}")
        search_ms = (now() - started) * 1000
        sources = [c.get("source") for c in search_body.get("citations", [])]
        found = rel_path(i) in sources

        # restart: start-up reconcile of n unchanged files
        server.stop()
        before = len(server.logs())
        restart_s = timed_start(server)
        rss_restart = proc_status(server.proc.pid).get("VmRSS", float("nan"))
        # let the watcher's first periodic rescan pass (rescan_interval_s 5) before counting
        deadline = time.monotonic() + 60
        time.sleep(6)
        while time.monotonic() < deadline:
            body = server.get("/api/documents")[1]
            if not body.get("indexing", {}).get("waiting"):
                break
            time.sleep(1)
        after_restart = server.get("/api/documents")[1]
        revisited = document_events(server.logs()[before:])
        server.stop()
    finally:
        server.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    def lat(phase: str) -> str:
        docs, health = poller.latencies(phase, "/api/documents"), poller.latencies(phase, "/health")
        if not docs or not health:
            return "no samples"
        d50, d95 = statistics.median(docs), percentile(docs, 0.95)
        h50, h95 = statistics.median(health), percentile(health, 0.95)
        return (
            f"p50 {d50:7.1f} ms  p95 {d95:7.1f} ms  max {max(docs):7.1f} ms  |  /health p50 "
            f"{h50:.1f} p95 {h95:.1f} ms  |  ratio p50 {d50 / h50:.1f}x  p95 {d95 / h95:.1f}x  "
            f"({len(docs)} samples)"
        )

    rss_values = [mib for _, mib in poller.rss]
    table(
        f"tiny files: {n} one-sentence .txt files, {PER_FOLDER} per folder",
        [
            ("files", f"{n}  (dropped in {drop_s:.1f} s, {n / drop_s:.0f} files/s)"),
            (
                "seconds to index all",
                f"{done_s:.1f}" if done_s is not None else f"TIMEOUT ({indexed}/{n} indexed)",
            ),
            ("files/s", f"{n / done_s:.2f}" if done_s else f"{indexed / args.timeout_s:.2f}"),
            ("totals at end", f"{final.get('totals')}  chunks {final.get('chunks')}"),
            (
                "log document events",
                f"{len(first_events)} for {len(set(first_events))} distinct paths (first run; "
                "a repeat is a re-visit, not necessarily an embedding)",
            ),
            ("/api/documents, ingest", lat("ingest")),
            (f"/api/documents, after ({args.after_s:g} s)", lat("after")),
            ("poll errors", str(poller.errors or "none")),
            (
                "RSS MiB",
                f"start {rss_start:.0f}  peak {max(rss_values, default=float('nan')):.0f} "
                f"(VmHWM {rss_hwm:.0f})  end {rss_end:.0f}  after restart {rss_restart:.0f}",
            ),
            (
                "search",
                f"q={codeword(i)} -> {rel_path(i)} "
                + ("FOUND" if found else f"NOT FOUND (http {search_status}, got {sources})")
                + f" in {search_ms:.0f} ms",
            ),
            ("server start (empty kb)", f"{first_ready_s:.1f} s to /ready"),
            ("restart to /ready", f"{restart_s:.1f} s  ({n} unchanged files)"),
            (
                "re-embedded after restart",
                f"{len(revisited)} document events (must be 0); totals "
                f"{after_restart.get('totals')}",
            ),
        ],
    )
    if revisited:
        print(f"  first re-visited: {revisited[:5]}")
    sys.exit(0 if found and not revisited and done_s is not None else 1)


if __name__ == "__main__":
    main()
