"""scripts/make_synthetic_gguf.py: a small random-weight model with the real tokenizer loads in
llama-cpp-python, tokenizes and formats chats as the source model does, and generates."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from llama_cpp import Llama

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "make_synthetic_gguf.py"
SOURCE = "generator/SmolLM2-135M-Instruct.Q4_1.gguf"
SMALL_SHAPE = ["--layers", "2", "--embedding", "256", "--feed-forward", "512", "--heads", "4"]
SMALL_SHAPE += ["--kv-heads", "2", "--context", "512"]


@pytest.mark.e2e  # a process of its own
def test_small_synthetic_model_loads_tokenizes_and_generates(tmp_path, models_dir):
    out = tmp_path / "synthetic.gguf"
    source = models_dir / SOURCE
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(out), "--source", str(source), *SMALL_SHAPE],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "parameters" in done.stdout and out.is_file()

    model = Llama(model_path=str(out), n_ctx=256, verbose=False)
    real = Llama(model_path=str(source), vocab_only=True, verbose=False)
    assert model.metadata["general.architecture"] == "llama"
    assert model.metadata["llama.block_count"] == "2"
    assert model.metadata["llama.embedding_length"] == "256"
    assert model.metadata["tokenizer.chat_template"] == real.metadata["tokenizer.chat_template"]
    assert model.n_vocab() == real.n_vocab()
    assert model.tokenize(b"Hello world") == real.tokenize(b"Hello world")
    assert model.token_eos() == real.token_eos()

    # Random weights: the text is gibberish, but 8 tokens must come out.
    result = model.create_completion("Hello", max_tokens=8, temperature=0.0)
    assert result["usage"]["completion_tokens"] > 0
