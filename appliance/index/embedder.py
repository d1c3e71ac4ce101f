"""Text → vectors: a dense ONNX model (loaded from models/, never from a hub) through
fastembed, or a graph that tokenizes by itself, and a second, multilingual one; BM25 sparse
vectors from Qdrant Edge's multilingual tokenizer, cut as the text's language
(index/languages.py), with identifiers as terms of their own."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime
from fastembed import TextEmbedding
from fastembed.common.model_description import ModelSource, PoolingType
from qdrant_edge import SparseVector
from tokenizers import Tokenizer

from appliance.config import EmbedderSettings
from appliance.documents.chunker import rough_prefix, rough_token_counts
from appliance.errors import ConfigError
from appliance.index.identifiers import identifier_term, identifier_terms, identifiers
from appliance.index.languages import ENGLISH, Analyzers

# Qdrant Edge's BM25 defaults (Bm25Config): identifier terms are weighted the same way.
BM25_K, BM25_B, BM25_AVERAGE_LENGTH = 1.2, 0.75, 256
_POOLING = {"mean": PoolingType.MEAN, "cls": PoolingType.CLS}


class Embedder:
    """Dense and sparse vectors for documents and queries. Safe to share between threads.

    With `multilingual` (its settings and folder), each text also gets a second dense vector
    from a multilingual model: the search adds it for questions not in English, which an
    English embedder reads as unknown tokens (config.MultilingualSettings)."""

    def __init__(
        self,
        settings: EmbedderSettings,
        model_dir: Path,
        multilingual: tuple[EmbedderSettings, Path] | None = None,
    ):
        self.dim = settings.dim
        self._settings = {"embedder": settings} | (
            {"multilingual": multilingual[0]} if multilingual else {}
        )
        providers = execution_providers(settings.device)
        self.device = "gpu" if providers[0] == CUDA else "cpu"
        self._dense = _Dense(settings, model_dir, providers)
        self._multilingual = _Dense(*multilingual, providers) if multilingual else None
        self.multilingual_dim = multilingual[0].dim if multilingual else None
        self._analyzers = Analyzers()
        # Searched with, then the quotes chosen by it: once a question.
        self._multilingual_query = functools.lru_cache(maxsize=64)(self._embed_multilingual_query)
        # Read for the search, the named files, the quotes and the gate: once a question.
        self._question_languages = functools.lru_cache(maxsize=256)(
            self._analyzers.question_languages
        )

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        return self._dense.documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self._dense.query(text)

    def embed_multilingual_documents(self, texts: Sequence[str]) -> list[list[float]] | None:
        """The texts' multilingual vectors; None without a multilingual embedder."""
        return self._multilingual.documents(texts) if self._multilingual else None

    def embed_multilingual_query(self, text: str) -> list[float] | None:
        """The question's multilingual vector when it is clearly not in English (None
        otherwise, or without a multilingual embedder): in English the first embedder ranks
        better (python-docs MRR 0.892 alone, 0.847 with both), and "Generate a random unique
        identifier" leans Hungarian by its stopwords without saying so clearly."""
        return self._multilingual_query(text)

    def _embed_multilingual_query(self, text: str) -> list[float] | None:
        if self._multilingual is None or self.language_of(text) == ENGLISH:
            return None
        return self._multilingual.query(text)

    def multilingual_similarity(self, question: str, texts: list[str]) -> list[float] | None:
        """Each text's cosine with the question by the multilingual embedder, for choosing
        what to quote; None where the question is not searched with it (English)."""
        query = self._multilingual_query(question)
        if query is None:
            return None
        return (np.array(self._multilingual.documents(texts)) @ np.array(query)).tolist()

    def dimension_problem(self) -> tuple[str, str] | None:
        """(what is wrong, the fix) when a model gives vectors of another size than its
        settings' `dim` say, else None."""
        for section, settings in self._settings.items():
            model = self._dense if section == "embedder" else self._multilingual
            size = len(model.query("dimension check"))
            if size != settings.dim:
                return (
                    f"{settings.model_dir} gives {size}-dimensional vectors, "
                    f"{section}.dim is {settings.dim}",
                    f"set {section}.dim: {size}",
                )
        return None

    def check_dimensions(self) -> None:
        """ConfigError when a model's vectors are not of its settings' size."""
        problem = self.dimension_problem()
        if problem:
            raise ConfigError(f"{problem[0]}: {problem[1]}")

    def count_tokens(self, pieces: Sequence[str]) -> list[int]:
        """The embedder's tokens in each piece of text (special tokens aside): chunks are
        measured with it, so that the embedder sees each chunk whole."""
        return self._dense.model.count_tokens(pieces)

    def language_of(self, text: str, otherwise: str | None = ENGLISH) -> str | None:
        """The language BM25 cuts the text as (index/languages.py); `otherwise` when the
        text does not say."""
        return self._analyzers.language_of(text, otherwise)

    def question_languages(self, question: str) -> tuple[str, ...]:
        """The languages the question is cut in, its own (or the likeliest) first."""
        return self._question_languages(question)

    def sparse_document(self, text: str, language: str | None = None) -> SparseVector:
        """BM25 of the text, cut as `language`, the text's own (`language_of`; read from the
        text when not given), with its identifiers as terms of their own (weighted as BM25
        weighs a word: by its count, less in a long text)."""
        length = len(text.split()) / BM25_AVERAGE_LENGTH
        saturation = BM25_K * (1 - BM25_B + BM25_B * length)
        weights = self._analyzers.document(text, language or self.language_of(text))
        for term, count in identifier_terms(text).items():
            weights[term] = weights.get(term, 0.0) + count * (BM25_K + 1) / (count + saturation)
        return SparseVector(list(weights), list(weights.values()))

    def sparse_query(self, text: str) -> SparseVector:
        """BM25 of the question, cut as its language and as English (each passage holds the
        terms of one of them), with its identifiers as terms of their own."""
        terms = dict.fromkeys(identifier_terms(text), 1.0)
        for language in self.question_languages(text):
            terms |= dict.fromkeys(sorted(self._analyzers.query(text, language)), 1.0)
        return SparseVector(list(terms), list(terms.values()))

    def exact_query(self, text: str) -> SparseVector | None:
        """The question's identifiers alone, as a sparse query (None without any): it finds
        the passages that hold them, however the rest of the question reads."""
        terms = identifier_terms(text)
        return SparseVector(list(terms), [1.0] * len(terms)) if terms else None

    def terms(self, text: str, languages: Sequence[str] = (ENGLISH,)) -> set[int]:
        """The text's search terms as BM25 cuts them in each of `languages` (stemmed, no
        stopwords), and its identifiers, as ids: for comparing a question with passages and
        sentences, all cut as the question is searched (question_languages)."""
        found = set(identifier_terms(text))
        for language in languages:
            found |= self._analyzers.query(text, language)
        return found

    def name_terms(self, name: str, language: str = ENGLISH) -> set[int]:
        """The terms a passage in `language` that holds `name` has: an identifier whole, a
        word as BM25 cuts it there."""
        if identifiers(name) == [name]:
            return {identifier_term(name)}
        return self._analyzers.query(name, language)


