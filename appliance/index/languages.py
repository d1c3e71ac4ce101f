"""Which language a text is written in, so that BM25 cuts it as that language: its stopwords
dropped, its words stemmed by its own rules. With English rules for every text, "kopiere" and
"kopiert" (German), "trouver" and "trouvés" (French) were different terms, the German "und",
"die" and the Japanese "を", "だけ" were terms of their own, and a question found passages by
its grammar words rather than by what it asks about.

Chinese and Japanese text is told by its script. Any other text is in the language whose
stopword list (Qdrant Edge's own) holds the most of its words, counted once each; English
unless another language clearly leads, since a short question ("warranty end for serial
SN-JT2-233100?") holds few such words in any language. Chinese and Japanese text drops its own
stopwords and English ones (Chinese: English ones alone, see SEARCH_STOPWORDS), and stems its
Latin-letter words as English: those are mostly English terms ("Debian 上的 packages").

Qdrant Edge's tokenizer reads a text's script from the whole text: a Japanese sentence with a
few options in it ("-i, --ignore-case PATTERN と入力ファイルの双方で、…") reads as Latin, and
its Japanese is then cut into script runs rather than words, none of which a Japanese
question holds. So Japanese text is cut in two: its CJK runs together, the rest apart.
(Chinese is cut into words either way.)

A question and the passages it is compared with are cut the same way: search terms in the
index are cut by each chunk's language (its document's when the chunk alone does not say),
and a question by its own.
"""

from __future__ import annotations

import re

from qdrant_edge import (
    Bm25,
    Bm25Config,
    DisabledStemmer,
    Language,
    SnowballLanguage,
    SnowballParams,
    StopwordsSet,
    TokenizerType,
)

ENGLISH = "english"
# Languages with both a stopword list and a Snowball stemmer in Qdrant Edge.
STEMMED = (
    "arabic",
    "danish",
    "dutch",
    "english",
    "finnish",
    "french",
    "german",
    "greek",
    "hungarian",
    "italian",
    "norwegian",
    "portuguese",
    "romanian",
    "russian",
    "spanish",
    "swedish",
    "turkish",
)
WITH_ENGLISH_TERMS = ("chinese", "japanese")
LANGUAGES = STEMMED + WITH_ENGLISH_TERMS
# The stopwords dropped from a text's search terms, where not its language's own list alone.
# Chinese and Japanese text keeps English terms, so it drops English stopwords too. Qdrant
# Edge's Chinese list also holds words that carry meaning in a question (使用, 需要, 所有,
# 自己): dropping them took 3 of 122 answers out of the top 5 on the Chinese book, so
# Chinese drops English stopwords alone, as before (the list still tells Chinese apart).
SEARCH_STOPWORDS = {"chinese": (ENGLISH,), "japanese": ("japanese", ENGLISH)}
# Another language than English needs this many of its stopwords in the text, and this many
# more than English has there.
MIN_STOPWORDS = 2
MIN_LEAD = 2
SAMPLE_CHARS = 4000  # a long text's language is read from its beginning
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_KANA = re.compile(r"[\u3040-\u30ff]")
_LATIN_WORD = re.compile(r"[A-Za-z\u00c0-\u024f]+")
# Han, kana, CJK punctuation and full-width forms
_CJK_RUN = re.compile(r"[\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]+")


def _cjk(text: str) -> str | None:
    """'japanese' or 'chinese' for text written mostly in their script (more Han and kana
    characters than Latin-letter words; Japanese when a tenth of them are kana), else None.
    Their Latin-letter words (options, commands, English terms) would otherwise count as
    the stopwords of a European language: "if=FILE of=FILE" in Japanese dd(1)."""
    han = len(_HAN.findall(text))
    kana = len(_KANA.findall(text))
    if han + kana == 0 or han + kana < len(_LATIN_WORD.findall(text)):
        return None
    return "japanese" if kana * 10 >= han + kana else "chinese"


