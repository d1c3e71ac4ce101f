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
        return analyzers.query(a, language) & analyzers.query(b, language)

    german = ("Wie kopiere ich die Dateien?", "kopiert die Datei")
    french = ("les fichiers trouvés", "trouver un fichier")
    # English shares only 'die'; German the verb, and not 'die'.
    assert shared(ENGLISH, *german) == analyzers.query("die", ENGLISH)
    assert len(shared("german", *german)) == 1 and not shared("german", *german) & shared(
        ENGLISH, *german
    )
    assert len(shared("french", *french)) == 2 and len(shared(ENGLISH, *french)) == 1
    # 'die' is an English word but a German stopword: not a term of German text.
    assert analyzers.query("die", ENGLISH) and not analyzers.query("die", "german")


def test_chinese_and_japanese_keep_english_terms(analyzers):
    """Latin-letter words in Chinese or Japanese text are mostly English terms: stemmed as
    English, so that 'packages' in a Chinese passage matches 'package' in a question."""
    for language in ("chinese", "japanese"):
        passage = analyzers.query("安装 packages 的方法", language)
        assert passage & analyzers.query("怎么安装 package", language)
    assert not analyzers.query("の the", "japanese")  # both stopwords
    # Chinese keeps the words of Qdrant Edge's Chinese list (使用: use) as terms.
    assert analyzers.query("使用 the", "chinese")


def test_japanese_among_more_latin_letters_is_still_cut_as_japanese(analyzers):
    """Qdrant Edge's tokenizer reads the script of a whole text: a man page's option line
    has more Latin letters than any one of kanji, hiragana and katakana, and its Japanese
    was cut into script runs that no question holds. Cut apart, it matches the question."""
    question = "grep で英字の大文字と小文字を区別せずに検索したいです。"
    japanese = "アルファベットの大文字と小文字を区別しないようにします。"
    option = "-i, --ignore-case PATTERN と入力ファイルの双方で、" + japanese
    asked = analyzers.query(question, "japanese")
    assert len(asked & analyzers.query(japanese, "japanese")) >= 3
    assert asked & analyzers.query(option, "japanese") == asked & analyzers.query(
        japanese, "japanese"
    )
    weights = analyzers.document(option, "japanese")
    assert asked & set(weights) and all(w > 0 for w in weights.values())
    assert analyzers.query("ignore", "japanese") <= set(weights)  # its English too
    assert not analyzers.stopwords_in("使用")[ENGLISH] and analyzers.stopwords_in("使用")["chinese"]
