"""Check questions.jsonl and unanswerable.jsonl against the fetched PDF corpus.

    python benchmarks/pdf-manual/check_questions.py [--where] [QUESTIONS [UNANSWERABLE [KB]]]

questions.jsonl: every line a JSON object with exactly id ("pdf-NNN", unique), question,
gold_file, gold_page, answer_phrases and kind (paraphrase, keyword or command); gold_file must
be a PDF in KB; gold_page a 1-based physical page number within it (pypdfium2's page index + 1,
the page `pdftotext -f N -l N` reads), not a table-of-contents or index page; answer_phrases
1-3 non-empty strings, each occurring in that page's text, ignoring case and runs of
whitespace (see `variants` for how hyphenation, ligatures and quotes are handled).

unanswerable.jsonl: every line a JSON object with id ("pdf-u-NNN", unique across both files),
question, "answerable": false and kind (adjacent-tool, other-version, organisation or
unstated-detail), and no gold: gold_file and gold_page absent or null, answer_phrases absent
or empty. No question may appear in both files.

Prints every problem (each answer phrase not found on its gold page by name) and a summary,
and exits 1 on any problem. --where also lists, for each answer phrase, the other pages that
contain it, to help a reviewer judge whether the gold page is the only one that answers.
Needs pypdfium2 (in the project's virtual environment).
"""

from __future__ import annotations

import json
import re
import sys
import unicodedata
from collections import Counter
from pathlib import Path

import pypdfium2 as pdfium

HERE = Path(__file__).resolve().parent
KINDS = {"paraphrase", "keyword", "command"}
UNANSWERABLE_KINDS = {"adjacent-tool", "other-version", "organisation", "unstated-detail"}
FIELDS = {"id", "question", "gold_file", "gold_page", "answer_phrases", "kind"}
UNANSWERABLE_FIELDS = {"id", "question", "answerable", "kind"}
UNANSWERABLE_OPTIONAL = {"gold_file", "gold_page", "answer_phrases"}

# pdfium marks a hyphen it removed at a line end (a word broken by TeX's hyphenation) with one
# of these; whether the hyphen belongs to the word ("re-com-mended" vs "Debian-based",
# "--disable-byte-compiled") the text does not say, so both readings are tried.
HYPHENATION_MARKS = "\ufffe\x02\xad"
_MARK = re.compile(f"[{HYPHENATION_MARKS}]")
# Typographic characters a user types plainly.
_PLAIN = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2212": "-"})
# An identifier or path broken at a line end after "_", "-" or "/" (R_LIBS_\nUSER, https://\nwww).
_BROKEN_IDENTIFIER = re.compile(r"(?<=[_/-])[ \t]*\r?\n[ \t]*")


def norm(text: str) -> str:
    """NFKC (ligatures such as "ﬁ" become "fi"), plain quotes, one space, lower case."""
    text = unicodedata.normalize("NFKC", text).translate(_PLAIN)
    return re.sub(r"\s+", " ", text).strip().lower()


def variants(raw: str) -> tuple[str, ...]:
    """The page's text read three ways: hyphenation marks dropped (the word joined), marks read
    as "-", and identifiers broken after "_", "-" or "/" at a line end joined as well."""
    joined = _MARK.sub("", raw)
    return (
        norm(joined),
        norm(_MARK.sub("-", raw)),
        norm(_BROKEN_IDENTIFIER.sub("", joined)),
    )


def is_contents_or_index(raw: str) -> bool:
    """A table-of-contents or index page: most of its lines end in dot leaders."""
    lines = [line for line in raw.splitlines() if line.strip()]
    leaders = sum(". . ." in line for line in lines)
    return bool(lines) and leaders >= 0.3 * len(lines)


class Corpus:
    def __init__(self, kb: Path) -> None:
        self.kb = kb
        self._pages: dict[str, list[tuple[str, tuple[str, ...]]] | None] = {}

    def pages(self, name: str) -> list[tuple[str, tuple[str, ...]]] | None:
        """Each page's raw text and its normalised variants, or None if the file is missing."""
        if name not in self._pages:
            path = self.kb / name
            if not path.is_file():
                self._pages[name] = None
            else:
                document = pdfium.PdfDocument(path)
                try:
                    pages = []
                    for index in range(len(document)):
                        page = document[index]
                        textpage = page.get_textpage()
                        raw = textpage.get_text_range()
                        textpage.close()
                        page.close()
                        pages.append((raw, variants(raw)))
                finally:
                    document.close()
                self._pages[name] = pages
        return self._pages[name]


def found(phrase: str, texts: tuple[str, ...]) -> bool:
    wanted = norm(_MARK.sub("", phrase))
    return any(wanted in text for text in texts)


