"""Text → vectors: a dense ONNX model through fastembed (loaded from models/, never from a hub)
and BM25 sparse vectors from Qdrant Edge's multilingual tokenizer."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fastembed import TextEmbedding
from fastembed.common.model_description import ModelSource, PoolingType
from qdrant_edge import Bm25, Bm25Config, SparseVector, TokenizerType

from appliance.config import EmbedderSettings

_POOLING = {"mean": PoolingType.MEAN, "cls": PoolingType.CLS}


class Embedder:
    """Dense and sparse vectors for documents and queries. Safe to share between threads."""

    def __init__(self, settings: EmbedderSettings, model_dir: Path):
        self.dim = settings.dim
        self.batch_size = settings.batch_size
        self.query_prefix = settings.query_prefix
        self.document_prefix = settings.document_prefix
        name = _register(settings)
        self._dense = TextEmbedding(
            name,
            specific_model_path=str(model_dir),
            threads=settings.threads or None,
            local_files_only=True,
        )
        # fastembed truncates at tokenizer_config.json's model_max_length (512 for MiniLM),
        # but sentence models are trained shorter (MiniLM: 256). Past that, quality falls
        # and attention cost and ONNX Runtime's memory pool grow with the square of length.
        self._dense.model.tokenizer.enable_truncation(max_length=settings.max_tokens)
        self._bm25 = Bm25(Bm25Config(tokenizer=TokenizerType.Multilingual))

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        prefixed = [self.document_prefix + t for t in texts]
        vectors = self._dense.embed(prefixed, batch_size=self.batch_size)
        return [vector.tolist() for vector in vectors]

    def embed_query(self, text: str) -> list[float]:
        return next(iter(self._dense.query_embed(self.query_prefix + text))).tolist()

    def sparse_document(self, text: str) -> SparseVector:
        return self._bm25.embed_document(text)

    def sparse_query(self, text: str) -> SparseVector:
        return self._bm25.embed_query(text)

    def terms(self, text: str) -> set[int]:
        """The text's search terms as BM25 cuts them (multilingual, stemmed, no stopwords),
        as token ids: for comparing a question with passages and sentences."""
        return set(self._bm25.embed_query(text).indices)


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
