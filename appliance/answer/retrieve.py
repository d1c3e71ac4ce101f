"""Question → the top chunks (hybrid dense + BM25 search), as numbered citations."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace

from qdrant_edge import SparseVector

from appliance.answer.markers import plain
from appliance.config import IndexSettings
from appliance.index.embedder import Embedder
from appliance.index.identifiers import (
    about_their_file,
    exact_first,
    file_stem,
    file_words,
    holds,
    holds_version,
    identifiers,
    in_question_order,
    named_first,
    names,
    proper_names,
    spellings,
)
from appliance.index.languages import ENGLISH
from appliance.index.store import Hit, SearchFilter, VectorStore

SNIPPET_CHARS = 240
POOL = 2  # candidates for a question with names, per passage asked for (measured: 2 to 6)
MAX_NAMED_FILES = 16  # files of one name (cp.1 in each language); more: a common name
# Passages of the file the question names, when it comes first, beyond the k: man pages'
# answer phrases 38.9 → 47.6 %; 2 or 6 gain less, and the other sets (whose questions
# seldom name their file) are the same, but for one question less on cross-lingual.
MORE_OF_NAMED = 4


@dataclass(frozen=True)
class Citation:
    number: int
    source: str
    chunk: int  # position in the document: /api/passage shows it with its neighbours
    page: int | None
    heading: str
    score: float
    relevance: float
    snippet: str
    text: str
    ocr: bool = False  # the passage was read by OCR from a scan: it may hold misread characters

    def holds(self, identifier: str) -> bool:
        """Whether the passage, under its heading, holds `identifier` whole: the sections of
        "INC-2023-02684: sso-bridge outage" hold the ticket their title names (the index
        has them under it too)."""
        return holds(f"{self.heading}\n{self.text}", identifier)

    def names_version(self, version: str) -> bool:
        """Whether the passage, under its heading, names `version` or a release of it."""
        return holds_version(f"{self.heading}\n{self.text}", version)

    def public(self) -> dict:
        """What the API shows: everything but the full chunk text. The heading is shown with
        control markers defused: API clients may put it in prompts of their own."""
        out = asdict(self)
        del out["text"]
        out["heading"] = plain(self.heading)
        return out


@dataclass(frozen=True)
class Vectors:
    """A question as the index searches it."""

    dense: list[float]
    sparse: SparseVector
    multilingual: list[float] | None


@dataclass(frozen=True)
class Retrieval:
    citations: list[Citation]
    timings: dict[str, float]
    multilingual: bool = False  # searched with the multilingual vector too (its relevance)
    across_languages: bool = False  # its first passage is in another language than it
    more_of_named: int = 0  # the last citations: further passages of the file it names

    @property
    def searched(self) -> list[Citation]:
        """The search's own passages, without the further ones of a named file."""
        return self.citations[: len(self.citations) - self.more_of_named]


