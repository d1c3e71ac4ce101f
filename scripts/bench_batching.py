"""Concurrent users: one context decoding their answers together (the appliance's generator)
against separate llama-cpp-python instances (one per user, what the appliance did before), and
single-answer speed against bare llama-cpp-python, all in the same run.

Each of N users asks --rounds questions, one after the other (a new one as soon as the last
answer ends); every answer is asked for --max-tokens tokens over a prompt of about
--prompt-tokens tokens (temperature 0). Printed per setup: total tokens/s over wall time (and
its ratio to one bare answer), and each answer's latency (asked to last token) and time to
first token, p50 and p95. Every prompt is new after the same instructions, as the
appliance's are: both sides may reuse the cached instructions, nothing more.

    .venv/bin/python scripts/bench_batching.py [--model models/generator/X.gguf]
        [--users 1,4] [--max-tokens 96] [--prompt-tokens 400] [--rounds 2]
        [--separate-up-to 4] [--n-ctx 2048] [--n-batch 512] [--n-gpu-layers -1]

On a GPU box, with scripts/make_synthetic_gguf.py's 8B-shaped model:
    ... --model synth.gguf --users 1,4,16 --prompt-tokens 1500 --max-tokens 128 --n-ctx 4096
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from appliance.answer.generators import LlamaGenerator, default_threads  # noqa: E402
from appliance.config import GeneratorSettings  # noqa: E402

TEXT = (
    "The office printer on floor 3 is an HP LaserJet. Full-time staff get 25 days of annual "
    "leave per year. Travel expenses are reimbursed within 30 days of submitting receipts. "
)


@dataclass
class Answer:
    seconds: float  # asked to last piece
    first: float  # asked to first piece
    tokens: int


def passage(words: int) -> str:
    return " ".join((TEXT * (words // len(TEXT.split()) + 1)).split()[:words])


def prompt_words(count_tokens, tokens: int) -> int:
    """The number of passage words whose prompt has about `tokens` tokens."""
    per_word = count_tokens(passage(1000)) / 1000
    return max(1, round(tokens / per_word))


def messages(tag: str, words: int) -> list[dict]:
    return [
        {"role": "system", "content": "Answer at length, in full sentences."},
        {
            "role": "user",
            "content": f"Passage {tag}. {passage(words)}\n\nDescribe the office at length.",
        },
    ]


def timed_pieces(pieces, count_tokens) -> Answer:
    started = time.perf_counter()
    first, text = None, []
    for piece in pieces:
        first = first or time.perf_counter()
        text.append(piece)
    end = time.perf_counter()
    return Answer(end - started, (first or end) - started, count_tokens("".join(text)))


def run_users(ask, users: int, rounds: int) -> tuple[float, list[Answer]]:
    """`users` threads, each asking `rounds` questions in turn (ask(user, round) -> Answer):
    (wall seconds, every answer)."""
    answers: list[Answer] = []
    lock = threading.Lock()

    def user(u: int) -> None:
        for r in range(rounds):
            answer = ask(u, r)
            with lock:
                answers.append(answer)

    threads = [threading.Thread(target=user, args=(u,)) for u in range(users)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - started, answers


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=ROOT / "models" / GeneratorSettings.model)
    parser.add_argument("--users", default="1,4", help="numbers of concurrent users, e.g. 1,4,16")
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument("--prompt-tokens", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=2, help="questions each user asks")
    parser.add_argument(
        "--separate-up-to", type=int, default=4, help="compare separate instances up to N users"
    )
    parser.add_argument("--n-gpu-layers", type=int, default=-1)
    parser.add_argument("--n-ctx", type=int, default=2048, help="context tokens per answer")
    parser.add_argument("--n-batch", type=int, default=GeneratorSettings.n_batch)
    args = parser.parse_args()
    users = sorted({int(n) for n in args.users.split(",")})
    from llama_cpp import Llama

    settings = GeneratorSettings(
        n_ctx=args.n_ctx,
        n_gpu_layers=args.n_gpu_layers,
        n_batch=args.n_batch,
        temperature=0.0,
        max_tokens=args.max_tokens,
    )
    started = time.perf_counter()
    generator = LlamaGenerator(settings, args.model, slots=max(users))
    loaded = time.perf_counter() - started
    print(f"appliance generator ({max(users)} slots) loaded in {loaded:.1f} s")
    count = generator.count_tokens
    words = prompt_words(count, args.prompt_tokens)
    prompt_tokens = count(passage(words))
    separate = max([n for n in users if n <= args.separate_up_to] + [1])
    bare = [
        Llama(
            model_path=str(args.model),
            n_ctx=args.n_ctx,
            n_batch=args.n_batch,
            n_gpu_layers=args.n_gpu_layers,
            n_threads=default_threads(),
            n_threads_batch=os.cpu_count(),
            verbose=False,
        )
        for _ in range(separate)
    ]

    def bare_ask(tag: str):
        def ask(u: int, r: int) -> Answer:
            chunks = bare[u].create_chat_completion(
                messages=messages(f"{tag}{u}.{r}", words),
                max_tokens=args.max_tokens,
                temperature=0.0,
                repeat_penalty=1.1,
                stream=True,
            )
            text = (c["choices"][0]["delta"].get("content") or "" for c in chunks)
            return timed_pieces((t for t in text if t), count)

        return ask

    def appliance_ask(tag: str):
        def ask(u: int, r: int) -> Answer:
            pieces = generator.stream(messages(f"{tag}{u}.{r}", words), args.max_tokens)
            return timed_pieces(pieces, count)

        return ask

    setups = [("bare llama-cpp-python, 1 user", 1, bare_ask("b"))]
    for n in users:
        if 1 < n <= separate:
            setups.append((f"{n} separate instances, {n} users", n, bare_ask(f"s{n}.")))
        setups.append((f"appliance, {n} user{'s' if n > 1 else ''}", n, appliance_ask(f"a{n}.")))
    # Warm up each side once (first CUDA kernels, the cached instructions).
    bare_ask("w")(0, 0)
    appliance_ask("w")(0, 0)
    results = {name: run_users(ask, n, args.rounds) for name, n, ask in setups}
    generator.close()

    base_seconds, base_answers = results["bare llama-cpp-python, 1 user"]
    base = sum(a.tokens for a in base_answers) / base_seconds
    print(
        f"\n{args.model.name}, prompts of {prompt_tokens} tokens, up to {args.max_tokens} tokens "
        f"per answer, {args.rounds} questions per user, n_batch {args.n_batch}"
    )
    print(
        f"{'':36}{'tokens/s':>9}{'× bare':>8}{'tokens/ans':>11}"
        f"{'latency p50':>12}{'p95':>7}{'first token p50':>16}{'p95':>7}"
    )
    for name, (seconds, answers) in results.items():
        rate = sum(a.tokens for a in answers) / seconds
        latency = [a.seconds for a in answers]
        first = [a.first * 1000 for a in answers]
        print(
            f"{name:36}{rate:>9.1f}{rate / base:>8.2f}"
            f"{statistics.mean(a.tokens for a in answers):>11.0f}"
            f"{statistics.median(latency):>11.2f}s{percentile(latency, 0.95):>6.2f}s"
            f"{statistics.median(first):>14.0f}ms{percentile(first, 0.95):>5.0f}ms"
        )


if __name__ == "__main__":
    main()
