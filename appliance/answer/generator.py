"""The local LLM: llama.cpp through llama-cpp-python, offloaded to the GPU when there is one.

The `Llama` object is not thread-safe: callers reach it only through Admission.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from appliance.config import GeneratorSettings


class LlamaGenerator:
    def __init__(self, settings: GeneratorSettings, model_path: Path):
        from llama_cpp import Llama  # heavy import: only where a model is loaded

        self.settings = settings
        self.model_name = model_path.name
        self._llm = Llama(
            model_path=str(model_path),
            n_ctx=settings.n_ctx,
            n_gpu_layers=settings.n_gpu_layers,
            n_threads=settings.threads or max(1, (os.cpu_count() or 2)),
            verbose=False,
        )

    @property
    def prompt_budget(self) -> int:
        """Tokens the prompt may use, leaving room for the answer."""
        return self.settings.n_ctx - self.settings.max_tokens

    def count_tokens(self, text: str) -> int:
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def stream(self, messages: list[dict]) -> Iterator[str]:
        """Answer text as it is generated, using the chat template stored in the GGUF."""
        chunks = self._llm.create_chat_completion(
            messages=messages,
            stream=True,
            max_tokens=self.settings.max_tokens,
            temperature=self.settings.temperature,
        )
        for chunk in chunks:
            text = chunk["choices"][0]["delta"].get("content")
            if text:
                yield text
