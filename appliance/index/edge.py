"""The `edge` backend: Qdrant Edge, an in-process shard under the data dir (the default).

Each point is one chunk: a dense vector, a BM25 sparse vector and the payload of store.py.
"""

from __future__ import annotations

import fcntl
import json
import logging
import shutil
from collections.abc import Sequence
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
    IsEmptyCondition,
    MatchAny,
    MatchValue,
    Memory,
    Modifier,
    PayloadSchemaType,
    Point,
    Prefetch,
    Query,
    QueryRequest,
    RangeFloat,
    ScrollRequest,
    SparseVector,
    UpdateOperation,
)

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

log = logging.getLogger("appliance.index")


class EdgeIndex(FusedIndex):
    """Chunks of every indexed document. Queries and updates may come from several threads."""

    def __init__(
        self,
        path: Path,
        dim: int,
        rrf_k: int = 60,
        weights=(1.0, 1.0),
        multilingual: tuple[int, float] | None = None,  # its vectors' size and its weight
        remake: bool = True,  # False: IndexMismatch rather than making it anew (a check)
    ):
        super().__init__(rrf_k, weights, multilingual[1] if multilingual else None)
        self.path = path
        self._closed = False
        sizes = {DENSE: dim} | ({MULTILINGUAL: multilingual[0]} if multilingual else {})
        self._lock = _lock(path)
        try:
            self._shard = _open(path, sizes, remake)
        except BaseException as err:
            self._lock.close()
            if "WouldBlock" in str(err):  # Qdrant Edge's own lock: an earlier version's process
                raise _in_use(path) from None
            raise

    def upsert(self, chunks: Sequence[IndexedChunk]) -> None:
        if chunks:
            points = [
                Point(point_id(c), {**c.dense_by_name(), SPARSE: c.sparse}, payload(c))
                for c in chunks
            ]
            self._shard.update(UpdateOperation.upsert_points(points))

    def dense_vectors(
        self, text_hashes: Sequence[str], name: str = DENSE
    ) -> dict[str, list[float]]:
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
                with_vector=[name],
            )
            records, offset = self._shard.scroll(request)
            for record in records:
                if name in (record.vector or {}):
                    found[record.payload["text_hash"]] = list(record.vector[name])
            if offset is None:
                return found

    def delete_document(
        self, source: str, keep_hash: str | None = None, keep_chunks: int | None = None
    ) -> None:
        """Remove a document's chunks; with keep_hash, only those of other versions, and with
        keep_chunks as well, that version's chunks from that number on (left by a chunking
        that cut the same file into more chunks)."""
        must_not = None
        if keep_hash:
            kept = [_match("doc_hash", keep_hash)]
            if keep_chunks is not None:
                kept.append(FieldCondition(key="chunk", range=RangeFloat(lt=keep_chunks)))
            must_not = [Filter(must=kept)]
        selector = Filter(must=[_match("source", source)], must_not=must_not)
        self._shard.update(UpdateOperation.delete_points_by_filter(selector))

    def _fused(self, plan: Rankings, candidates: int, limit: int):
        request = QueryRequest(
            limit=limit,
            prefetches=[
                Prefetch(
                    limit=candidates, query=Query.Nearest(query, using=using), filter=_filter(f)
                )
                for query, using, _, f in plan.searches
            ],
            query=Fusion.Rrf(k=self.rrf_k, weights=[weight for _, _, weight, _ in plan.searches]),
            with_payload=True,
            with_vector=[plan.space],
        )
        for p in self._shard.query(request):
            yield p.payload or {}, p.score, (p.vector or {}).get(plan.space)

    def held(self, terms: Sequence[int], where: SearchFilter | None = None) -> set[int]:
        selector = _filter(where)
        return {
            term
            for term in terms
            if self._shard.query(
                QueryRequest(
                    limit=1,
                    query=Query.Nearest(SparseVector([term], [1.0]), using=SPARSE),
                    filter=selector,
                )
            )
        }

    def passages(self, source: str, chunks: Sequence[int]) -> list[Hit]:
        """Chunks of a document by position (a cited passage and its neighbours)."""
        published = self.snapshot()
        wanted = Filter(
            must=[
                _match("source", source),
                FieldCondition(key="chunk", match=MatchAny(list(chunks))),
            ]
        )
        records, _ = self._shard.scroll(
            ScrollRequest(limit=4 * len(chunks) + 4, filter=wanted, with_payload=True)
        )
        return self.current([hit(r.payload or {}, 0.0) for r in records], published)

    def count(self, source: str | None = None, where: SearchFilter | None = None) -> int:
        selector = _filter(where)
        if source:
            selector = Filter(must=[_match("source", source), *([selector] if selector else [])])
        return self._shard.count(CountRequest(filter=selector, exact=True))

    def chunks_per_source(self, where: SearchFilter | None = None) -> dict[str, int]:
        facets = self._shard.facet(
            FacetRequest(key="source", limit=1_000_000, exact=True, filter=_filter(where))
        )
        return {f.value: f.count for f in facets if f.count > 0}

    def flush(self) -> None:
        self._shard.flush()

    def optimize(self) -> None:
        """Build the HNSW graphs and merge segments. Qdrant Edge holds the GIL for the whole
        build (154 s at 100k chunks on 2 cores, both dense vectors), stalling every thread of
        the process: so this runs from `appliance ingest --optimize`, or in `serve` before it
        starts answering."""
        self._shard.optimize()

    def unindexed(self) -> int:
        """Dense vectors searched without an HNSW graph (sparse vectors always have their
        index, and ShardInfo counts both kinds)."""
        info = self._shard.info()
        return max(0, 2 * info.points_count - info.indexed_vectors_count)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._shard.flush()
            self._shard.close()
        finally:
            self._lock.close()  # and with it the lock


