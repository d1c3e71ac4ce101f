"""What every vector store backend stores and returns, and the behaviour they share.

Two backends implement it: `edge` (Qdrant Edge, in-process; the default) and `qdrant`
(qdrant-client: a local folder, or a Qdrant server or cluster by URL). Both pass the same
contract tests (tests/index/test_store_contract.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import PurePosixPath
from typing import Protocol

import numpy as np
from qdrant_edge import SparseVector

from appliance.index.identifiers import file_stem

DENSE = "dense"
MULTILINGUAL = "multilingual"  # the second embedder's vector (config.MultilingualSettings)
SPARSE = "bm25"
KEYWORD_FIELDS = ("source", "doc_hash", "text_hash", "folders", "ext", "language")
_IDS = uuid.UUID("6f1c2a52-8a9e-4c55-9a43-0d8f1f1e7a10")


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
    ocr: bool = False  # read by OCR from a scanned page: may hold misread characters
    multilingual: list[float] | None = None  # the multilingual embedder's, when there is one
    language: str = ""  # the language BM25 cut it as (index/languages.py)

    def dense_by_name(self) -> dict[str, list[float]]:
        """The chunk's dense vectors, by the name the index stores them under."""
        named = {DENSE: self.dense}
        return named | ({MULTILINGUAL: self.multilingual} if self.multilingual else {})


@dataclass(frozen=True)
class Hit:
    source: str
    title: str
    page: int | None
    heading: str
    text: str
    score: float  # fused rank score (RRF): orders hits, means nothing across queries
    chunk: int
    doc_hash: str
    relevance: float = 0.0  # cosine of query and chunk (by the multilingual embedder for a
    # question searched with it): comparable across queries, unlike the fused score
    ocr: bool = False
    language: str = ""  # "" in an index made before chunks kept their language


# A payload key and the value it must have, or (a tuple) the values it may have one of.
Condition = tuple[str, str | tuple[str, ...]]


@dataclass(frozen=True)
class SearchFilter:
    """Restrict a search to a sub-folder of kb/ and/or to file types (extensions, no dot);
    `within`: the folders the caller may read (kb/'s top level always), None for all of kb/
    (users.py). Every backend applies it inside the engine, so nothing outside it is ranked,
    counted or returned."""

    folder: str | None = None
    types: tuple[str, ...] = ()
    within: tuple[str, ...] | None = None
    files: tuple[str, ...] = ()  # only these files (kb-relative paths)
    language: str | None = None  # only passages in this language
    not_language: str | None = None  # only passages in another language than this
    except_files: tuple[str, ...] = ()  # not these files

    @property
    def empty(self) -> bool:
        return self == SearchFilter()

    def access(self) -> SearchFilter | None:
        """Only the caller's restriction (for totals over what they may see)."""
        return SearchFilter(within=self.within) if self.within is not None else None

    def conditions(self) -> tuple[list[Condition], list[Condition]]:
        """What the filter asks of a passage's payload, (must, must not), for each backend
        to put in its engine's terms; `within` apart (kb/'s top level, or a granted folder)."""
        must: list[Condition] = []
        must_not: list[Condition] = []
        if self.language:
            must.append(("language", self.language))
        if self.not_language:
            must_not.append(("language", self.not_language))
        if self.except_files:
            must_not.append(("source", tuple(self.except_files)))
        if self.folder:
            must.append(("folders", normalise_folder(self.folder)))
        if self.types:
            must.append(("ext", tuple(self.types)))
        if self.files:
            must.append(("source", tuple(self.files)))
        return must, must_not


