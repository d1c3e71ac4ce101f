"""Continuous batching: one llama.cpp context decodes every running answer together.

Each answer is a sequence of its own in one context (its own part of the KV cache). A single
decoder thread owns the context: every step it decodes the next token of each running
answer in one batch, together with the prompt of an answer that has just come in (up to
n_batch tokens a step), then samples each answer's next token with that answer's sampler.
Reading the weights costs the same for one token as for a few, so N answers at once cost
little more than one, on a CPU and far more so on a GPU. An answer starts as soon as a
sequence is free and its tokens stream as they come; one whose reader goes away is stopped
at the next step and its sequence freed.

Follows llama.cpp's batched and server examples (llama_batch with one seq_id per token,
llama_memory_seq_rm to free a finished sequence, a sampler chain per sequence).
"""

from __future__ import annotations

import codecs
import ctypes
import logging
import queue
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("appliance.answer")

_DONE = object()  # the end of an answer's pieces
PENALTY_LAST_N = 64  # tokens the repeat penalty looks back on (llama-cpp-python's default)


class DecodeError(Exception):
    """llama.cpp could not decode a batch; the message says why."""


@dataclass(frozen=True)
class Sampling:
    temperature: float = 0.2
    repeat_penalty: float = 1.1
    grammar: str = ""  # GBNF: the reply must match it (JSON for a schema)
    top_k: int = 40
    top_p: float = 0.95
    min_p: float = 0.05
    seed: int = 0xFFFFFFFF  # LLAMA_DEFAULT_SEED: a random seed


@dataclass(eq=False)
class _Answer:
    """One answer being generated: its prompt, how far it got, where its pieces go."""

    prompt: list[int]
    max_tokens: int
    sampling: Sampling
    stops: Sequence[str]
    pieces: queue.SimpleQueue = field(default_factory=queue.SimpleQueue)
    cancelled: threading.Event = field(default_factory=threading.Event)
    seq: int = -1  # its sequence in the context, once admitted
    fed: int = 0  # prompt tokens decoded so far (or found in the sequence's cache)
    generated: list[int] = field(default_factory=list)  # sampled tokens, the last not decoded
    next_token: int | None = None  # the sampled token to decode next
    held: str = ""  # text kept back: it may be the start of a stop string
    sampler: object = None
    utf8: codecs.IncrementalDecoder = field(
        default_factory=lambda: codecs.getincrementaldecoder("utf-8")("replace")
    )

    @property
    def produced(self) -> int:
        return len(self.generated)

    @property
    def position(self) -> int:
        return self.fed + self.produced

    def in_cache(self) -> list[int]:
        """The tokens the sequence's KV cache holds once the answer ends (the last sampled
        token was never decoded)."""
        return self.prompt[: self.fed] + self.generated[:-1]


