"""Check questions.jsonl against the fetched corpus (the Debian Reference in Chinese).

    python benchmarks/debian-reference-zh/check_questions.py [--unanswerable] [QUESTIONS] [KB]

The file holds two kinds of lines, one JSON object each:

- answerable: id, question, gold_file, gold_page, answer_phrases, kind (and optionally
  "answerable": true). gold_file must exist in KB, gold_page must be null (HTML has no pages),
  answer_phrases are 1-3 strings, each occurring, ignoring case and runs of whitespace, in the
  visible text of the gold page (tags stripped, entities decoded, script/style dropped) and
  none of them inside the question itself; kind is paraphrase, keyword or command.
- unanswerable: id, question, "answerable": false and kind (other-distro, adjacent-software,
  other-version, organisation, unstated-detail); no gold_file and no answer_phrases.

Ids must be unique. Chinese text is compared with the white space between two CJK characters
removed (the HTML breaks lines inside sentences), in the page and in the phrase alike.

--unanswerable also prints, for every unanswerable question, its most specific terms (the
Latin-script words, commands and paths in it, rarest first) and the kb pages that contain
each, so that a reviewer can confirm that no page answers it. It is a report, not a test: a
term that occurs in a page (e.g. a package named in a table) does not mean that the page
answers the question.

Prints a summary and exits 1 on any problem. Standard library only.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

HERE = Path(__file__).resolve().parent

ANSWERABLE_KINDS = {"paraphrase", "keyword", "command"}
UNANSWERABLE_KINDS = {
    "other-distro",
    "adjacent-software",
    "other-version",
    "organisation",
    "unstated-detail",
}

# Inline elements join their text without a gap (e.g. <span>platform.</span><span>system</span>).
_INLINE = frozenset(
    "a abbr b cite code em i kbd mark q s samp small span strong sub sup tt u var".split()
)

_CJK = "\u2e80-\u2fff\u3000-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"
_CJK_GAP = re.compile(rf"(?<=[{_CJK}])\s+(?=[{_CJK}])")


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        if tag not in _INLINE:
            self.parts.append(" ")

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._skip:
            self._skip -= 1
        if tag not in _INLINE:
            self.parts.append(" ")

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def page_text(path: Path) -> str:
    parser = _Text()
    parser.feed(path.read_text(encoding="utf-8", errors="replace"))
    parser.close()
    return norm("".join(parser.parts))


def norm(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip().lower()
    return _CJK_GAP.sub("", text)


# --- the --unanswerable report -------------------------------------------------------------

_TERM = re.compile(r"[A-Za-z0-9_./:@=+~$-]*[A-Za-z][A-Za-z0-9_./:@=+~$-]*")
_STOP = frozenset(
    """a an and are as at be by can do does for from how i in is it my of on or our the to
    what when where which who why with vs etc e.g""".split()
)


def terms(question: str) -> list[str]:
    found = []
    for match in _TERM.finditer(question):
        term = match.group().strip(".:-/").lower()
        if len(term) >= 2 and term not in _STOP and term not in found:
            found.append(term)
    return found


def term_report(question: str, texts: dict[str, str], limit: int = 5) -> list[str]:
    hits = {t: sorted(name for name, text in texts.items() if t in text) for t in terms(question)}
    ranked = sorted(hits, key=lambda t: (len(hits[t]), -len(t)))[:limit]
    if not ranked:
        return ["    (no Latin-script term: read the question against the pages)"]
    return [f"    {t!r}: {', '.join(hits[t]) if hits[t] else '(no page)'}" for t in ranked]


def main(argv: list[str]) -> int:
    args = argv[1:]
    report = "--unanswerable" in args
    args = [a for a in args if a != "--unanswerable"]
    questions = Path(args[0]) if args else HERE / "questions.jsonl"
    kb = Path(args[1]) if len(args) > 1 else HERE / "kb"
    problems: list[str] = []
    ids: Counter[str] = Counter()
    golds: Counter[str] = Counter()
    kinds: Counter[tuple[bool, str]] = Counter()
    texts: dict[str, str] = {}
    unanswerable: list[dict] = []
    n = 0
    for number, line in enumerate(questions.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        n += 1
        where = f"{questions.name}:{number}"
        try:
            q = json.loads(line)
        except json.JSONDecodeError as err:
            problems.append(f"{where}: not JSON ({err})")
            continue
        if not isinstance(q, dict):
            problems.append(f"{where}: not a JSON object")
            continue
        if not (isinstance(q.get("id"), str) and q["id"]):
            problems.append(f"{where}: missing id")
            continue
        ids[q["id"]] += 1
        where = f"{where} ({q['id']})"
        if not (isinstance(q.get("question"), str) and q["question"].strip()):
            problems.append(f"{where}: missing question")
            continue
        answerable = q.get("answerable", True)
        if answerable not in (True, False):
            problems.append(f"{where}: answerable must be true or false")
            continue
        kind = q.get("kind")
        kinds[(answerable, str(kind))] += 1

        if answerable is False:
            if kind not in UNANSWERABLE_KINDS:
                problems.append(f"{where}: kind must be one of {sorted(UNANSWERABLE_KINDS)}")
            extra = {"gold_file", "gold_page", "answer_phrases"} & set(q)
            if extra:
                problems.append(f"{where}: an unanswerable question has no {sorted(extra)}")
            unanswerable.append(q)
            continue

        missing = {"gold_file", "gold_page", "answer_phrases"} - set(q)
        if missing:
            problems.append(f"{where}: missing {sorted(missing)}")
            continue
        if kind not in ANSWERABLE_KINDS:
            problems.append(f"{where}: kind must be one of {sorted(ANSWERABLE_KINDS)}")
        golds[q["gold_file"]] += 1
        if q["gold_page"] is not None:
            problems.append(f"{where}: gold_page should be null for HTML")
        phrases = q["answer_phrases"]
        if not (
            isinstance(phrases, list)
            and 1 <= len(phrases) <= 3
            and all(isinstance(p, str) and p.strip() for p in phrases)
        ):
            problems.append(f"{where}: answer_phrases must be a list of 1-3 phrases")
            continue
        gold = kb / q["gold_file"]
        if not gold.is_file():
            problems.append(f"{where}: gold_file {q['gold_file']} is not in {kb}")
            continue
        if q["gold_file"] not in texts:
            texts[q["gold_file"]] = page_text(gold)
        for phrase in phrases:
            if norm(phrase) not in texts[q["gold_file"]]:
                problems.append(f"{where}: {phrase!r} not in {q['gold_file']}")
            if norm(phrase) in norm(q["question"]):
                problems.append(f"{where}: {phrase!r} is in the question itself")
    problems += [f"duplicate id {i}" for i, c in ids.items() if c > 1]

    if report and unanswerable:
        for page in sorted(kb.glob("*.html")):
            texts.setdefault(page.name, page_text(page))
        print("unanswerable questions: most specific terms and the pages containing them")
        for q in unanswerable:
            print(f"{q['id']} [{q.get('kind')}] {q['question']}")
            for row in term_report(norm(q["question"]), texts):
                print(row)
        print()

    for p in problems:
        print(p)
    for flag, name in ((True, "answerable"), (False, "unanswerable")):
        counts = [(k, c) for (a, k), c in sorted(kinds.items()) if a is flag]
        line = f"{sum(c for _, c in counts)} {name} ({', '.join(f'{k} {c}' for k, c in counts)})"
        print(line + (f", {len(golds)} gold files" if flag else ""))
    print(f"{n} questions, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