def _clear(counts: dict[str, int]) -> str | None:
    """The language whose stopwords a text holds most of (`counts`: stopwords_in), when that
    is clear: English with MIN_STOPWORDS of its own, another language with as many and
    MIN_LEAD more than English."""
    best = max(LANGUAGES, key=lambda language: (counts[language], language == ENGLISH))
    if counts[best] < MIN_STOPWORDS:
        return None
    if best == ENGLISH or counts[best] >= counts[ENGLISH] + MIN_LEAD:
        return best
    return None


def _parts(text: str, language: str) -> list[str]:
    """The text as BM25 cuts it: Japanese text as its CJK runs and the rest."""
    if language != "japanese":
        return [text]
    return [
        part
        for part in ("\n".join(_CJK_RUN.findall(text)), _CJK_RUN.sub(" ", text))
        if part.strip()
    ]


def _enum(kind, language: str):
    return getattr(kind, language.capitalize())


def _config(language: str, stem: bool = True) -> Bm25Config:
    """How BM25 cuts text in `language`; unstemmed, with that language's stopwords alone, to
    count them."""
    stopwords = SEARCH_STOPWORDS.get(language, (language,)) if stem else (language,)
    stemmer = DisabledStemmer()
    if stem:
        rules = ENGLISH if language in WITH_ENGLISH_TERMS else language
        stemmer = SnowballParams(_enum(SnowballLanguage, rules))
    return Bm25Config(
        tokenizer=TokenizerType.Multilingual,
        stopwords=StopwordsSet(languages={_enum(Language, s) for s in stopwords}),
        stemmer=stemmer,
    )


class Analyzers:
    """One BM25 model per language (Qdrant Edge's multilingual tokenizer), and the reading of
    a text's language. Safe to share between threads."""

    def __init__(self):
        self._bm25 = {language: Bm25(_config(language)) for language in LANGUAGES}
        self._stopwords = {language: Bm25(_config(language, stem=False)) for language in LANGUAGES}
        self._words = Bm25(
            Bm25Config(
                tokenizer=TokenizerType.Multilingual,
                stopwords=StopwordsSet(custom=set()),
                stemmer=DisabledStemmer(),
            )
        )

    def document(self, text: str, language: str) -> dict[int, float]:
        """BM25 weights of a passage's terms (term id → weight), cut as `language`."""
        weights: dict[int, float] = {}
        for part in _parts(text, language):
            vector = self._bm25[language].embed_document(part)
            for term, weight in zip(vector.indices, vector.values, strict=True):
                weights[term] = weights.get(term, 0.0) + weight
        return weights

    def query(self, text: str, language: str) -> set[int]:
        """A question's (or any text's) terms, cut as `language`."""
        model = self._bm25[language]
        return {term for part in _parts(text, language) for term in model.embed_query(part).indices}

    def stopwords_in(self, text: str) -> dict[str, int]:
        """How many different stopwords of each language the text holds."""
        text = text[:SAMPLE_CHARS]
        words = len(self._words.embed_query(text).indices)
        return {
            language: words - len(model.embed_query(text).indices)
            for language, model in self._stopwords.items()
        }

    def language_of(self, text: str, otherwise: str | None = ENGLISH) -> str | None:
        """Chinese or Japanese by its script; else the language whose stopwords the text
        holds most of, when that is clear; else `otherwise` (a chunk too short to tell takes
        its document's language)."""
        return _cjk(text[:SAMPLE_CHARS]) or _clear(self.stopwords_in(text)) or otherwise

    def question_languages(self, question: str) -> tuple[str, ...]:
        """The languages a question's search terms are cut in: its own, when clear, and
        English. A question that does not say clearly ("Comment effacer ma table crontab ?":
        one French stopword) is cut as English and as the language that leads, so that it
        still finds passages in either."""
        language = _cjk(question[:SAMPLE_CHARS])
        if language is None:
            counts = self.stopwords_in(question)
            others = [x for x in LANGUAGES if x != ENGLISH and counts[x]]
            language = _clear(counts) or max(others, key=lambda x: counts[x], default=ENGLISH)
        return tuple(dict.fromkeys((language, ENGLISH)))