class VectorStore(Protocol):
    def upsert(self, chunks: Sequence[IndexedChunk]) -> None: ...
    def delete_document(
        self, source: str, keep_hash: str | None = None, keep_chunks: int | None = None
    ) -> None: ...
    def publish(self, source: str, doc_hash: str | None) -> None: ...
    def dense_vectors(
        self, text_hashes: Sequence[str], name: str = DENSE
    ) -> dict[str, list[float]]: ...
    def search(
        self,
        dense: list[float],
        sparse: SparseVector,
        limit: int,
        candidates: int,
        where: SearchFilter | None = None,
        exact: SparseVector | None = None,
        multilingual: list[float] | None = None,
        language: str | None = None,
        translated: tuple[str, ...] | None = None,
    ) -> list[Hit]:
        """The best `limit` chunks by rank fusion of the dense and BM25 searches (each
        `candidates` deep); with `exact` (BM25 of the question's identifiers alone), a third
        search that brings in the chunks holding them, however the other two rank them; with
        `multilingual` (the question's vector from the multilingual embedder), a search of
        the chunks' multilingual vectors too, where the index has them. With the question's
        `language` too, the question is searched as `rankings` says; `translated`: the files
        whose passages in other languages are not ranked a second time."""
        ...

    def passages(self, source: str, chunks: Sequence[int]) -> list[Hit]: ...
    def held(self, terms: Sequence[int], where: SearchFilter | None = None) -> set[int]:
        """Those of the sparse `terms` that at least one chunk holds."""
        ...

    def count(self, source: str | None = None, where: SearchFilter | None = None) -> int: ...
    def file_stems(self) -> Collection[str]: ...
    def files_named(self, stem: str) -> tuple[str, ...]: ...
    def translations(self, language: str) -> tuple[str, ...]: ...
    def chunks_per_source(self, where: SearchFilter | None = None) -> dict[str, int]:
        """Every file's chunks (superseded versions too), where the filter allows."""
        ...

    def flush(self) -> None: ...
    def optimize(self) -> None: ...
    def unindexed(self) -> int: ...
    def close(self) -> None: ...


@dataclass(frozen=True)
class Rankings:
    """What a search fuses: each ranking as (query, vector name, weight, filter), and the
    dense vector relevance is measured in, with the question's vector there."""

    searches: list[tuple[object, str, float, SearchFilter | None]]
    space: str
    question: list[float]


def rankings(
    dense: list[float],
    sparse: SparseVector,
    weights: Sequence[float],
    where: SearchFilter | None = None,
    exact: SparseVector | None = None,
    multilingual: list[float] | None = None,
    multilingual_weight: float | None = None,
    language: str | None = None,
    translated: tuple[str, ...] | None = None,
) -> Rankings:
    """The rankings of VectorStore.search, the same for every backend: dense and BM25 (at
    `weights`), the identifiers' BM25 when the question has any, and the multilingual
    vector's where the question and the index both have one (its cosine is then the
    relevance).

    With the question's `language` as well, dense and BM25 rank only the passages in it:
    MiniLM reads a Chinese question as unknown tokens, and the question's words are not an
    English passage's, so against passages in other languages their rankings are noise.
    The multilingual vector ranks them all, and, given `translated`, ranks again those in
    other languages, but for the files `translated` names (where the question's language
    has a version of the same file, `PublishedVersions.translations`: ja/cp.1 for a German
    question where kb/ has de/cp.1). A passage only meaning can find then weighs as much as
    one the rankings in the question's language agree on. Chinese questions about English
    pages beside a Chinese book: recall@5 0.27 → 0.91."""
    bridged = multilingual is not None and multilingual_weight is not None
    native = replace(where or SearchFilter(), language=language) if bridged and language else where
    dense_weight, sparse_weight = weights
    searches: list[tuple[object, str, float, SearchFilter | None]] = [
        (dense, DENSE, dense_weight, native),
        (sparse, SPARSE, sparse_weight, native),
    ]
    if exact is not None and exact.indices:
        searches.append((exact, SPARSE, 1.0, where))
    if not bridged:
        return Rankings(searches, DENSE, dense)
    searches.append((multilingual, MULTILINGUAL, multilingual_weight, where))
    if language and translated is not None:
        foreign = replace(where or SearchFilter(), not_language=language, except_files=translated)
        searches.append((multilingual, MULTILINGUAL, multilingual_weight, foreign))
    return Rankings(searches, MULTILINGUAL, multilingual)


