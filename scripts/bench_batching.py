"""Concurrent answers: one context decoding them together (the appliance's generator) against
separate llama-cpp-python instances (one per answer, what the appliance did before), and
single-answer speed against bare llama-cpp-python, all in the same run.

Every answer is asked for --max-tokens tokens over a prompt of about --prompt-words words
(temperature 0); tokens/s counts the tokens the answers really got, over wall time. Every
prompt is new after the same instructions, as the appliance's are: both sides may reuse
the cached instructions, nothing more.

    .venv/bin/python scripts/bench_batching.py [--model models/generator/X.gguf]
        [--concurrent 4] [--max-tokens 96] [--prompt-words 300] [--rounds 2]
        [--n-gpu-layers -1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from appliance.answer.generators import LlamaGenerator, default_threads  # noqa: E402
from appliance.config import GeneratorSettings  # noqa: E402

TEXT = (
    "The office printer on floor 3 is an HP LaserJet. Full-time staff get 25 days of annual "
    "leave per year. Travel expenses are reimbursed within 30 days of submitting receipts. "
)


def messages(tag: str, words: int) -> list[dict]:
    context = " ".join((TEXT * (words // len(TEXT.split()) + 1)).split()[:words])
    return [
        {"role": "system", "content": "Answer at length, in full sentences."},
        {"role": "user", "content": f"Passage {tag}. {context}\n\nDescribe the office at length."},
    ]


def timed(jobs) -> tuple[float, int]:
    """Run the jobs (each returns its token count) in threads: (seconds, tokens)."""
    counts = [0] * len(jobs)

    def run(n, job):
        counts[n] = job()

    threads = [threading.Thread(target=run, args=(n, job)) for n, job in enumerate(jobs)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - started, sum(counts)


def appliance_job(generator: LlamaGenerator, tag: str, args) -> callable:
    def job():
        text = "".join(generator.stream(messages(tag, args.prompt_words), args.max_tokens))
        return generator.count_tokens(text)

    return job


def bare_job(llm, tag: str, args) -> callable:
    def job():
        reply = llm.create_chat_completion(
            messages=messages(tag, args.prompt_words),
            max_tokens=args.max_tokens,
            temperature=0.0,
            repeat_penalty=1.1,
        )
        return reply["usage"]["completion_tokens"]

    return job


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=ROOT / "models" / GeneratorSettings.model)
    parser.add_argument("--concurrent", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument("--prompt-words", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--n-gpu-layers", type=int, default=-1)
    parser.add_argument("--n-ctx", type=int, default=2048)
    args = parser.parse_args()
    from llama_cpp import Llama

    settings = GeneratorSettings(
        n_ctx=args.n_ctx, n_gpu_layers=args.n_gpu_layers, temperature=0.0, max_tokens=512
    )
    options = dict(
        model_path=str(args.model),
        n_ctx=args.n_ctx,
        n_gpu_layers=args.n_gpu_layers,
        n_threads=default_threads(),
        n_threads_batch=os.cpu_count(),
        verbose=False,
    )
    n = args.concurrent
    figures: dict[str, list[float]] = {}

    def record(name: str, seconds: float, tokens: int) -> None:
        figures.setdefault(name, []).append(tokens / seconds)

    bare = [Llama(**options) for _ in range(n)]
    generator = LlamaGenerator(settings, args.model, slots=n)
    for r in range(args.rounds):
        record("bare llama-cpp-python, 1 answer", *timed([bare_job(bare[0], f"b{r}", args)]))
        record("appliance, 1 answer", *timed([appliance_job(generator, f"a{r}", args)]))
        jobs = [bare_job(bare[i], f"b{r}.{i}", args) for i in range(n)]
        record(f"{n} separate instances, {n} answers", *timed(jobs))
        jobs = [appliance_job(generator, f"a{r}.{i}", args) for i in range(n)]
        record(f"appliance, {n} answers at once", *timed(jobs))
    generator.close()
    base = statistics.median(figures["bare llama-cpp-python, 1 answer"])
    print(f"\n{args.model.name}, {args.prompt_words}-word prompts, {args.max_tokens} tokens each")
    print(f"{'':40}{'tokens/s (all answers)':>24}{'× one bare answer':>20}")
    for name, rates in figures.items():
        rate = statistics.median(rates)
        print(f"{name:40}{rate:>24.1f}{rate / base:>20.2f}")


if __name__ == "__main__":
    main()
