"""The page's words: one catalogue per language with the same keys and placeholders, every key
the page uses in each, and the language chosen from the reader's choice or the browser's."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from appliance.web import language

STATIC = Path(language.__file__).parent / "static"
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def catalogues() -> dict[str, dict[str, str]]:
    return {p.stem: json.loads(p.read_text()) for p in sorted((STATIC / "i18n").glob("*.json"))}


def test_every_catalogue_has_the_same_keys_and_placeholders() -> None:
    found = catalogues()
    assert set(found) == {"en", "zh-CN"}
    english = found["en"]
    for tag, words in found.items():
        assert set(words) == set(english), (tag, set(words) ^ set(english))
        for key, text in words.items():
            assert text.strip(), (tag, key)
            assert set(PLACEHOLDER.findall(text)) == set(PLACEHOLDER.findall(english[key])), (
                tag,
                key,
            )


def test_every_word_the_page_uses_is_in_the_catalogue() -> None:
    page = (STATIC / "index.html").read_text()
    script = (STATIC / "app.js").read_text()
    used = set(re.findall(r"\{\{([a-z_]+\.[a-z0-9_]+)\}\}", page))
    used |= set(re.findall(r"\bt\(\"([a-z_]+\.[a-z0-9_]+)\"", script))
    signin = (STATIC.parent / "signin.py").read_text()
    used |= set(re.findall(r"words\[[\"']([a-z_]+\.[a-z0-9_]+)[\"']\]", signin))
    used |= set(re.findall(r"_words\(\)\[\"([a-z_]+\.[a-z0-9_]+)\"\]", signin))
    for key in re.findall(r"\btn\(\"([a-z_]+\.[a-z0-9_]+)\"", script):
        used |= {f"{key}_one", f"{key}_other"}
    assert used - set(catalogues()["en"]) == set()
    # Nothing left in English between the page's tags: every text is a {{key}}.
    texts = [t.strip() for t in re.findall(r">([^<>]*)<", page) if t.strip()]
    assert [t for t in texts if not re.fullmatch(r"(\{\{[a-z_.0-9]+\}\}\s*)+|[×?]", t)] == []


@pytest.mark.parametrize(
    ("chosen", "accept", "expected"),
    [
        (None, "zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"),
        (None, "zh-TW", "zh-CN"),  # the Chinese we have, rather than none
        (None, "de-DE,de;q=0.9,en;q=0.5", "en"),
        (None, "en-GB", "en"),
        (None, "fr;q=0.9, zh;q=0.95", "zh-CN"),
        (None, "", "en"),
        ("en", "zh-CN", "en"),  # the reader's own choice wins
        ("zh-CN", "en-US", "zh-CN"),
        ("xx", "zh-CN", "zh-CN"),  # an unknown choice is ignored
    ],
)
def test_the_language_is_the_readers_choice_or_the_browsers(chosen, accept, expected) -> None:
    assert language.choose(chosen, accept) == expected


def test_the_page_is_filled_in_and_carries_its_catalogue() -> None:
    page = language.page("zh-CN")
    assert '<html lang="zh-CN">' in page and "{{" not in page
    assert "<title>知识库助手</title>" in page
    assert '<option value="zh-CN" selected>中文</option>' in page
    embedded = re.search(r'<script id="i18n" type="application/json">(.*?)</script>', page, re.S)
    assert json.loads(embedded.group(1)) == catalogues()["zh-CN"]


def test_every_file_status_code_and_error_code_is_worded_for_the_reader() -> None:
    pipeline = (STATIC.parents[1] / "sync/pipeline.py").read_text()
    codes = set(
        re.findall(r'Skip\((?:[^()]|\([^()]*\))*?,\s*"([a-z_]+)"\s*,?\s*\)', pipeline, re.S)
    )
    ocr_codes = re.search(r'OCR_MISSING, OCR_PAGES_FAILED = "(\w+)", "(\w+)"', pipeline)
    codes |= set(ocr_codes.groups())
    assert len(codes) >= 15, codes
    english = catalogues()["en"]
    assert {c for c in codes if f"reason.{c}" not in english} == set()
    errors = {"question_empty", "question_too_long", "not_ready", "busy", "uploads_off"}
    library = (STATIC.parents[1] / "web/library.py").read_text()
    uploads = {"unsupported_type", "name_unusable", "name_ignored", "no_room", "upload_not_granted",
               "kb_unavailable"}  # fmt: skip
    assert {c for c in uploads if f'"{c}"' not in library} == set()  # still the codes raised
    errors |= uploads | {"upload_too_large"}
    assert {c for c in errors if f"error.{c}" not in english} == set()
