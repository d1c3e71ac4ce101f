"""The appliance's own sentences in an answer (a refusal, not the documents' words), in the
language of the question: Chinese for a question written mostly in Chinese characters, else
English."""

from __future__ import annotations

import re

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LETTER = re.compile(r"[^\W\d_]")

PHRASES = {
    "not_found": {
        "en": "I could not find anything about that in the indexed documents.",
        "zh": "在已索引的文档中没有找到与此相关的内容。",
    },
    "nothing_indexed": {
        "en": (
            "Nothing is searchable yet: no document has been indexed. Add files to the "
            "knowledge folder, and ask again once they are indexed."
        ),
        "zh": (
            "还没有可以搜索的内容：尚未索引任何文档。请把文件放入知识库文件夹，索引完成后再提问。"
        ),
    },
}


def language_of(text: str) -> str:
    """ "zh" when at least a third of the letters are Chinese characters, else "en"."""
    letters = len(_LETTER.findall(text))
    return "zh" if letters and len(_HAN.findall(text)) * 3 >= letters else "en"


def phrase(key: str, question: str) -> str:
    return PHRASES[key][language_of(question)]
