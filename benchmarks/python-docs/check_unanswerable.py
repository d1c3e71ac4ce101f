"""Check unanswerable.jsonl, and show a reviewer where its key terms occur in the corpus.

    python benchmarks/python-docs/check_unanswerable.py [--quiet] [UNANSWERABLE] [KB]

Every line must be a JSON object with id ("py-u-NNN", unique), question, "answerable": false
and kind (adjacent-module, other-version, organisation or unstated-detail), and no gold_file
or answer_phrases; no question may repeat one of questions.jsonl. Prints a summary and exits
1 on any problem. Standard library only.

For each question it also prints its most specific terms (the identifiers, dotted names,
options and other words of the question that are not common English, rarest in the corpus
first) and the kb pages whose visible text contains each, so that a reviewer can confirm that
no page answers it (--quiet leaves this out). It is a report, not a test: a term can occur in
a page that does not answer the question (a module named in the sidebar or in "See also"),
and the absence of a term does not prove the absence of an answer.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

HERE = Path(__file__).resolve().parent
KINDS = {"adjacent-module", "other-version", "organisation", "unstated-detail"}

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


_TERM = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-=/]*")
# Words that say nothing about where an answer would be.
_COMMON = frozenset(
    """a about after all also an and any are as at be been before between both but by can
    could do does each either every for from get gets give has have how i if in instead into
    is it its itself just like make makes more most my no not now of on one only or other our
    out own same should since so some still such than that the their them then there these
    they this those through to too two under until up use used uses using was we what when
    where whether which while who why will with without would you your
    python file files function functions module modules code new way write writes read reads
    set sets run runs want need work works call calls called value values number default
    version versions added line lines first given""".split()
)


def terms(question: str) -> list[str]:
    found: list[str] = []
    for match in _TERM.finditer(question):
        term = match.group().strip(".-=/").lower()
        if len(term) >= 3 and term not in _COMMON and not term.isdigit() and term not in found:
            found.append(term)
    return found


def main(argv: list[str]) -> int:
    args = argv[1:]
    quiet = "--quiet" in args
    args = [a for a in args if a != "--quiet"]
    path = Path(args[0]) if args else HERE / "unanswerable.jsonl"
    kb = Path(args[1]) if len(args) > 1 else HERE / "kb"
    problems: list[str] = []
    ids: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    questions: list[dict] = []

    answerable = HERE / "questions.jsonl"
    known = set()
    if answerable.is_file():
        for line in answerable.read_text(encoding="utf-8").splitlines():
            if line.strip():
                known.add(norm(json.loads(line).get("question", "")))

    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path.name}:{number}"
        try:
            q = json.loads(line)
        except json.JSONDecodeError as err:
            problems.append(f"{where}: not JSON ({err})")
            continue
        if not isinstance(q, dict):
            problems.append(f"{where}: not a JSON object")
            continue
        qid = q.get("id")
        if not (isinstance(qid, str) and re.fullmatch(r"py-u-\d{3}", qid)):
            problems.append(f"{where}: id must look like py-u-001")
        ids[str(qid)] += 1
        if not (isinstance(q.get("question"), str) and q["question"].strip()):
            problems.append(f"{where}: missing question")
            continue
        if q.get("answerable") is not False:
            problems.append(f"{where}: answerable must be false")
        if q.get("kind") not in KINDS:
            problems.append(f"{where}: kind must be one of {sorted(KINDS)}")
        extra = {"gold_file", "gold_page", "answer_phrases"} & set(q)
        if extra:
            problems.append(f"{where}: an unanswerable question has no {sorted(extra)}")
        if norm(q["question"]) in known:
            problems.append(f"{where}: the same question is in questions.jsonl")
        kinds[str(q.get("kind"))] += 1
        questions.append(q)
    problems += [f"duplicate id {i}" for i, c in ids.items() if c > 1]

    if not quiet:
        pages = sorted(kb.rglob("*.html"))
        if not pages:
            problems.append(f"no HTML pages in {kb} (run scripts/fetch_python_docs.sh)")
        texts = {str(p.relative_to(kb)): page_text(p) for p in pages}
        for q in questions:
            print(f"{q.get('id')} [{q.get('kind')}] {q['question']}")
            hits = {
                t: sorted(n for n, text in texts.items() if t in text) for t in terms(q["question"])
            }
            ranked = sorted(hits, key=lambda t: (len(hits[t]), -len(t)))[:4]
            for t in ranked:
                shown = ", ".join(hits[t][:6]) + (
                    f", ... ({len(hits[t])} pages)" if len(hits[t]) > 6 else ""
                )
                print(f"    {t!r}: {shown or '(no page)'}")
        print()

    for p in problems:
        print(p)
    summary = ", ".join(f"{k} {c}" for k, c in sorted(kinds.items()))
    print(f"{len(questions)} unanswerable questions ({summary}), {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