CUDA, CPU = "CUDAExecutionProvider", "CPUExecutionProvider"


def execution_providers(device: str) -> list[str]:
    """Where ONNX Runtime runs the embedder (embedder.device): on the GPU when asked, or with
    auto when this ONNX Runtime has CUDA (the onnxruntime-gpu package); else on the CPU.
    On a GPU box indexing is then no longer bound to the CPU embedder."""
    has_cuda = CUDA in onnxruntime.get_available_providers()
    if device == "cuda" and not has_cuda:
        raise ConfigError(
            "embedder.device is cuda, but this ONNX Runtime has no CUDA provider: install "
            "onnxruntime-gpu in place of onnxruntime, or set embedder.device: auto"
        )
    return [CUDA, CPU] if has_cuda and device != "cpu" else [CPU]


def _register(settings: EmbedderSettings) -> str:
    """fastembed only loads models it knows by name: describe ours once per process."""
    name = (
        f"appliance-local/{settings.model_file}-{settings.dim}-{settings.pooling}"
        f"-{'norm' if settings.normalize else 'raw'}"
    )
    known = {m.model.lower() for m in TextEmbedding._list_supported_models()}
    if name.lower() not in known:
        TextEmbedding.add_custom_model(
            model=name,
            pooling=_POOLING[settings.pooling],
            normalization=settings.normalize,
            sources=ModelSource(hf=name),
            dim=settings.dim,
            model_file=settings.model_file,
        )
    return name


