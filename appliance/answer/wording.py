"""The appliance's own sentences in an answer (a refusal, not the documents' words), in the
language of the question: Japanese or Chinese for a question written mostly in their
characters (Japanese when it has kana: a Japanese question is often a third kanji), else
English."""

from __future__ import annotations

import re

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_KANA = re.compile(r"[\u3040-\u30ff]")
_LETTER = re.compile(r"[^\W\d_]")

PHRASES = {
    "not_found": {
        "en": "I could not find anything about that in the indexed documents.",
        "zh": "在已索引的文档中没有找到与此相关的内容。",
        "ja": "インデックス済みの文書には、これに関する内容が見つかりませんでした。",
    },
    "nothing_indexed": {
        "en": (
            "Nothing is searchable yet: no document has been indexed. Add files to the "
            "knowledge folder, and ask again once they are indexed."
        ),
        "zh": (
            "还没有可以搜索的内容：尚未索引任何文档。请把文件放入知识库文件夹，索引完成后再提问。"
        ),
        "ja": (
            "まだ検索できる内容がありません。文書が一つもインデックスされていません。"
            "ナレッジフォルダにファイルを入れ、インデックスが終わってから、もう一度質問してください。"
        ),
    },
}


def language_of(text: str) -> str:
    """ "ja" or "zh" when at least a third of the letters are kanji or kana ("ja" with any
    kana), else "en"."""
    letters = len(_LETTER.findall(text))
    kana = len(_KANA.findall(text))
    if not letters or (len(_HAN.findall(text)) + kana) * 3 < letters:
        return "en"
    return "ja" if kana else "zh"


def phrase(key: str, question: str) -> str:
    return PHRASES[key][language_of(question)]
