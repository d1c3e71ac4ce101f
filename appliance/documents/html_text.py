"""HTML to Sections with the standard library parser.

h1-h6 open sections; block elements end lines so words from neighbouring
blocks never run together; script, style and head content is ignored, and so is page
furniture (navigation, sidebars, footers, permalink marks): in generated documentation it is
a third of the text, and it matches keyword searches for pages it only links to.
"""

from __future__ import annotations

import codecs
import re
from html.parser import HTMLParser

from appliance.documents.model import Section
from appliance.documents.outline import SectionCollector, single_line

_IGNORED = frozenset({"script", "style", "noscript", "template", "head", "svg", "iframe", "object"})
_HEADINGS = {f"h{level}": level for level in range(1, 7)}
_BLOCKS = frozenset(
    {
        "address", "article", "aside", "blockquote", "body", "br", "caption", "dd", "details",
        "dialog", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form",
        "header", "hr", "html", "legend", "li", "main", "nav", "ol", "p", "pre", "section",
        "summary", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
    }
)  # fmt: skip
_CELLS = frozenset({"td", "th"})
_FURNITURE_TAGS = frozenset({"nav", "footer", "aside"})
_FURNITURE_ROLES = frozenset({"navigation", "banner", "contentinfo", "complementary", "search"})
_FURNITURE_CLASSES = frozenset(
    {
        "sphinxsidebar", "related", "footer", "mobile-nav", "breadcrumb", "breadcrumbs",
        "sidebar", "navbar", "headerlink", "skip-link", "toc-sidebar",
    }
)  # fmt: skip
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.IGNORECASE)
_TITLE_LEVEL = 0  # above h1, so the title heads every path when there is no h1


def html_sections(data: bytes) -> list[Section]:
    parser = _OutlineParser()
    parser.feed(decode_html(data))
    parser.close()
    events = parser.events
    if parser.title and not parser.saw_h1:
        events.insert(0, ("heading", _TITLE_LEVEL, parser.title))
    collector = SectionCollector()
    for kind, level, text in events:
        if kind == "heading":
            collector.heading(level, text)
        else:
            collector.text(text)
    return collector.finish()


def decode_html(data: bytes) -> str:
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="replace")
    # Windows tools save "Unicode" pages as UTF-16 with a BOM; a meta charset cannot be
    # found in those bytes, and the BOM outranks it anyway.
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="replace")
    return data.decode(_declared_charset(data), errors="replace")


def _declared_charset(data: bytes) -> str:
    match = _CHARSET.search(data[:4096])
    if match:
        name = match.group(1).decode("ascii", errors="ignore")
        try:
            return codecs.lookup(name).name
        except LookupError:
            pass  # an unknown label is a page bug; utf-8 is the best remaining guess
    return "utf-8"


class _OutlineParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.events: list[tuple[str, int, str]] = []
        self.title = ""
        self.saw_h1 = False
        self._ignored_stack: list[str] = []
        self._in_title = False
        self._heading: tuple[int, list[str]] | None = None
        self._pre_depth = 0
        self._cells_in_row = 0
        self._furniture: tuple[str, int] | None = None  # (tag, nesting depth) being skipped

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._furniture is not None:
            if tag == self._furniture[0]:
                self._furniture = (tag, self._furniture[1] + 1)
            return
        if _is_furniture(tag, attrs):
            self._furniture = (tag, 1)
            return
        if tag == "body":
            # Pages often omit </head>; the body still has to be read.
            self._ignored_stack = [t for t in self._ignored_stack if t != "head"]
        if tag == "title" and not self.title and set(self._ignored_stack) <= {"head"}:
            # Only the document title counts; <svg> has <title> elements too.
            self._in_title = True
        if tag in _IGNORED:
            self._ignored_stack.append(tag)
            return
        if self._ignored_stack:
            return
        if tag in _HEADINGS:
            self._heading = (_HEADINGS[tag], [])
            self.saw_h1 = self.saw_h1 or tag == "h1"
        elif tag == "tr":
            self._cells_in_row = 0
        elif tag in _CELLS:
            if self._cells_in_row:
                self._emit(" | ")
            self._cells_in_row += 1
            return
        if tag == "pre":
            self._pre_depth += 1
        if tag in _BLOCKS:
            self._emit("\n")

    def handle_endtag(self, tag: str) -> None:
        if self._furniture is not None:
            if tag == self._furniture[0]:
                depth = self._furniture[1] - 1
                self._furniture = (tag, depth) if depth else None
            return
        if tag == "title":
            self._in_title = False
        if tag in self._ignored_stack:
            # Close the innermost matching element and anything left open inside it.
            while self._ignored_stack and self._ignored_stack.pop() != tag:
                pass
            return
        if self._ignored_stack:
            return
        if tag in _HEADINGS and self._heading is not None:
            level, parts = self._heading
            self._heading = None
            self.events.append(("heading", level, "".join(parts).replace("¶", "")))
            return
        if tag == "pre" and self._pre_depth:
            self._pre_depth -= 1
        if tag in _BLOCKS and tag not in _CELLS:
            self._emit("\n")

    def handle_data(self, data: str) -> None:
        if self._furniture is not None:
            return
        if self._in_title:
            self.title = single_line(self.title + " " + data)
            return
        if self._ignored_stack:
            return
        if not self._pre_depth:
            data = re.sub(r"\s+", " ", data)
        self._emit(data)

    def _emit(self, text: str) -> None:
        if self._heading is not None:
            # Line breaks inside a heading (e.g. <br>) are just word gaps.
            self._heading[1].append(" " if text == "\n" else text)
        else:
            self.events.append(("text", 0, text))


def _is_furniture(tag: str, attrs: list[tuple[str, str | None]]) -> bool:
    if tag in _FURNITURE_TAGS:
        return True
    values = dict(attrs)
    if (values.get("role") or "") in _FURNITURE_ROLES:
        return True
    return bool(_FURNITURE_CLASSES.intersection((values.get("class") or "").split()))
