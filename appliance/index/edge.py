"""The chunk index in Qdrant Edge: an in-process shard under the data dir.

Each point is one chunk: a dense vector, a BM25 sparse vector and a payload naming its
source file, page, heading and the content hash of the document version it came from.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from qdrant_edge import (
    CountRequest,
    Distance,
    EdgeConfig,
    EdgeShard,
    EdgeSparseVectorParams,
    EdgeVectorParams,
    FacetRequest,
    FieldCondition,
    Filter,
    Fusion,
    MatchAny,
    MatchValue,
    Modifier,
    PayloadSchemaType,
    Point,
    Prefetch,
    Query,
    QueryRequest,
    ScrollRequest,
    SparseVector,
    UpdateOperation,
)

DENSE = "dense"
SPARSE = "bm25"
_IDS = uuid.UUID("6f1c2a52-8a9e-4c55-9a43-0d8f1f1e7a10")


class IndexLocked(Exception):
    """Another process holds the index open."""


@dataclass(frozen=True)
class IndexedChunk:
    source: str
    title: str
    modified: float  # the file's mtime, seconds since the epoch
    doc_hash: str  # sha256 of the file's content
    text_hash: str  # identifies the embedded text and the pipeline version that embedded it
    index: int
    page: int | None
    heading: str
    text: str
    dense: list[float]
    sparse: SparseVector


@dataclass(frozen=True)
class Hit:
    source: str
    title: str
    page: int | None
    heading: str
    text: str
    score: float
    chunk: int
    doc_hash: str


class EdgeIndex:
    """Chunks of every indexed document. Queries and updates may come from several threads.

    While a document is replaced both versions are stored for a moment; `publish` names the
    version searches may return, so a query never sees the document missing, nor twice.
    """

    def __init__(self, path: Path, dim: int, rrf_k: int = 60, weights=(1.0, 1.0)):
        self.path = path
        self.rrf_k = rrf_k
        self.weights = list(weights)
        self._published: dict[str, str] = {}
        try:
            self._shard = _open(path, dim)
        except Exception as err:
            if "WouldBlock" in str(err):
                raise IndexLocked(
                    f"the index at {path} is open in another appliance process "
                    "(is `appliance serve` running?): stop it first, or ask through its web API"
                ) from None
            raise

    def upsert(self, chunks: Sequence[IndexedChunk]) -> None:
        if not chunks:
            return
        points = [
            Point(
                _point_id(c.source, c.doc_hash, c.index),
                {DENSE: c.dense, SPARSE: c.sparse},
                {
                    "source": c.source,
                    "title": c.title,
                    "modified": c.modified,
                    "doc_hash": c.doc_hash,
                    "text_hash": c.text_hash,
                    "chunk": c.index,
                    "page": c.page,
                    "heading": c.heading,
                    "text": c.text,
                },
            )
            for c in chunks
        ]
        self._shard.update(UpdateOperation.upsert_points(points))

    def publish(self, source: str, doc_hash: str | None) -> None:
        """Searches return `source` only from its `doc_hash` version (None: any version)."""
        if doc_hash is None:
            self._published.pop(source, None)
        else:
            self._published[source] = doc_hash

    def dense_vectors(self, text_hashes: Sequence[str]) -> dict[str, list[float]]:
        """Vectors already stored for these texts, so a renamed, copied or partly edited
        document is not embedded again."""
        found: dict[str, list[float]] = {}
        wanted = Filter(must=[FieldCondition(key="text_hash", match=MatchAny(list(text_hashes)))])
        offset = None
        while True:
            request = ScrollRequest(
                offset=offset,
                limit=256,
                filter=wanted,
                with_payload=["text_hash"],
                with_vector=[DENSE],
            )
            records, offset = self._shard.scroll(request)
            for record in records:
                found[record.payload["text_hash"]] = list(record.vector[DENSE])
            if offset is None:
                return found

    def delete_document(self, source: str, keep_hash: str | None = None) -> None:
        """Remove a document's chunks; with keep_hash, only those of other versions."""
        must_not = [_match("doc_hash", keep_hash)] if keep_hash else None
        selector = Filter(must=[_match("source", source)], must_not=must_not)
        self._shard.update(UpdateOperation.delete_points_by_filter(selector))

    def search(
        self, dense: list[float], sparse: SparseVector, limit: int, candidates: int
    ) -> list[Hit]:
        prefetches = [
            Prefetch(limit=candidates, query=Query.Nearest(dense, using=DENSE)),
            Prefetch(limit=candidates, query=Query.Nearest(sparse, using=SPARSE)),
        ]
        request = QueryRequest(
            limit=2 * limit + 4,  # room for superseded versions, dropped below
            prefetches=prefetches,
            query=Fusion.Rrf(k=self.rrf_k, weights=self.weights),
            with_payload=True,
        )
        hits = [_hit(point) for point in self._shard.query(request)]
        return [h for h in hits if self._published.get(h.source, h.doc_hash) == h.doc_hash][:limit]

    def count(self, source: str | None = None) -> int:
        selector = Filter(must=[_match("source", source)]) if source else None
        return self._shard.count(CountRequest(filter=selector, exact=True))

    def chunks_per_source(self) -> dict[str, int]:
        facets = self._shard.facet(FacetRequest(key="source", limit=1_000_000, exact=True))
        return {hit.value: hit.count for hit in facets if hit.count > 0}

    def flush(self) -> None:
        self._shard.flush()

    def close(self) -> None:
        self._shard.flush()
        self._shard.close()


def _open(path: Path, dim: int) -> EdgeShard:
    if (path / "edge_config.json").exists():
        return EdgeShard.load(str(path))
    config = EdgeConfig(
        vectors={DENSE: EdgeVectorParams(size=dim, distance=Distance.Cosine)},
        sparse_vectors={SPARSE: EdgeSparseVectorParams(modifier=Modifier.Idf)},
    )
    shard = EdgeShard.create(str(path), config)
    for field in ("source", "doc_hash", "text_hash"):
        shard.update(UpdateOperation.create_field_index(field, PayloadSchemaType.Keyword))
    return shard


def _match(key: str, value: str) -> FieldCondition:
    return FieldCondition(key=key, match=MatchValue(value))


def _point_id(source: str, doc_hash: str, index: int) -> str:
    return str(uuid.uuid5(_IDS, f"{source}\0{doc_hash}\0{index}"))


def _hit(point) -> Hit:
    p = point.payload or {}
    return Hit(
        source=p.get("source", ""),
        title=p.get("title", ""),
        page=p.get("page"),
        heading=p.get("heading", ""),
        text=p.get("text", ""),
        score=float(point.score),
        chunk=int(p.get("chunk", 0)),
        doc_hash=p.get("doc_hash", ""),
    )