def read_jsonl(path: Path, problems: list[str]) -> list[tuple[str, dict]]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path.name}:{number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            problems.append(f"{where}: not JSON ({err})")
            continue
        if not isinstance(row, dict):
            problems.append(f"{where}: not a JSON object")
            continue
        rows.append((where, row))
    return rows


def check_questions(
    path: Path, corpus: Corpus, problems: list[str], where_else: bool
) -> tuple[list[dict], Counter[str]]:
    rows = read_jsonl(path, problems)
    kinds: Counter[str] = Counter()
    for where, q in rows:
        keys = set(q)
        if keys != FIELDS:
            missing, extra = sorted(FIELDS - keys), sorted(keys - FIELDS)
            problems.append(f"{where}: fields differ (missing {missing}, unexpected {extra})")
            if missing:
                continue
        qid = q["id"]
        where = f"{where} ({qid})"
        if not (isinstance(qid, str) and re.fullmatch(r"pdf-\d{3}", qid)):
            problems.append(f"{where}: id should look like pdf-001")
        if not (isinstance(q["question"], str) and q["question"].strip()):
            problems.append(f"{where}: empty question")
        if q["kind"] not in KINDS:
            problems.append(f"{where}: kind {q['kind']!r} is not one of {sorted(KINDS)}")
        kinds[str(q["kind"])] += 1
        phrases = q["answer_phrases"]
        if not (
            isinstance(phrases, list)
            and 1 <= len(phrases) <= 3
            and all(isinstance(p, str) and p.strip() for p in phrases)
        ):
            problems.append(f"{where}: answer_phrases must be a list of 1-3 non-empty strings")
            continue
        gold_file, gold_page = q["gold_file"], q["gold_page"]
        if not (isinstance(gold_file, str) and gold_file.lower().endswith(".pdf")):
            problems.append(f"{where}: gold_file {gold_file!r} is not a PDF path")
            continue
        pages = corpus.pages(gold_file)
        if pages is None:
            problems.append(f"{where}: gold_file {gold_file} is not in {corpus.kb}")
            continue
        if not (isinstance(gold_page, int) and not isinstance(gold_page, bool)):
            problems.append(f"{where}: gold_page must be a page number from 1")
            continue
        if not 1 <= gold_page <= len(pages):
            problems.append(
                f"{where}: gold_page {gold_page} is outside 1-{len(pages)} of {gold_file}"
            )
            continue
        raw, texts = pages[gold_page - 1]
        if is_contents_or_index(raw):
            problems.append(f"{where}: page {gold_page} of {gold_file} is a contents or index page")
        for phrase in phrases:
            if not found(phrase, texts):
                problems.append(f"{where}: {phrase!r} not found on page {gold_page} of {gold_file}")
            if where_else:
                others = [
                    str(n)
                    for n, (other_raw, other) in enumerate(pages, 1)
                    if n != gold_page
                    and not is_contents_or_index(other_raw)
                    and found(phrase, other)
                ]
                print(f"{qid} p{gold_page} {phrase!r}: also on pages {', '.join(others) or '-'}")
    return [q for _, q in rows], kinds


def check_unanswerable(path: Path, problems: list[str]) -> list[dict]:
    rows = read_jsonl(path, problems)
    for where, q in rows:
        keys = set(q)
        missing = sorted(UNANSWERABLE_FIELDS - keys)
        extra = sorted(keys - UNANSWERABLE_FIELDS - UNANSWERABLE_OPTIONAL)
        if missing or extra:
            problems.append(f"{where}: fields differ (missing {missing}, unexpected {extra})")
            if missing:
                continue
        where = f"{where} ({q['id']})"
        if not (isinstance(q["id"], str) and re.fullmatch(r"pdf-u-\d{3}", q["id"])):
            problems.append(f"{where}: id should look like pdf-u-001")
        if not (isinstance(q["question"], str) and q["question"].strip()):
            problems.append(f"{where}: empty question")
        if q["answerable"] is not False:
            problems.append(f"{where}: answerable must be false")
        if q["kind"] not in UNANSWERABLE_KINDS:
            problems.append(
                f"{where}: kind {q['kind']!r} is not one of {sorted(UNANSWERABLE_KINDS)}"
            )
        if q.get("gold_file") is not None or q.get("gold_page") is not None:
            problems.append(f"{where}: an unanswerable question has no gold_file or gold_page")
        if q.get("answer_phrases"):
            problems.append(f"{where}: an unanswerable question has no answer_phrases")
    return [q for _, q in rows]


def main(argv: list[str]) -> int:
    where_else = "--where" in argv
    args = [a for a in argv[1:] if a != "--where"]
    questions = Path(args[0]) if len(args) > 0 else HERE / "questions.jsonl"
    unanswerable = Path(args[1]) if len(args) > 1 else HERE / "unanswerable.jsonl"
    kb = Path(args[2]) if len(args) > 2 else HERE / "kb"
    if not kb.is_dir():
        print(f"{kb} does not exist: run scripts/fetch_pdf_manual.sh first")
        return 1
    problems: list[str] = []
    corpus = Corpus(kb)
    answerable, kinds = check_questions(questions, corpus, problems, where_else)
    refused = check_unanswerable(unanswerable, problems) if unanswerable.is_file() else []
    if not unanswerable.is_file():
        problems.append(f"{unanswerable} is missing")

    ids = Counter(str(q.get("id")) for q in answerable + refused)
    problems += [f"duplicate id {i}" for i, c in ids.items() if c > 1]
    asked = Counter(norm(str(q.get("question", ""))) for q in answerable + refused)
    problems += [f"question asked more than once: {q!r}" for q, c in asked.items() if c > 1]

    for p in problems:
        print(p)
    pages = Counter((q.get("gold_file"), q.get("gold_page")) for q in answerable)
    print(
        f"{len(answerable)} questions ({', '.join(f'{k} {n}' for k, n in sorted(kinds.items()))}) "
        f"on {len(pages)} pages, {len(refused)} unanswerable, {len(problems)} problems"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
