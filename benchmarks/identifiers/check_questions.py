"""Check questions.jsonl against the generated corpus.

    python benchmarks/identifiers/check_questions.py [QUESTIONS] [KB]

Every line must be a JSON object with id, question, gold_file, gold_page (null), answer_phrases
(1-3), kind "identifier", answerable true, family and identifier; ids must be unique. For each
question:

- its `identifier` occurs verbatim (ignoring case) in the question;
- the identifier occurs in exactly one file of KB, the gold file, as a whole identifier (see
  `occurs`: v2.14.3 does not count inside v2.14.30, nor ZX-339563 inside ZX-339563-R, but
  db-prod-07 counts inside db-prod-07.corp.example);
- every answer phrase occurs in the gold file, ignoring case and runs of whitespace.

It also prints, per question, how many other files hold a near-collision of the identifier
(a token one edit away: a transposed, changed, added or dropped character) and how many hold it
only as part of a longer token: the distractors a substring or fuzzy match would rank
instead. Prints a summary and exits 1 on any problem. Standard library only.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIELDS = {
    "id",
    "question",
    "gold_file",
    "gold_page",
    "answer_phrases",
    "kind",
    "answerable",
    "family",
    "identifier",
}
TOKEN = re.compile(r"[a-z0-9](?:[a-z0-9._/\-]*[a-z0-9])?")
ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789.-_"


def occurs(identifier: str, text: str) -> bool:
    """`identifier` appears in `text` as a whole identifier, ignoring case: not preceded by a
    letter or digit, and not followed by one, nor by . - _ / and a letter or digit, except that
    a host name may be followed by its domain (.corp.example). Same rule as generate.py."""
    pattern = (
        r"(?<![A-Za-z0-9])"
        + re.escape(identifier)
        + r"(?!\.corp\.example)(?![A-Za-z0-9]|[._/\-][A-Za-z0-9])"
        + r"|(?<![A-Za-z0-9])"
        + re.escape(identifier)
        + r"(?=\.corp\.example)"
    )
    return re.search(pattern, text, re.IGNORECASE) is not None


def norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def one_edit(word: str) -> set[str]:
    """Every string one transposition, substitution, insertion or deletion away."""
    out = set()
    for i in range(len(word) + 1):
        for c in ALPHABET:
            out.add(word[:i] + c + word[i:])
        if i < len(word):
            out.add(word[:i] + word[i + 1 :])
            for c in ALPHABET:
                out.add(word[:i] + c + word[i + 1 :])
        if i < len(word) - 1:
            out.add(word[:i] + word[i + 1] + word[i] + word[i + 2 :])
    out.discard(word)
    return out


def main(argv: list[str]) -> int:
    questions = Path(argv[1]) if len(argv) > 1 else HERE / "questions.jsonl"
    kb = Path(argv[2]) if len(argv) > 2 else HERE / "kb"
    if not kb.is_dir():
        print(f"{kb} is missing: run generate.py first")
        return 1
    texts = {
        p.relative_to(kb).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(kb.rglob("*"))
        if p.is_file()
    }
    tokens = {path: set(TOKEN.findall(text.lower())) for path, text in texts.items()}
    problems: list[str] = []
    ids: Counter[str] = Counter()
    families: Counter[str] = Counter()
    rows = []
    for number, line in enumerate(questions.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{questions.name}:{number}"
        try:
            q = json.loads(line)
        except json.JSONDecodeError as err:
            problems.append(f"{where}: not JSON ({err})")
            continue
        missing = FIELDS - set(q)
        if missing:
            problems.append(f"{where}: missing {sorted(missing)}")
            continue
        ids[q["id"]] += 1
        families[q["family"]] += 1
        if q["gold_page"] is not None:
            problems.append(f"{where}: gold_page should be null")
        if q["kind"] != "identifier" or q["answerable"] is not True:
            problems.append(f"{where}: kind must be 'identifier' and answerable true")
        ident = q["identifier"]
        if ident.lower() not in q["question"].lower():
            problems.append(f"{where} ({q['id']}): identifier {ident!r} not in the question")
        if q["gold_file"] not in texts:
            problems.append(f"{where} ({q['id']}): gold_file {q['gold_file']} is not in {kb}")
            continue
        holders = [path for path, text in texts.items() if occurs(ident, text)]
        if holders != [q["gold_file"]]:
            problems.append(
                f"{where} ({q['id']}): {ident!r} occurs in {holders}, "
                f"expected only {q['gold_file']}"
            )
        phrases = q["answer_phrases"]
        if not (isinstance(phrases, list) and 1 <= len(phrases) <= 3):
            problems.append(f"{where}: answer_phrases must be a list of 1-3 phrases")
            continue
        gold_text = norm(texts[q["gold_file"]])
        for phrase in phrases:
            if norm(phrase) not in gold_text:
                problems.append(f"{where} ({q['id']}): {phrase!r} not in {q['gold_file']}")
        # distractors: near-collisions (one edit away) and longer tokens containing it
        key = ident.lower().split()[-1]  # "HTTP 503.2" -> "503.2"
        near = one_edit(key)
        near_files = sum(
            1 for path, toks in tokens.items() if path != q["gold_file"] and toks & near
        )
        substring_files = sum(
            1 for path, text in texts.items() if path != q["gold_file"] and key in text.lower()
        )
        rows.append((q["id"], q["family"], ident, near_files, substring_files))
    problems += [f"duplicate id {i}" for i, c in ids.items() if c > 1]
    print(f"{'id':<8} {'family':<14} {'identifier':<28} {'near':>4} {'substr':>6}")
    for row in rows:
        print(f"{row[0]:<8} {row[1]:<14} {row[2]:<28} {row[3]:>4} {row[4]:>6}")
    print()
    for p in problems:
        print(p)
    with_near = sum(1 for r in rows if r[3])
    print(
        f"{sum(ids.values())} questions ({', '.join(f'{f} {n}' for f, n in families.items())}); "
        f"{len(texts)} kb files; {with_near} identifiers have a near-collision in another "
        f"file; {len(problems)} problems"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
