"""Text generation behind one small interface, two implementations chosen in config:

- `llama_cpp`: llama.cpp in-process (llama-cpp-python), offloaded to the GPU when built with
  CUDA; the chat template comes from the GGUF unless `generator.chat_format` names one.
- `openai`: any OpenAI-compatible server (llama.cpp server, vLLM, a gateway): how a site
  moves generation to separate GPU nodes.

Callers reach a generator only through Admission, which bounds how many run at once (for
llama_cpp: the sequences its one context decodes together).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from appliance.answer.markers import GENERIC_MARKERS, marker_pattern, plain, plain_messages
from appliance.config import GeneratorSettings

log = logging.getLogger("appliance.answer")
_KV_TYPES = {"f16": 1, "q4_0": 2, "q8_0": 8}  # ggml type ids, as llama.cpp numbers them


def default_threads() -> int:
    """All cores but one: the HTTP server, retrieval and indexing need one too. Measured on
    2 cores: 1 generation thread gave the same tokens/s as 2 and 0.97 of bare llama.cpp's
    rate through the appliance, against 0.93 with 2 (scripts/bench_answers.py)."""
    return max(1, (os.cpu_count() or 2) - 1)


class GeneratorError(Exception):
    """The generator failed; the message says how (the service keeps running)."""


class Generator(Protocol):
    name: str
    device: str  # "gpu", "cpu" or "remote (...)"
    prompt_budget: int  # tokens the prompt may use, leaving room for the answer
    max_tokens: int  # of an answer

    def count_tokens(self, text: str) -> int: ...
    def stream(self, messages: list[dict], max_tokens: int | None = None) -> Iterator[str]: ...
    def complete_json(self, messages: list[dict], schema: dict, max_tokens: int) -> str:
        """A reply that the decoder constrains to JSON matching `schema` (a grammar)."""
        ...

    def close(self) -> None: ...


class LlamaGenerator:
    """llama.cpp in-process. One context decodes every concurrent answer together
    (answer/batched.py): `slots` answers at once cost little more than one."""

    def __init__(self, settings: GeneratorSettings, model_path: Path, slots: int = 1):
        from appliance.answer.batched import BatchedDecoder  # loads llama_cpp: only here

        self.settings = settings
        self.name = model_path.name
        self.max_tokens = settings.max_tokens
        self.prompt_budget = settings.n_ctx - settings.max_tokens
        self.decoder = BatchedDecoder(
            model_path,
            slots=slots,
            n_ctx=settings.n_ctx,
            n_batch=settings.n_batch,
            n_gpu_layers=settings.n_gpu_layers,
            threads=settings.threads or default_threads(),
            # Reading a prompt is one big batch, and so are several answers' next tokens:
            # every core helps (measured on 2 cores: 160 against 81 prompt tokens/s).
            batch_threads=settings.batch_threads or os.cpu_count() or 1,
            flash_attn=settings.flash_attn,
            kv_type=_KV_TYPES[settings.kv_cache_type],
        )
        from llama_cpp import llama_supports_gpu_offload

        # A CPU-only build silently ignores n_gpu_layers: say where the model really runs.
        offloaded = settings.n_gpu_layers != 0 and llama_supports_gpu_offload()
        self.device = "gpu" if offloaded else "cpu"
        metadata = self.decoder.model.metadata()
        template = metadata.get("tokenizer.chat_template", "")
        self.chat_format, self._format = chat_formatter(settings.chat_format, metadata, self)
        # A Llama-3 template ends turns with <|eot_id|>; GGUFs whose template llama-cpp-python
        # does not recognise stop only at their eos token, often <|end_of_text|>: then the
        # model would talk past its turn. Stop at the turn end the template names.
        self.stop = [t for t in ("<|eot_id|>", "<|im_end|>", "<|end|>") if t in template]
        if not template and not settings.chat_format:
            log.warning(
                "%s has no chat template: llama-cpp-python falls back to the llama-2 prompt "
                "format, which most models do not follow; set generator.chat_format "
                "(e.g. llama-3, chatml, mistral-instruct)",
                model_path.name,
                extra={"event": "chat_template_missing"},
            )
        self.markers = marker_pattern(control_tokens(self.decoder.model))

    def token_text(self, token: int) -> str:
        return self.decoder.model.token_get_text(token) if token != -1 else ""

    def count_tokens(self, text: str) -> int:
        """Tokens of `text` as the model will get it (control markers defused)."""
        text = plain(text, self.markers)
        return len(self.decoder.tokenize(text, add_bos=False))

    def prepare(self, messages: list[dict]) -> list[dict]:
        """The messages as the model gets them: every control marker of this model defused."""
        return plain_messages(messages, self.markers)

    def stream(self, messages: list[dict], max_tokens: int | None = None) -> Iterator[str]:
        from appliance.answer.batched import Sampling

        prompt, stops = self._prompt(messages)
        sampling = Sampling(self.settings.temperature, self.settings.repeat_penalty)
        return self._generate(prompt, max_tokens or self.settings.max_tokens, sampling, stops)

    def complete_json(self, messages: list[dict], schema: dict, max_tokens: int) -> str:
        from llama_cpp.llama_grammar import json_schema_to_gbnf

        from appliance.answer.batched import Sampling

        prompt, stops = self._prompt(messages)
        sampling = Sampling(temperature=0.0, grammar=json_schema_to_gbnf(json.dumps(schema)))
        return "".join(self._generate(prompt, max_tokens, sampling, stops))

    def close(self) -> None:
        self.decoder.close()

    def _prompt(self, messages: list[dict]) -> tuple[list[int], list[str]]:
        formatted = self._format(messages=self.prepare(messages))
        stops = formatted.stop or []
        stops = [stops] if isinstance(stops, str) else list(stops)
        tokens = self.decoder.tokenize(formatted.prompt, add_bos=not formatted.added_special)
        return tokens, [*self.stop, *stops]

    def _generate(self, prompt, max_tokens, sampling, stops) -> Iterator[str]:
        from appliance.answer.batched import DecodeError

        try:
            yield from self.decoder.generate(prompt, max_tokens, sampling, stops)
        except DecodeError as err:
            raise GeneratorError(f"the model failed: {err}") from None


def chat_formatter(name: str, metadata: dict, generator: LlamaGenerator):
    """The chat format's name and its formatter (messages → prompt text and stop strings):
    `name` (generator.chat_format) if set, else the one llama-cpp-python recognises in the
    GGUF, else the GGUF's own template, else llama-2 (llama-cpp-python's fallback)."""
    import inspect

    from llama_cpp import llama_chat_format

    name = name or llama_chat_format.guess_chat_format_from_gguf_metadata(metadata) or ""
    template = metadata.get("tokenizer.chat_template", "")
    if not name and template:
        model = generator.decoder.model
        eos, bos = model.token_eos(), model.token_bos()
        formatter = llama_chat_format.Jinja2ChatFormatter(
            template=template,
            eos_token=generator.token_text(eos),
            bos_token=generator.token_text(bos),
            stop_token_ids=[eos],
        )
        return "chat_template.default", formatter
    name = name or "llama-2"
    handler = llama_chat_format.get_chat_completion_handler(name)
    formatter = inspect.getclosurevars(handler).nonlocals.get("chat_formatter")
    if formatter is None:
        raise GeneratorError(
            f"generator.chat_format {name!r} is not a plain prompt format; use one such as "
            "llama-3, chatml or mistral-instruct, or leave it empty for the GGUF's template"
        )
    return name, formatter


def control_tokens(model) -> list[str]:
    """The texts of a model's control and user-defined tokens: with special tokens on, the
    tokenizer turns each of them, written out in plain text, into that token."""
    from llama_cpp import LLAMA_TOKEN_ATTR_CONTROL, LLAMA_TOKEN_ATTR_USER_DEFINED

    wanted = LLAMA_TOKEN_ATTR_CONTROL | LLAMA_TOKEN_ATTR_USER_DEFINED
    return [
        model.token_get_text(token)
        for token in range(model.n_vocab())
        if model.token_get_attr(token) & wanted
    ]


class OpenAIGenerator:
    """A remote OpenAI-compatible chat completions endpoint."""

    def __init__(self, settings: GeneratorSettings):
        from openai import OpenAI

        self.settings = settings
        self.name = settings.api_model or "remote"
        self.device = f"remote ({settings.api_base})"
        self.max_tokens = settings.max_tokens
        self.prompt_budget = settings.n_ctx - settings.max_tokens
        self._client = OpenAI(
            base_url=settings.api_base,
            api_key=settings.api_key or "none",
            timeout=settings.timeout_s,
            max_retries=settings.retries,
        )

    def count_tokens(self, text: str) -> int:
        """No tokenizer here: a conservative estimate. ASCII text runs 3-4 characters a
        token; other scripts about a token per 2 bytes of UTF-8 (1.5 a Chinese character,
        2 an emoji)."""
        text = plain(text)
        ascii_chars = sum(1 for c in text if c.isascii())
        other_bytes = len(text.encode("utf-8")) - ascii_chars
        return ascii_chars // 3 + other_bytes // 2 + 1

    def stream(self, messages: list[dict], max_tokens: int | None = None) -> Iterator[str]:
        import openai

        messages = plain_messages(messages, GENERIC_MARKERS)
        try:
            chunks = self._client.chat.completions.create(
                model=self.settings.api_model or "default",
                messages=messages,
                stream=True,
                max_tokens=max_tokens or self.settings.max_tokens,
                temperature=self.settings.temperature,
            )
            with chunks:
                for chunk in chunks:
                    if chunk.choices and chunk.choices[0].delta.content:
                        yield chunk.choices[0].delta.content
        except openai.OpenAIError as err:
            raise GeneratorError(
                f"the generator at {self.settings.api_base} failed: {type(err).__name__}: {err}"
            ) from None

    def close(self) -> None:
        self._client.close()

    def complete_json(self, messages: list[dict], schema: dict, max_tokens: int) -> str:
        """Structured output (llama.cpp server, vLLM and most gateways take json_schema)."""
        import openai

        messages = plain_messages(messages, GENERIC_MARKERS)
        try:
            reply = self._client.chat.completions.create(
                model=self.settings.api_model or "default",
                messages=messages,
                max_tokens=max_tokens,
                temperature=0.0,
                response_format={
                    "type": "json_schema",
                    "json_schema": {"name": "reply", "schema": schema},
                },
            )
        except openai.OpenAIError as err:
            raise GeneratorError(
                f"the generator at {self.settings.api_base} failed: {type(err).__name__}: {err}"
            ) from None
        return reply.choices[0].message.content or ""


def open_generator(settings: GeneratorSettings, models_dir: Path, slots: int) -> Generator:
    if settings.backend == "openai":
        return OpenAIGenerator(settings)
    return LlamaGenerator(settings, models_dir / settings.model, slots)
