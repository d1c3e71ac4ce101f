"""Check questions.jsonl against the fetched corpus.

    python benchmarks/python-docs/check_questions.py [QUESTIONS] [KB]

Every line must be a JSON object with id, question, gold_file, gold_page and answer_phrases;
ids must be unique; gold_file must exist in KB; every answer phrase must occur, ignoring case
and runs of whitespace, in the visible text of the gold page (tags stripped, entities decoded,
script/style dropped). Prints a summary and exits 1 on any problem. Standard library only.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

HERE = Path(__file__).resolve().parent


# Inline elements join their text without a gap (e.g. <span>platform.</span><span>system</span>).
_INLINE = frozenset(
    "a abbr b cite code em i kbd mark q s samp small span strong sub sup tt u var".split()
)


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
    return re.sub(r"\s+", " ", text).strip().lower()


def main(argv: list[str]) -> int:
    questions = Path(argv[1]) if len(argv) > 1 else HERE / "questions.jsonl"
    kb = Path(argv[2]) if len(argv) > 2 else HERE / "kb"
    problems: list[str] = []
    ids: Counter[str] = Counter()
    golds: Counter[str] = Counter()
    texts: dict[str, str] = {}
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
        missing = {"id", "question", "gold_file", "gold_page", "answer_phrases"} - set(q)
        if missing:
            problems.append(f"{where}: missing {sorted(missing)}")
            continue
        ids[q["id"]] += 1
        golds[q["gold_file"]] += 1
        if q["gold_page"] is not None:
            problems.append(f"{where}: gold_page should be null for HTML")
        phrases = q["answer_phrases"]
        if not (isinstance(phrases, list) and 1 <= len(phrases) <= 3):
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
                problems.append(f"{where} ({q['id']}): {phrase!r} not in {q['gold_file']}")
    problems += [f"duplicate id {i}" for i, c in ids.items() if c > 1]
    for p in problems:
        print(p)
    print(f"{n} questions, {len(golds)} gold files, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
