"""BM25 cuts each text as its own language: stopwords dropped and words stemmed by that
language's rules (Qdrant Edge's own lists and Snowball stemmers, no mock)."""

import pytest

from appliance.index.languages import ENGLISH, Analyzers


@pytest.fixture(scope="module")
def analyzers():
    return Analyzers()


@pytest.mark.parametrize(
    "text, language",
    [
        ("How do I copy only newer files?", "english"),
        ("Wie kopiere ich nur neuere Dateien?", "german"),
        ("Quelle option de ps affiche tous les processus ?", "french"),
        (
            "ファイルをコピーするときに、新しいファイルだけをコピーするにはどうすればいいですか",
            "japanese",
        ),
        ("Debian 上有一些可用的内存泄漏检测工具，怎么查看系统的日志？", "chinese"),
        ("¿Cómo puedo copiar solo los archivos que son más nuevos que los del destino?", "spanish"),
    ],
)
def test_the_language_of_a_question(analyzers, text, language):
    assert analyzers.language_of(text) == language


@pytest.mark.parametrize(
    "text",
    [
        "rsync options",  # no stopword of any language
        "warranty end for serial SN-JT2-233100?",  # Danish holds 'for' and 'end' too
        "INC-2023-02684",
    ],
)
def test_a_text_that_does_not_say_is_english_or_what_it_is_told(analyzers, text):
    assert analyzers.language_of(text) == ENGLISH
    assert analyzers.language_of(text, otherwise="german") in (ENGLISH, "german")
    if not analyzers.stopwords_in(text)[ENGLISH]:
        assert analyzers.language_of(text, otherwise="german") == "german"


def test_a_language_cut_by_its_own_rules_matches_its_inflections(analyzers):
    """Cut as English, the German 'kopiere'/'kopiert' and the French 'trouver'/'trouvés' are
    different terms, and German grammar words are terms; cut as their language, they match."""

    def shared(language, a, b):
        bm25 = analyzers.bm25(language)
        return set(bm25.embed_query(a).indices) & set(bm25.embed_query(b).indices)

    german = ("Wie kopiere ich die Dateien?", "kopiert die Datei")
    french = ("les fichiers trouvés", "trouver un fichier")
    # English shares only 'die'; German the verb, and not 'die'.
    assert shared(ENGLISH, *german) == set(analyzers.bm25(ENGLISH).embed_query("die").indices)
    assert len(shared("german", *german)) == 1 and not shared("german", *german) & shared(
        ENGLISH, *german
    )
    assert len(shared("french", *french)) == 2 and len(shared(ENGLISH, *french)) == 1
    # 'die' is an English word but a German stopword: not a term of German text.
    die = analyzers.bm25(ENGLISH).embed_query("die")
    assert die.indices and not analyzers.bm25("german").embed_query("die").indices


def test_chinese_and_japanese_keep_english_terms(analyzers):
    """Latin-letter words in Chinese or Japanese text are mostly English terms: stemmed as
    English, so that 'packages' in a Chinese passage matches 'package' in a question."""
    for language in ("chinese", "japanese"):
        bm25 = analyzers.bm25(language)
        passage = set(bm25.embed_query("安装 packages 的方法").indices)
        question = set(bm25.embed_query("怎么安装 package").indices)
        assert passage & question
    assert not analyzers.bm25("japanese").embed_query("の the").indices  # both stopwords
    # Chinese keeps the words of Qdrant Edge's Chinese list (使用: use) as terms.
    assert analyzers.bm25("chinese").embed_query("使用 the").indices
    assert not analyzers.stopwords_in("使用")[ENGLISH] and analyzers.stopwords_in("使用")["chinese"]
