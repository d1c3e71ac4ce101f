"""A bounded load on loopback: --clients clients for --seconds seconds, mixing searches,
questions (streamed) and document listings against a real `appliance serve`. Prints
throughput, p50/p95/p99 per kind, errors (only 503/429 with Retry-After are allowed), and
the server's RSS sampled over the run (it should stay flat: no leak).

    .venv/bin/python scripts/bench_load.py [--clients 16] [--seconds 300] [--model X.gguf]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = [
    "How many days of annual leave do full-time staff get?",
    "How are travel expenses reimbursed?",
    "Where do I report a printer fault?",
    "Who approves overtime?",
]
DOCS = {
    "handbook.md": "# Handbook\n\n## Leave\nFull-time staff get 25 days of annual leave.\n\n"
    "## Expenses\nTravel expenses are reimbursed within 30 days.\n\n## Overtime\n"
    "Overtime is approved by your line manager in advance.\n",
    "it.txt": "The office printer on floor 3 is an HP LaserJet. Report faults to the IT desk.",
}


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def request(url: str, kind: str, rng: random.Random):
    if kind == "search":
        q = urllib.parse.quote(rng.choice(QUESTIONS))
        req = urllib.request.Request(f"{url}/api/search?q={q}&k=5")
    elif kind == "documents":
        req = urllib.request.Request(f"{url}/api/documents")
    else:
        body = json.dumps({"question": rng.choice(QUESTIONS)}).encode()
        req = urllib.request.Request(
            f"{url}/api/ask/stream", data=body, headers={"Content-Type": "application/json"}
        )
    with urllib.request.urlopen(req, timeout=300) as response:
        for _ in response:  # read the whole answer, as a page would
            pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=int, default=300)
    parser.add_argument("--port", type=int, default=18767)
    parser.add_argument("--model", type=Path, help="a GGUF to use instead of the default model")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        root = Path(tmp)
        (root / "kb").mkdir()
        for name, text in DOCS.items():
            (root / "kb" / name).write_text(text)
        config = root / "appliance.yaml"
        config.write_text(
            f"paths:\n  models: {ROOT / 'models'}\ngenerator:\n  max_tokens: 64\n"
            + (f"  model: {args.model.resolve()}\n" if args.model else "")
            + "limits:\n  max_waiting: 8\n  queue_timeout_s: 30\n  questions_per_minute: 0\n"
            "server:\n  threads: 24\n"
        )
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "appliance",
                "serve",
                "--config",
                str(config),
                "--port",
                str(args.port),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{args.port}"
        try:
            deadline = time.time() + 120
            while time.time() < deadline:
                try:
                    with urllib.request.urlopen(url + "/ready", timeout=2):
                        break
                except OSError:
                    time.sleep(0.2)
            results, lock, rss = [], threading.Lock(), []
            stop_at = time.time() + args.seconds

            def client(n):
                rng = random.Random(n)
                while time.time() < stop_at:
                    kind = rng.choices(["search", "ask", "documents"], [6, 2, 2])[0]
                    started = time.perf_counter()
                    try:
                        request(url, kind, rng)
                        outcome = "ok"
                    except urllib.error.HTTPError as err:
                        polite = err.code in (429, 503) and err.headers.get("Retry-After")
                        outcome = f"{err.code} retry-after" if polite else f"http {err.code}"
                        if polite:
                            time.sleep(min(float(err.headers["Retry-After"]), 2))
                    except Exception as err:  # noqa: BLE001 — every other failure counts
                        outcome = f"error {type(err).__name__}"
                    with lock:
                        results.append((kind, outcome, (time.perf_counter() - started) * 1000))

            def sample():
                while time.time() < stop_at:
                    rss.append(rss_mb(server.pid))
                    time.sleep(5)

            threads = [threading.Thread(target=client, args=(n,)) for n in range(args.clients)]
            threads.append(threading.Thread(target=sample))
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        finally:
            server.terminate()
            server.wait(60)

    print(f"{args.clients} clients for {args.seconds} s, mixed search / ask / documents")
    print(f"{'kind':<10} {'ok':>6} {'per s':>7} {'p50 ms':>9} {'p95 ms':>9} {'p99 ms':>9}")
    for kind in ("search", "ask", "documents"):
        ok = [ms for k, o, ms in results if k == kind and o == "ok"]
        if ok:
            print(
                f"{kind:<10} {len(ok):>6} {len(ok) / args.seconds:>7.1f} "
                f"{statistics.median(ok):>9.1f} {percentile(ok, 0.95):>9.1f} "
                f"{percentile(ok, 0.99):>9.1f}"
            )
    outcomes: dict[str, int] = {}
    for _, o, _ in results:
        outcomes[o] = outcomes.get(o, 0) + 1
    bad = {o: n for o, n in outcomes.items() if o != "ok" and "retry-after" not in o}
    print(f"outcomes: {outcomes}")
    print(f"errors other than 429/503 with Retry-After: {sum(bad.values())} {bad}")
    if rss:
        third = max(1, len(rss) // 3)
        print(
            f"server RSS MB: first third {statistics.median(rss[:third]):.0f}, last third "
            f"{statistics.median(rss[-third:]):.0f}, max {max(rss):.0f} ({len(rss)} samples)"
        )


if __name__ == "__main__":
    main()