def _lock(path: Path):
    """The index's own lock (index.lock beside it), taken before Qdrant Edge opens anything:
    its load rewrites segment files before it finds the shard locked, and the process that
    holds the shard then fails every flush. The system drops it when the process ends."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path.parent / f"{path.name}.lock", "a")  # held until close
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise _in_use(path) from None
    return handle


def _in_use(path: Path) -> IndexLocked:
    return IndexLocked(
        f"the index at {path} is open in another appliance process "
        "(is `appliance serve` running?): stop it first, or ask through its web API"
    )


def _open(path: Path, sizes: dict[str, int], remake: bool = True) -> EdgeShard:
    """The shard at `path`, made anew when its dense vectors are not of these names and
    sizes: another embedder wrote it, and every file is indexed again (sync/pipeline.py's
    version changed with the embedder). Without `remake`, IndexMismatch instead."""
    saved = path / "edge_config.json"
    if saved.exists():
        config = json.loads(saved.read_text())
        vectors = config["vectors"]
        if {name: v["size"] for name, v in vectors.items()} == sizes:
            # loading persists the new config at once, before the segments are rebuilt: the
            # marker, removed once they are, tells a conversion cut short to be done again
            converting = path / "converting-payloads"
            convert = config.get("payload_memory") != "cached" or converting.exists()
            if convert:
                converting.touch()
            # takes its lock first: in use elsewhere, it fails
            shard = EdgeShard.load(str(path), _config(sizes))
            _index_fields(shard)  # a field added since it was made (language)
            if convert:
                log.info("moving the index's passages into memory (once; 9 s at 100k chunks)")
                shard.optimize()  # rebuilds its segments as configured now
                converting.unlink()
            return shard
        held = ", ".join(f"{n} {v['size']}" for n, v in vectors.items())
        now = ", ".join(f"{n} {d}" for n, d in sizes.items())
        if not remake:
            raise IndexMismatch(
                f"the index at {path} holds other embedders' vectors ({held}, now {now}): "
                "`appliance serve` makes it anew and indexes every file in kb/ again"
            )
        EdgeShard.load(str(path)).close()  # an earlier version's process may hold it
        log.warning(
            "the index at %s holds other embedders' vectors (%s, now %s): it is made anew, "
            "and every file in kb/ is indexed again",
            path,
            held,
            now,
        )
        shutil.rmtree(path)
    shard = EdgeShard.create(str(path), _config(sizes))
    _index_fields(shard)
    return shard


def _config(sizes: dict[str, int]) -> EdgeConfig:
    """Payloads (each chunk's text and metadata, about 1 KB compressed) are held in memory:
    on disk, the first read of each passage in a process is a disk read, which at 100k
    chunks cost 5 ms per file of 50 chunks. A shard made before is converted when opened."""
    return EdgeConfig(
        vectors={n: EdgeVectorParams(size=d, distance=Distance.Cosine) for n, d in sizes.items()},
        sparse_vectors={SPARSE: EdgeSparseVectorParams(modifier=Modifier.Idf)},
        payload_memory=Memory.Cached,
    )


def _index_fields(shard: EdgeShard) -> None:
    for field in KEYWORD_FIELDS:  # a field indexed already stays as it is
        shard.update(UpdateOperation.create_field_index(field, PayloadSchemaType.Keyword))


def _match(key: str, value: str) -> FieldCondition:
    return FieldCondition(key=key, match=MatchValue(value))


def _condition(key: str, value: str | tuple[str, ...]) -> FieldCondition:
    if isinstance(value, tuple):
        return FieldCondition(key=key, match=MatchAny(list(value)))
    return _match(key, value)


def _filter(where: SearchFilter | None) -> Filter | None:
    if where is None or where.empty:
        return None
    wanted, unwanted = where.conditions()
    must: list = [_condition(*c) for c in wanted]
    must_not = [_condition(*c) for c in unwanted]
    if where.within is not None:  # kb/'s top level (no folders), or a granted folder
        allowed: list = [IsEmptyCondition("folders")]
        if where.within:
            allowed.append(FieldCondition(key="folders", match=MatchAny(list(where.within))))
        must.append(Filter(should=allowed))
    return Filter(must=must, must_not=must_not or None)