def session_options(settings: EmbedderSettings) -> onnxruntime.SessionOptions:
    """ONNX Runtime options for an embedder: its threads, which do not spin. By default they
    spin-wait on every core after a run, for the next one, and what runs next waits for them:
    the second embedder (a question not in English is embedded by both), BM25, the engine's
    search. Measured on 2 cores: such a question retrieved in p50 16.7 → 13.7 ms, p95 24.8 →
    18.5 ms; English ones p95 12.2 → 10.2 ms; indexing as fast."""
    options = onnxruntime.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if settings.threads:
        options.intra_op_num_threads = settings.threads
    return options


class _Dense:
    """One dense model with its settings' prefixes and batch size."""

    def __init__(self, settings: EmbedderSettings, model_dir: Path, providers: list[str]):
        self.settings = settings
        model = _TextGraph if settings.format == "text_graph" else _Transformer
        self.model: _Transformer | _TextGraph = model(settings, model_dir, providers)

    def documents(self, texts: Sequence[str]) -> list[list[float]]:
        s = self.settings
        return self.model.embed([s.document_prefix + t for t in texts], s.batch_size)

    def query(self, text: str) -> list[float]:
        return self.model.embed([self.settings.query_prefix + text], 1)[0]


class _Transformer:
    """A transformer exported to ONNX with its tokenizer files, run by fastembed (pooling
    and normalisation as configured)."""

    def __init__(self, settings: EmbedderSettings, model_dir: Path, providers: list[str]):
        self._model = TextEmbedding(
            _register(settings),
            specific_model_path=str(model_dir),
            threads=settings.threads or None,
            providers=providers,
            local_files_only=True,
            lazy_load=True,  # its session spins between runs: ours below does not
        )
        inner = self._model.model
        inner.model = onnxruntime.InferenceSession(
            str(model_dir / settings.model_file), session_options(settings), providers=providers
        )
        inner._ensure_tokenizer()  # loaded with the session, which fastembed did not make
        # fastembed truncates at tokenizer_config.json's model_max_length (512 for MiniLM),
        # but sentence models are trained shorter (MiniLM: 256). Past that, quality falls
        # and attention cost and ONNX Runtime's memory pool grow with the square of length.
        inner.tokenizer.enable_truncation(max_length=settings.max_tokens)
        self._counter = Tokenizer.from_str(inner.tokenizer.to_str())
        self._counter.no_truncation()
        self._counter.no_padding()

    def embed(self, texts: list[str], batch_size: int) -> list[list[float]]:
        return [v.tolist() for v in self._model.embed(texts, batch_size=batch_size)]

    def count_tokens(self, pieces: Sequence[str]) -> list[int]:
        encodings = self._counter.encode_batch(list(pieces), add_special_tokens=False)
        return [len(e.ids) for e in encodings]


class _TextGraph:
    """An ONNX graph that takes the texts themselves, its tokenizer inside (custom ops of
    onnxruntime-extensions), and gives one normalised vector per text: e.g. the multilingual
    Universal Sentence Encoder (the default multilingual embedder)."""

    def __init__(self, settings: EmbedderSettings, model_dir: Path, providers: list[str]):
        from onnxruntime_extensions import get_library_path

        options = session_options(settings)
        options.register_custom_ops_library(get_library_path())
        self._session = onnxruntime.InferenceSession(
            str(model_dir / settings.model_file), options, providers=providers
        )
        self._input = self._session.get_inputs()[0].name
        self._normalize = settings.normalize
        self._max_tokens = settings.max_tokens

    def embed(self, texts: list[str], batch_size: int) -> list[list[float]]:
        # The graph reads whatever it is given: a chunk of one 5 MB line (the chunker keeps
        # it whole, for the embedder to truncate) took 23 GB. Cut by the rough count first.
        texts = [rough_prefix(t, self._max_tokens) for t in texts]
        vectors = []
        for start in range(0, len(texts), batch_size):
            batch = np.array(texts[start : start + batch_size], dtype=object)
            out = self._session.run(None, {self._input: batch})[0]
            if self._normalize:
                out = out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
            vectors += out.tolist()
        return vectors

    def count_tokens(self, pieces: Sequence[str]) -> list[int]:
        return rough_token_counts(pieces)  # its tokenizer is inside the graph