class BatchedDecoder:
    """A model and one context with `slots` sequences of `n_ctx` tokens each."""

    def __init__(
        self,
        model_path: Path,
        *,
        slots: int,
        n_ctx: int,
        n_batch: int,
        n_gpu_layers: int,
        threads: int,
        batch_threads: int,
        flash_attn: str | bool,
        kv_type: int,
    ):
        import llama_cpp
        from llama_cpp import _internals
        from llama_cpp._logger import set_verbose

        set_verbose(False)  # llama.cpp's own log lines would go to stderr
        self._llama = llama_cpp
        self._internals = _internals
        model_params = llama_cpp.llama_model_default_params()
        model_params.n_gpu_layers = n_gpu_layers
        self.model = _internals.LlamaModel(
            path_model=str(model_path), params=model_params, verbose=False
        )
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = n_ctx * slots
        params.n_seq_max = slots
        params.n_batch = params.n_ubatch = n_batch
        params.n_threads = threads
        params.n_threads_batch = batch_threads
        params.flash_attn_type = {
            "auto": llama_cpp.LLAMA_FLASH_ATTN_TYPE_AUTO,  # on where the device supports it
            True: llama_cpp.LLAMA_FLASH_ATTN_TYPE_ENABLED,
            False: llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED,
        }[flash_attn]
        params.type_k = params.type_v = kv_type
        params.no_perf = True
        try:
            self.context = _internals.LlamaContext(model=self.model, params=params, verbose=False)
        except ValueError:
            self.model.close()
            raise DecodeError(
                f"llama.cpp could not create a context of {slots} × {n_ctx} tokens for "
                f"{model_path.name} (out of memory, or a KV cache type that needs flash "
                "attention)"
            ) from None
        self.n_ctx = n_ctx
        self.n_batch = n_batch
        self.slots = slots
        self._batch = llama_cpp.llama_batch_init(n_batch, 0, 1)
        self._cached: list[list[int]] = [[] for _ in range(slots)]  # what each sequence holds
        self.prompt_tokens_read = 0  # prompt tokens decoded,
        self.prompt_tokens_reused = 0  # and those a sequence's cache already held
        self.most_at_once = 0  # the most answers one step has decoded together
        self._memory = llama_cpp.llama_get_memory(self.context.ctx)
        self._inbox: queue.SimpleQueue[_Answer | None] = queue.SimpleQueue()
        self._wake = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="decoder", daemon=True)
        self._thread.start()

    def tokenize(self, text: str, add_bos: bool) -> list[int]:
        return self.model.tokenize(text.encode("utf-8"), add_bos=add_bos, special=True)

    def generate(
        self, prompt: list[int], max_tokens: int, sampling: Sampling, stops: Sequence[str] = ()
    ) -> Iterator[str]:
        """The answer's text, piece by piece. Closing the iterator stops the answer."""
        room = self.n_ctx - len(prompt)
        if room <= 0:
            raise DecodeError(
                f"the prompt has {len(prompt)} tokens, more than the {self.n_ctx} of the context"
            )
        answer = _Answer(list(prompt), min(max_tokens, room), sampling, stops)
        if self._closed:
            raise DecodeError("the model is closed")
        self._inbox.put(answer)
        self._wake.set()
        return self._pieces(answer)

    def _pieces(self, answer: _Answer) -> Iterator[str]:
        try:
            while (piece := answer.pieces.get()) is not _DONE:
                if isinstance(piece, Exception):
                    raise piece
                yield piece
        finally:
            answer.cancelled.set()
            self._wake.set()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._inbox.put(None)
        self._wake.set()
        self._thread.join(timeout=30)
        self._llama.llama_batch_free(self._batch)
        self.context.close()
        self.model.close()

    # The decoder thread: the only one that touches the context.

    def _run(self) -> None:
        running: list[_Answer] = []
        free = list(range(self.slots))
        waiting: list[_Answer] = []
        while True:
            self._wake.clear()
            while True:
                try:
                    item = self._inbox.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    return self._fail(running + waiting, DecodeError("the model was closed"))
                waiting.append(item)
            for answer in [a for a in running + waiting if a.cancelled.is_set()]:
                self._finish(answer, running, free, waiting)
            while waiting and free:
                answer = waiting.pop(0)
                self._admit(answer, free)
                running.append(answer)
            if not running:
                self._wake.wait()
                continue
            try:
                self._step(running, free, waiting)
            except Exception as err:  # a failed decode fails the answers, not the service
                log.exception("decoding failed", extra={"event": "decode_failed"})
                failure = err if isinstance(err, DecodeError) else DecodeError(str(err))
                for answer in list(running):
                    answer.pieces.put(failure)
                    self._finish(answer, running, free, waiting, done=False)

    def _admit(self, answer: _Answer, free: list[int]) -> None:
        """Give the answer the free sequence whose cache shares the longest start with its
        prompt; keep that start, drop the rest (the last prompt token is always decoded
        again: its logits give the first token)."""
        shared = [_common_start(self._cached[seq], answer.prompt) for seq in free]
        best = max(range(len(free)), key=lambda i: shared[i])
        answer.seq = free.pop(best)
        keep = min(shared[best], len(answer.prompt) - 1)
        if not self._llama.llama_memory_seq_rm(self._memory, answer.seq, keep, -1):
            self._llama.llama_memory_seq_rm(self._memory, answer.seq, -1, -1)
            keep = 0
        answer.fed = keep
        self.prompt_tokens_reused += keep
        self.prompt_tokens_read += len(answer.prompt) - keep
        self._cached[answer.seq] = []
        answer.sampler = self._sampler(answer.sampling)

    def _step(self, running: list[_Answer], free: list[int], waiting: list[_Answer]) -> None:
        """Decode one batch: the next token of every answer under way, then prompt tokens of
        those just admitted while the batch has room; then sample where logits came out."""
        batch, n = self._batch, 0
        sample_at: list[tuple[_Answer, int]] = []
        self.most_at_once = max(self.most_at_once, len(running))

        def add(token: int, position: int, seq: int, logits: bool) -> None:
            nonlocal n
            batch.token[n] = token
            batch.pos[n] = position
            batch.n_seq_id[n] = 1
            batch.seq_id[n][0] = seq
            batch.logits[n] = logits
            n += 1

        for answer in running:
            if answer.next_token is not None:
                sample_at.append((answer, n))
                add(answer.next_token, answer.position - 1, answer.seq, True)
        for answer in running:
            while answer.fed < len(answer.prompt) and n < self.n_batch:
                last = answer.fed == len(answer.prompt) - 1
                if last:
                    sample_at.append((answer, n))
                add(answer.prompt[answer.fed], answer.fed, answer.seq, last)
                answer.fed += 1
        batch.n_tokens = n
        status = self._llama.llama_decode(self.context.ctx, batch)
        if status != 0:
            raise DecodeError(f"llama_decode returned {status} for a batch of {n} tokens")
        for answer, index in sample_at:
            token = self._llama.llama_sampler_sample(answer.sampler, self.context.ctx, index)
            self._take(answer, token, running, free, waiting)

    def _take(self, answer, token, running, free, waiting) -> None:
        """One sampled token: the answer's next piece, or its end."""
        llama = self._llama
        if llama.llama_vocab_is_eog(self.model.vocab, token):
            return self._finish(answer, running, free, waiting)
        answer.generated.append(token)
        answer.next_token = token
        text = answer.held + answer.utf8.decode(self._piece(token))
        cut = min((i for i in (text.find(s) for s in answer.stops if s) if i >= 0), default=-1)
        if cut >= 0:
            if text[:cut]:
                answer.pieces.put(text[:cut])
            return self._finish(answer, running, free, waiting)
        keep = _stop_prefix(text, answer.stops)
        answer.held = text[len(text) - keep :] if keep else ""
        if text[: len(text) - keep]:
            answer.pieces.put(text[: len(text) - keep])
        if answer.produced >= answer.max_tokens:
            self._finish(answer, running, free, waiting)

    def _finish(self, answer, running, free, waiting, done: bool = True) -> None:
        """The answer ends; its sequence keeps what it decoded, for the next prompt that
        starts the same way (all of it is dropped after a failed decode: done=False)."""
        if answer in waiting:
            waiting.remove(answer)
        if answer in running:
            running.remove(answer)
            if done:
                self._cached[answer.seq] = answer.in_cache()
            else:
                self._llama.llama_memory_seq_rm(self._memory, answer.seq, -1, -1)
            free.append(answer.seq)
        if answer.sampler is not None:
            self._llama.llama_sampler_free(answer.sampler)
            answer.sampler = None
        if done:
            if answer.held and not answer.cancelled.is_set():
                answer.pieces.put(answer.held)
            answer.pieces.put(_DONE)

    def _piece(self, token: int) -> bytes:
        """The token's bytes (a character may span tokens: the caller decodes them)."""
        size = 64
        while True:
            buffer = ctypes.create_string_buffer(size)
            n = self._llama.llama_token_to_piece(self.model.vocab, token, buffer, size, 0, False)
            if n >= 0:
                return buffer.raw[:n]
            size = -n

    def _fail(self, answers: list[_Answer], error: Exception) -> None:
        for answer in answers:
            answer.pieces.put(error)

    def _sampler(self, sampling: Sampling):
        """The answer's sampler chain: top-k, repeat penalty, then greedy at temperature 0,
        or top-p, min-p, temperature, draw. The penalty looks at the top-k candidates only
        (it only lowers repeated tokens, so the pick is the one llama-cpp-python makes by
        penalising the whole vocabulary first, unless all k leading tokens were repeated):
        one pass over the 49k-128k vocabulary less for every token of every answer, which
        cuts sampling time to a third. With a grammar, every token stays a candidate until
        the grammar has ruled: penalty, grammar, then the rest."""
        llama = self._llama
        chain = llama.llama_sampler_chain_init(llama.llama_sampler_chain_default_params())
        n_vocab = llama.llama_vocab_n_tokens(self.model.vocab)

        def add(sampler) -> None:
            llama.llama_sampler_chain_add(chain, sampler)

        penalty = llama.llama_sampler_init_penalties(
            n_vocab, PENALTY_LAST_N, sampling.repeat_penalty, 0.0, 0.0
        )
        if sampling.grammar:
            add(penalty)
            add(
                llama.llama_sampler_init_grammar(
                    self.model.vocab, sampling.grammar.encode("utf-8"), b"root"
                )
            )
            add(llama.llama_sampler_init_top_k(sampling.top_k))
        else:
            add(llama.llama_sampler_init_top_k(sampling.top_k))
            add(penalty)
        if sampling.temperature <= 0:
            add(llama.llama_sampler_init_greedy())
        else:
            add(llama.llama_sampler_init_top_p(sampling.top_p, 1))
            add(llama.llama_sampler_init_min_p(sampling.min_p, 1))
            add(llama.llama_sampler_init_temp(sampling.temperature))
            add(llama.llama_sampler_init_dist(sampling.seed))
        return chain


def _common_start(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _stop_prefix(text: str, stops: Sequence[str]) -> int:
    """The length of the longest end of `text` that begins a stop string."""
    longest = 0
    for stop in stops:
        for size in range(min(len(stop) - 1, len(text)), longest, -1):
            if text.endswith(stop[:size]):
                longest = size
                break
    return longest