def ranked(hits: list[Hit]) -> list[Hit]:
    """Hits in fused order; of hits with the same fused score, the one BM25 ranked higher
    first, then by file and position. Rank fusion gives many ties (the 3rd of one list and
    the 3rd of the other score the same), which the engine orders differently from one
    process to the next: the same question must bring the same passages in the same order.
    In a tie the hit less similar in meaning is always the one BM25 ranked higher, and its
    words are the better evidence where the embedder does not know the language (Chinese
    book MRR 0.79 in random tie order, 0.75 with the closer meaning first, 0.82 so)."""
    return sorted(hits, key=lambda h: (-round(h.score, 9), h.relevance, h.source, h.chunk))


class PublishedVersions:
    """While a document is replaced both versions are stored for a moment; `publish` names
    the version searches may return, so a query never sees the document missing, nor twice."""

    def __init__(self) -> None:
        self._published: dict[str, str] = {}
        self._stems: dict[str, tuple[str, ...]] = {}  # file stem → published files of it
        self._changes = 0  # documents published or withdrawn so far
        self._translations: dict[str, tuple[str, ...]] = {}  # by language, until a change

    def publish(self, source: str, doc_hash: str | None) -> None:
        """Searches return `source` only from its `doc_hash` version (None: any version).
        Copy-on-write, so that a search can hold on to the map it started with."""
        self._changes += 1
        self._translations = {}
        published = dict(self._published)
        was = source in published
        if doc_hash is None:
            published.pop(source, None)
        else:
            published[source] = doc_hash
        self._published = published
        if was != (source in published):  # tuples, replaced whole: readers take no lock
            stem = file_stem(source)
            others = tuple(f for f in self._stems.get(stem, ()) if f != source)
            if doc_hash is not None:
                self._stems[stem] = (*others, source)
            elif others:
                self._stems[stem] = others
            else:
                del self._stems[stem]

    def file_stems(self) -> Collection[str]:
        """The names of the searchable files before their first dot (cp of de/cp.1.txt), kept
        up to date by `publish`: a live view, for `in` (it costs nothing per query)."""
        return self._stems.keys()

    def files_named(self, stem: str) -> tuple[str, ...]:
        """The searchable files whose name before the first dot is `stem` (de/cp.1.txt and
        ja/cp.1.txt for cp)."""
        return self._stems.get(stem, ())

    def translations(self, language: str) -> tuple[str, ...]:
        """The searchable files in other languages that have the name of a file with
        passages in `language` (ja/cp.1 and fr/cp.1 where de/cp.1 is, for German): what
        store.rankings does not rank twice. Kept until a document is published or withdrawn
        (finding a language's files takes 30 ms at 100,000 chunks)."""
        changes, known = self._changes, self._translations
        if language in known:
            return known[language]
        native = set(self.chunks_per_source(SearchFilter(language=language)))
        found = tuple(
            f
            for stem in sorted({file_stem(f) for f in native})
            for f in self._stems.get(stem, ())
            if f not in native
        )
        if changes == self._changes:  # else the map it was read from is gone already
            known[language] = found
        return found

    def snapshot(self) -> dict[str, str]:
        """Take this before querying the engine, and give it to `visible` after."""
        return self._published

    def current(self, hits: list[Hit], before: dict[str, str]) -> list[Hit]:
        """One version of each document, ordered by position."""
        return sorted(self.visible(hits, len(hits), before), key=lambda h: h.chunk)

    def visible(self, hits: list[Hit], limit: int, before: dict[str, str]) -> list[Hit]:
        """One version per document: the one published when the query started, if the
        engine still had it; else the one published now. A writer stores a new version,
        publishes it, then deletes the old one, so at least one of the two was there."""
        after = self._published
        found: dict[str, set[str]] = {}
        for h in hits:
            found.setdefault(h.source, set()).add(h.doc_hash)
        chosen: dict[str, str | None] = {}
        for source, hashes in found.items():
            candidates = [c for c in (before.get(source), after.get(source)) if c]
            if candidates:  # unpublished sources (not yet in the manifest) show as they are
                chosen[source] = next((c for c in candidates if c in hashes), "")
        return [h for h in hits if chosen.get(h.source, h.doc_hash) == h.doc_hash][:limit]

    @staticmethod
    def overfetch(limit: int) -> int:
        """Results to ask the engine for, leaving room for superseded versions."""
        return 2 * limit + 4