class Retriever:
    def __init__(self, index: VectorStore, embedder: Embedder, settings: IndexSettings):
        self.index = index
        self.embedder = embedder
        self.candidates = settings.candidates

    def retrieve(self, question: str, k: int, where: SearchFilter | None = None) -> Retrieval:
        started = time.perf_counter()
        dense = self.embedder.embed_query(question)
        multilingual = self.embedder.embed_multilingual_query(question)
        sparse = self.embedder.sparse_query(question)
        held = identifiers(question)
        named = names(question)
        lower = {n.lower() for n in named}
        words = [w for w in file_words(question, self.index.file_stems()) if w not in lower]
        exact = self.embedder.exact_query(question)
        embedded = time.perf_counter()
        depth = max(k, self.candidates)
        # With names in the question, the chunks that hold its identifiers come first (among
        # all the candidates: one found only by its identifier ranks low in the fusion), and
        # before them the best chunk of each file it names: by a name, or by a plain word
        # that the candidates use largely (or not at all) in the file of that name ("Avec
        # ps, comment …"). Files are looked for among POOL × k candidates: a named file that
        # is not among them is searched on its own, which costs less than a deeper pool
        # (the engine reads each candidate's text and vector).
        size = depth if held else POOL * k if named or words else k
        language = self.embedder.question_languages(question)[0]

        @functools.cache
        def read(text: str) -> str | None:
            return self.embedder.language_of(text)

        def in_language(h: Hit) -> bool:
            return (h.language or read(h.text)) == language

        vectors = Vectors(dense, sparse, multilingual)
        if multilingual is None:
            pool = self.index.search(dense, sparse, size, depth, where, exact)
        else:
            pool = self._in_all_languages(vectors, language, size, depth, where, exact)
        named += about_their_file(words, pool, lambda h: h.source, lambda h: h.text)
        missed, further = self._named_but_missed(
            named, pool, in_language, vectors, language, depth, where
        )
        pool += missed
        hits = exact_first(pool, held, lambda h: h.text)
        named = in_question_order(question, named)
        hits = named_first(hits, named, lambda h: h.source, in_language)[:k]
        more: list[Hit] = []
        if hits and file_stem(hits[0].source) in {n.lower() for n in named}:
            source = hits[0].source  # the search that found it missed may have brought them
            more = further.get(source) or self._more_of(source, hits, vectors, language, where)
        hits += more
        searched = time.perf_counter()
        citations = [
            Citation(
                n,
                h.source,
                h.chunk,
                h.page,
                h.heading,
                round(h.score, 4),
                h.relevance,
                snippet(h.text),
                h.text,
                h.ocr,
            )
            for n, h in enumerate(hits, 1)
        ]
        timings = {
            "embed_ms": round((embedded - started) * 1000, 1),
            "search_ms": round((searched - embedded) * 1000, 1),
        }
        across = multilingual is not None and bool(hits) and not in_language(hits[0])
        return Retrieval(citations, timings, multilingual is not None, across, len(more))

    def _in_all_languages(
        self,
        question: Vectors,
        language: str,
        size: int,
        depth: int,
        where: SearchFilter | None,
        exact: SparseVector | None,
    ) -> list[Hit]:
        """A question not in English, searched in its language and by meaning in all
        (store.rankings). The files in other languages that a file in its language has the
        name of (ja/cp.1 and fr/cp.1 where de/cp.1 is there, for a German question) are
        translations: they are not ranked a second time by meaning, so that they do not push
        the question's own version down."""
        return self.index.search(
            question.dense,
            question.sparse,
            size,
            depth,
            where,
            exact,
            question.multilingual,
            language=language,
            translated=self.index.translations(language),
        )

    def _named_but_missed(
        self,
        named: list[str],
        pool: list[Hit],
        in_language: Callable[[Hit], bool],
        question: Vectors,
        language: str,
        depth: int,
        where: SearchFilter | None,
    ) -> tuple[list[Hit], dict[str, list[Hit]]]:
        """The best passage of each file the question names that the candidates lack:
        "scp でディレクトリを…" asks about scp.1 however the search ranked it, and in another
        language when kb/ has it only there. When the candidates hold files of that name
        only in other languages than the question's (zh/dd.1 for a Japanese question), the
        other files of that name are searched too (ja/dd.1). A name shared by many files
        names none of them. With them, the further passages of each file found that way,
        by file: the same search brings them, for _more_of."""
        found, further = [], {}
        for stem in dict.fromkeys(n.lower() for n in named):
            files = self.index.files_named(stem)
            if not files or len(files) > MAX_NAMED_FILES:
                continue
            present = [h for h in pool if file_stem(h.source) == stem]
            if present:
                if any(in_language(h) for h in present):
                    continue
                files = [f for f in files if f not in {h.source for h in present}]
                if not files:
                    continue
            best, *rest = self._in_files(
                files, question, language, where, 1 + MORE_OF_NAMED, depth
            ) or [None]
            if best is not None:
                found.append(best)
                further[best.source] = [h for h in rest if h.source == best.source]
        return found, further

    def _more_of(
        self,
        source: str,
        hits: list[Hit],
        question: Vectors,
        language: str,
        where: SearchFilter | None,
    ) -> list[Hit]:
        """The best MORE_OF_NAMED passages of `source` that `hits` lack. A question that names
        its file asks about that file ("cp にはどのオプション…"), and the passage that answers
        it is often not among the first k, which other files crowd: a man page's options
        lie in passages of their own, rarely the one that ranks first."""
        have = {h.chunk for h in hits if h.source == source}
        wanted = MORE_OF_NAMED + len(have)
        # each ranking within one file: a few deep is enough
        found = self._in_files((source,), question, language, where, wanted, 2 * wanted)
        return [h for h in found if h.chunk not in have][:MORE_OF_NAMED]

    def _in_files(
        self,
        files: Sequence[str],
        question: Vectors,
        language: str,
        where: SearchFilter | None,
        limit: int,
        candidates: int,
    ) -> list[Hit]:
        """The question searched within `files` alone (files it names), in all languages."""
        return self.index.search(
            question.dense,
            question.sparse,
            limit,
            candidates,
            replace(where or SearchFilter(), files=tuple(files)),
            multilingual=question.multilingual,
            language=language,
        )

    def unknown_names(self, question: str, where: SearchFilter | None = None) -> list[str]:
        """The names in the question (answer/answerable.py) that no searchable passage holds:
        a question about pacman is not answered by documents that never mention it."""
        languages = self.embedder.question_languages(question)
        named = names(question)
        if languages[0] == ENGLISH:  # German capitalises every noun
            named += proper_names(question)
        wanted = {
            name: [
                self.embedder.name_terms(spelt, language)
                for spelt in spellings(name)
                for language in languages
            ]
            for name in named
        }
        held = self.index.held(sorted(set().union(*sum(wanted.values(), []))), where)
        return [  # held as the question's language cuts it, or as English does
            name
            for name, ways in wanted.items()
            if all(ways) and not any(terms <= held for terms in ways)
        ]


def snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + " …"
