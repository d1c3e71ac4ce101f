"""The `qdrant` backend: qdrant-client, either on a local folder (`index.qdrant_path`) or on a
Qdrant server or distributed cluster (`index.qdrant_url`, API key from .env): the scale-out
path when one box is not enough. Same points, payload and hybrid query as the edge backend.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from qdrant_client import QdrantClient, models
from qdrant_edge import SparseVector

from appliance.errors import IndexLocked, IndexMismatch
from appliance.index.store import (
    DENSE,
    KEYWORD_FIELDS,
    MULTILINGUAL,
    SPARSE,
    FusedIndex,
    Hit,
    IndexedChunk,
    Rankings,
    SearchFilter,
    hit,
    payload,
    point_id,
)

COLLECTION = "appliance"
log = logging.getLogger("appliance.index")


class QdrantIndex(FusedIndex):
    def __init__(
        self,
        dim: int,
        path: Path | None = None,
        url: str = "",
        api_key: str = "",
        collection: str = COLLECTION,
        rrf_k: int = 60,
        weights=(1.0, 1.0),
        multilingual: tuple[int, float] | None = None,  # its vectors' size and its weight
        remake: bool = True,  # False: IndexMismatch rather than making it anew (a check)
    ):
        super().__init__(rrf_k, weights, multilingual[1] if multilingual else None)
        self.collection = collection
        if url:
            self._client = QdrantClient(url=url, api_key=api_key or None, timeout=30)
        else:
            path.mkdir(parents=True, exist_ok=True)
            try:
                self._client = QdrantClient(path=str(path))
            except RuntimeError as err:
                if "already accessed" in str(err):
                    raise IndexLocked(
                        f"the index at {path} is open in another appliance process "
                        "(is `appliance serve` running?): stop it first"
                    ) from None
                raise
        sizes = {DENSE: dim} | ({MULTILINGUAL: multilingual[0]} if multilingual else {})
        if self._client.collection_exists(collection):
            vectors = self._client.get_collection(collection).config.params.vectors
            if {name: v.size for name, v in vectors.items()} == sizes:
                self._index_fields(bool(url))  # a field added since it was made (language)
                return
            if not remake:
                raise IndexMismatch(
                    f"the collection {collection} holds other embedders' vectors: "
                    "`appliance serve` makes it anew and indexes every file in kb/ again"
                )
            log.warning(
                "the collection %s holds other embedders' vectors: it is made anew, and "
                "every file in kb/ is indexed again",
                collection,
            )
            self._client.delete_collection(collection)
        self._create(sizes, payload_indexes=bool(url))

    def _create(self, sizes: dict[str, int], payload_indexes: bool) -> None:
        cosine = models.Distance.COSINE
        vectors = {name: models.VectorParams(size=d, distance=cosine) for name, d in sizes.items()}
        self._client.create_collection(
            self.collection,
            vectors_config=vectors,
            sparse_vectors_config={SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)},
        )
        self._index_fields(payload_indexes)

    def _index_fields(self, payload_indexes: bool) -> None:
        for field in KEYWORD_FIELDS if payload_indexes else ():  # local mode has none
            self._client.create_payload_index(  # a field indexed already stays as it is
                self.collection, field, models.PayloadSchemaType.KEYWORD
            )

    def upsert(self, chunks: Sequence[IndexedChunk]) -> None:
        if not chunks:
            return
        points = [
            models.PointStruct(
                id=point_id(c),
                vector={**c.dense_by_name(), SPARSE: _sparse(c.sparse)},
                payload=payload(c),
            )
            for c in chunks
        ]
        self._client.upsert(self.collection, points, wait=True)

    def dense_vectors(
        self, text_hashes: Sequence[str], name: str = DENSE
    ) -> dict[str, list[float]]:
        wanted = models.Filter(
            must=[
                models.FieldCondition(key="text_hash", match=models.MatchAny(any=list(text_hashes)))
            ]
        )
        found: dict[str, list[float]] = {}
        offset = None
        while True:
            records, offset = self._client.scroll(
                self.collection,
                scroll_filter=wanted,
                limit=256,
                offset=offset,
                with_payload=["text_hash"],
                with_vectors=[name],
            )
            for record in records:
                if name in (record.vector or {}):
                    found[record.payload["text_hash"]] = list(record.vector[name])
            if offset is None:
                return found

    def delete_document(
        self, source: str, keep_hash: str | None = None, keep_chunks: int | None = None
    ) -> None:
        must_not = None
        if keep_hash:
            kept = [_match("doc_hash", keep_hash)]
            if keep_chunks is not None:
                kept.append(models.FieldCondition(key="chunk", range=models.Range(lt=keep_chunks)))
            must_not = [models.Filter(must=kept)]
        selector = models.Filter(must=[_match("source", source)], must_not=must_not)
        self._client.delete(self.collection, models.FilterSelector(filter=selector), wait=True)

    def _fused(self, plan: Rankings, candidates: int, limit: int):
        prefetch = [
            models.Prefetch(
                query=_sparse(query) if using == SPARSE else query,
                using=using,
                limit=candidates,
                filter=_filter(f),
            )
            for query, using, _, f in plan.searches
        ]
        rrf = models.Rrf(k=self.rrf_k, weights=[weight for _, _, weight, _ in plan.searches])
        response = self._client.query_points(
            self.collection,
            prefetch=prefetch,
            query=models.RrfQuery(rrf=rrf),
            limit=limit,
            with_payload=True,
            with_vectors=[plan.space],
        )
        for p in response.points:
            yield p.payload or {}, p.score, (p.vector or {}).get(plan.space)

    def held(self, terms: Sequence[int], where: SearchFilter | None = None) -> set[int]:
        selector = _filter(where)
        return {
            term
            for term in terms
            if self._client.query_points(
                self.collection,
                query=models.SparseVector(indices=[term], values=[1.0]),
                using=SPARSE,
                query_filter=selector,
                limit=1,
            ).points
        }

    def passages(self, source: str, chunks: Sequence[int]) -> list[Hit]:
        published = self.snapshot()
        wanted = models.Filter(
            must=[
                _match("source", source),
                models.FieldCondition(key="chunk", match=models.MatchAny(any=list(chunks))),
            ]
        )
        records, _ = self._client.scroll(
            self.collection, scroll_filter=wanted, limit=4 * len(chunks) + 4, with_payload=True
        )
        return self.current([hit(r.payload or {}, 0.0) for r in records], published)

    def count(self, source: str | None = None, where: SearchFilter | None = None) -> int:
        selector = _filter(where)
        if source:
            selector = models.Filter(
                must=[_match("source", source), *([selector] if selector else [])]
            )
        return self._client.count(self.collection, count_filter=selector, exact=True).count

    def chunks_per_source(self, where: SearchFilter | None = None) -> dict[str, int]:
        response = self._client.facet(
            self.collection, "source", _filter(where), limit=1_000_000, exact=True
        )
        return {f.value: f.count for f in response.hits if f.count > 0}

    def flush(self) -> None:
        """Writes are acknowledged durable (wait=True); nothing to do."""

    def optimize(self) -> None:
        """A Qdrant server optimizes by itself; local mode has no HNSW to build."""

    def unindexed(self) -> int:
        return 0

    def close(self) -> None:
        self._client.close()


def _sparse(v: SparseVector) -> models.SparseVector:
    return models.SparseVector(indices=list(v.indices), values=list(v.values))


def _match(key: str, value: str) -> models.FieldCondition:
    return models.FieldCondition(key=key, match=models.MatchValue(value=value))


def _condition(key: str, value: str | tuple[str, ...]) -> models.FieldCondition:
    if isinstance(value, tuple):
        return models.FieldCondition(key=key, match=models.MatchAny(any=list(value)))
    return _match(key, value)


def _filter(where: SearchFilter | None) -> models.Filter | None:
    if where is None or where.empty:
        return None
    wanted, unwanted = where.conditions()
    must: list = [_condition(*c) for c in wanted]
    must_not = [_condition(*c) for c in unwanted]
    if where.within is not None:  # kb/'s top level (no folders), or a granted folder
        allowed: list = [models.IsEmptyCondition(is_empty=models.PayloadField(key="folders"))]
        if where.within:
            allowed.append(
                models.FieldCondition(key="folders", match=models.MatchAny(any=list(where.within)))
            )
        must.append(models.Filter(should=allowed))
    return models.Filter(must=must, must_not=must_not or None)