class FusedIndex(PublishedVersions):
    """What both backends share: the search (`rankings`, fused by weighted RRF, one version
    of each document, ties in a stable order); each runs the fused query its own way."""

    def __init__(
        self, rrf_k: int, weights: Sequence[float], multilingual_weight: float | None
    ) -> None:
        super().__init__()
        self.rrf_k = rrf_k
        self.weights = list(weights)
        self.multilingual_weight = multilingual_weight

    def search(
        self,
        dense: list[float],
        sparse: SparseVector,
        limit: int,
        candidates: int,
        where: SearchFilter | None = None,
        exact: SparseVector | None = None,
        multilingual: list[float] | None = None,
        language: str | None = None,
        translated: tuple[str, ...] | None = None,
    ) -> list[Hit]:
        published = self.snapshot()  # before the query: see PublishedVersions.publish
        plan = rankings(
            dense,
            sparse,
            self.weights,
            where,
            exact,
            multilingual,
            self.multilingual_weight,
            language,
            translated,
        )
        found = list(self._fused(plan, candidates, self.overfetch(limit)))
        relevance = cosines(plan.question, [vector for _, _, vector in found])
        hits = [hit(p, score, r) for (p, score, _), r in zip(found, relevance, strict=True)]
        return self.visible(ranked(hits), limit, published)

    def _fused(
        self, plan: Rankings, candidates: int, limit: int
    ) -> Iterable[tuple[dict, float, list[float] | None]]:
        """The engine's RRF of `plan.searches` (each `candidates` deep, weighted), `limit`
        points: each as its payload, fused score and vector in `plan.space`."""
        raise NotImplementedError


def payload(c: IndexedChunk) -> dict:
    path = PurePosixPath(c.source)
    folders = ["/".join(path.parts[:i]) for i in range(1, len(path.parts))]
    return {
        "source": c.source,
        "title": c.title,
        "modified": c.modified,
        "folders": folders,
        "ext": path.suffix.lower().lstrip("."),
        "doc_hash": c.doc_hash,
        "text_hash": c.text_hash,
        "chunk": c.index,
        "page": c.page,
        "heading": c.heading,
        "text": c.text,
        "ocr": c.ocr,
        "language": c.language,
    }


def hit(p: dict, score: float, relevance: float = 0.0) -> Hit:
    return Hit(
        relevance=relevance,
        source=p.get("source", ""),
        title=p.get("title", ""),
        page=p.get("page"),
        heading=p.get("heading", ""),
        text=p.get("text", ""),
        score=float(score),
        chunk=int(p.get("chunk", 0)),
        doc_hash=p.get("doc_hash", ""),
        ocr=bool(p.get("ocr", False)),
        language=p.get("language", ""),
    )


def cosines(query: Sequence[float], vectors: Sequence[Sequence[float] | None]) -> list[float]:
    """Each vector's cosine with the query, to 4 places (0.0 for a missing or zero vector),
    in one matrix product: per hit, numpy's overhead cost more than the engine's query."""
    present = [i for i, v in enumerate(vectors) if v is not None and len(v) == len(query)]
    out = [0.0] * len(vectors)
    if not present:
        return out
    matrix = np.asarray([vectors[i] for i in present], dtype=np.float32)
    q = np.asarray(query, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1) * np.linalg.norm(q)
    dots = matrix @ q
    for i, dot, norm in zip(present, dots.tolist(), norms.tolist(), strict=True):
        out[i] = round(dot / norm, 4) if norm else 0.0
    return out


def point_id(c: IndexedChunk) -> str:
    return str(uuid.uuid5(_IDS, f"{c.source}\0{c.doc_hash}\0{c.index}"))


def normalise_folder(folder: str) -> str:
    return folder.strip().strip("/").replace("\\", "/")
