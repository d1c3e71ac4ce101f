"""The page in the reader's language: English or Simplified Chinese, from the browser's
Accept-Language, or the reader's own choice (remembered in a cookie).

Every word the page says is in one catalogue per language, static/i18n/<language>.json (a
third language is one more file, with the same keys). index.html names the words by key
({{ask.button}}); the server fills them in before sending it, so the page never shows one
language and then another, and gives app.js the whole catalogue, for the words it writes.
"""

from __future__ import annotations

import html
import json
import re
from functools import cache
from pathlib import Path

from flask import request

STATIC = Path(__file__).parent / "static"
DEFAULT = "en"
COOKIE = "lang"
_KEY = re.compile(r"\{\{([a-z_]+(?:\.[a-z0-9_]+)?)\}\}")


@cache
def languages() -> dict[str, str]:
    """Language tag → its own name ("zh-CN" → "中文"), one per catalogue."""
    found = {}
    for path in sorted((STATIC / "i18n").glob("*.json")):
        found[path.stem] = catalogue(path.stem)["language.name"]
    return found


@cache
def catalogue(language: str) -> dict[str, str]:
    return json.loads((STATIC / "i18n" / f"{language}.json").read_text(encoding="utf-8"))


def choose(chosen: str | None, accept_language: str) -> str:
    """The reader's choice if it names a catalogue, else the first of the browser's languages
    that one matches (zh, zh-Hans, zh-CN → zh-CN), else English."""
    available = languages()
    if chosen in available:
        return chosen
    for tag, _ in _preferences(accept_language):
        for language in available:
            if tag == language.lower() or tag.split("-")[0] == language.lower().split("-")[0]:
                return language
    return DEFAULT


def of_request(chosen: str | None = None) -> str:
    """The language of this request: `chosen` (?lang=), else the cookie of an earlier
    choice, else the browser's Accept-Language."""
    remembered = request.cookies.get(COOKIE)
    return choose(chosen or remembered, request.headers.get("Accept-Language", ""))


def _preferences(header: str) -> list[tuple[str, float]]:
    tags = []
    for part in header.split(","):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                weight = 0.0
        if tag and weight > 0:
            tags.append((tag.lower(), weight))
    return sorted(tags, key=lambda t: -t[1])


@cache
def page(language: str) -> str:
    """index.html with every {{key}} in `language`, the language picker and the catalogue."""
    words = catalogue(language)
    template = (STATIC / "index.html").read_text(encoding="utf-8")
    options = "".join(
        f'<option value="{tag}"{" selected" if tag == language else ""}>{html.escape(name)}'
        "</option>"
        for tag, name in languages().items()
    )
    # In a <script> block only "</" could end it early.
    embedded = json.dumps(words, ensure_ascii=False).replace("</", "<\\/")
    fixed = {"lang": language, "languages": options, "catalogue": embedded}

    def fill(match: re.Match) -> str:
        key = match.group(1)
        if key in fixed:
            return fixed[key]
        return html.escape(words[key])

    return _KEY.sub(fill, template)
