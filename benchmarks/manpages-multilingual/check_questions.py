"""Check questions.jsonl against the fetched corpus (translated Debian man pages as text).

    python benchmarks/manpages-multilingual/check_questions.py [--others] [QUESTIONS] [KB]
    python benchmarks/manpages-multilingual/check_questions.py --eval REPORT.json [QUESTIONS]

Every line is one JSON object: id, question, gold_file (relative to KB, e.g. "ja/cp.1.txt"),
gold_page (null: the pages are plain text), answer_phrases (1-3 strings), kind (the language
the question is written in: ja, zh, de or fr) and answerable (true).

Checks: ids unique; every field present and of the right type; gold_file exists in KB;
each answer phrase occurs in the gold file, ignoring case and runs of white space, with the
white space between two CJK characters removed (the rendered pages break lines inside
Chinese and Japanese sentences, and some Chinese pages put spaces between words), and none
occurs in the question itself. Prints the counts per kind, per gold language, and the
cross-lingual questions (gold file in another language than the question).

--others also lists, for each question, the other files in the gold file's language folder
that contain all of its answer phrases: a report for a reviewer (short options such as -r
occur in many pages; what matters is whether another page answers the question as directly).

--eval REPORT.json reads the --json report of `appliance eval` on this set and prints
recall@k and MRR per kind, for the cross-lingual questions, and an "any language" recall
that also counts as a hit a retrieved chunk of the same page in another language (e.g.
de/cp.1.txt for a Japanese question whose gold file is ja/cp.1.txt).

Prints a summary and exits 1 on any problem. Standard library only.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
KINDS = ("ja", "zh", "de", "fr")

_CJK = "\u2e80-\u2fff\u3000-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"
_CJK_GAP = re.compile(rf"(?<=[{_CJK}])\s+(?=[{_CJK}])")


def norm(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip().lower()
    return _CJK_GAP.sub("", text)


def load(path: Path) -> tuple[list[dict], list[str]]:
    questions, problems = [], []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            q = json.loads(line)
        except json.JSONDecodeError as err:
            problems.append(f"{path.name}:{number}: not JSON ({err})")
            continue
        if not isinstance(q, dict):
            problems.append(f"{path.name}:{number}: not a JSON object")
            continue
        q["_line"] = number
        questions.append(q)
    return questions, problems


def check(questions: list[dict], kb: Path, others: bool) -> list[str]:
    problems: list[str] = []
    ids: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    gold_langs: Counter[str] = Counter()
    golds: set[str] = set()
    cross: list[str] = []
    texts: dict[str, str] = {}

    def text(rel: str) -> str:
        if rel not in texts:
            texts[rel] = norm((kb / rel).read_text(encoding="utf-8"))
        return texts[rel]

    for q in questions:
        where = f"line {q['_line']}"
        if not (isinstance(q.get("id"), str) and q["id"]):
            problems.append(f"{where}: missing id")
            continue
        ids[q["id"]] += 1
        where = f"{where} ({q['id']})"
        missing = {"question", "gold_file", "gold_page", "answer_phrases", "kind", "answerable"}
        missing -= set(q)
        if missing:
            problems.append(f"{where}: missing {sorted(missing)}")
            continue
        if not (isinstance(q["question"], str) and q["question"].strip()):
            problems.append(f"{where}: empty question")
            continue
        if q["answerable"] is not True:
            problems.append(f"{where}: answerable must be true")
        if q["gold_page"] is not None:
            problems.append(f"{where}: gold_page must be null (plain-text pages)")
        kind = q["kind"]
        if kind not in KINDS:
            problems.append(f"{where}: kind must be one of {KINDS}")
        kinds[str(kind)] += 1
        if not q["id"].startswith(f"{kind}-"):
            problems.append(f"{where}: the id should start with its kind ({kind}-)")
        phrases = q["answer_phrases"]
        if not (
            isinstance(phrases, list)
            and 1 <= len(phrases) <= 3
            and all(isinstance(p, str) and p.strip() for p in phrases)
        ):
            problems.append(f"{where}: answer_phrases must be a list of 1-3 phrases")
            continue
        gold = q["gold_file"]
        if not isinstance(gold, str) or not (kb / gold).is_file():
            problems.append(f"{where}: gold_file {gold!r} is not in {kb}")
            continue
        golds.add(gold)
        lang = gold.split("/")[0]
        gold_langs[lang] += 1
        if lang != kind:
            cross.append(f"{q['id']} ({kind} question -> {gold})")
        for phrase in phrases:
            if norm(phrase) not in text(gold):
                problems.append(f"{where}: {phrase!r} not in {gold}")
            if norm(phrase) in norm(q["question"]):
                problems.append(f"{where}: {phrase!r} is in the question itself")
        if others:
            folder = kb / lang
            also = [
                f"{lang}/{p.name}"
                for p in sorted(folder.glob("*.txt"))
                if f"{lang}/{p.name}" != gold
                and all(norm(ph) in text(f"{lang}/{p.name}") for ph in phrases)
            ]
            shown = ", ".join(also[:8]) + (f" (+{len(also) - 8})" if len(also) > 8 else "")
            print(f"{q['id']} -> {gold} {phrases}: also in {shown or '(none)'}")
    problems += [f"duplicate id {i}" for i, c in ids.items() if c > 1]

    if others:
        print()
    for p in problems:
        print(p)
    print(f"per kind (question language): {', '.join(f'{k} {kinds[k]}' for k in sorted(kinds))}")
    print(f"per gold language: {', '.join(f'{k} {gold_langs[k]}' for k in sorted(gold_langs))}")
    print(f"{len(golds)} gold files; {len(cross)} cross-lingual: {'; '.join(cross) or '-'}")
    pages = {lang: len(list((kb / lang).glob("*.txt"))) for lang in KINDS if (kb / lang).is_dir()}
    print(f"kb pages: {', '.join(f'{k} {n}' for k, n in pages.items())}")
    print(f"{len(questions)} questions, {len(problems)} problems")
    return problems


def page_name(source: str) -> str:
    return source.split("/")[-1]


def eval_report(report_path: Path, questions: list[dict]) -> int:
    report = json.loads(report_path.read_text(encoding="utf-8"))
    kind_of = {q["id"]: q["kind"] for q in questions}
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in report["questions"]:
        kind = r.get("kind") or kind_of.get(r["id"], "?")
        groups[kind].append(r)
        groups["all"].append(r)
        if r["gold_file"].split("/")[0] != kind:
            groups["cross-lingual"].append(r)
    k = report["k"]
    print(f"{'group':<14} {'n':>4} {f'recall@{k}':>9} {'mrr':>6} {'any-lang':>9}")
    for name in [*KINDS, "cross-lingual", "all"]:
        rows = groups.get(name)
        if not rows:
            continue
        recall = sum(r["hit"] for r in rows) / len(rows)
        mrr = sum(1 / r["rank"] for r in rows if r["rank"]) / len(rows)
        anylang = sum(
            any(page_name(c["source"]) == page_name(r["gold_file"]) for c in r["retrieved"][:k])
            for r in rows
        ) / len(rows)
        print(f"{name:<14} {len(rows):>4} {recall:>9.3f} {mrr:>6.3f} {anylang:>9.3f}")
    return 0


def main(argv: list[str]) -> int:
    args = argv[1:]
    others = "--others" in args
    args = [a for a in args if a != "--others"]
    report = None
    if "--eval" in args:
        at = args.index("--eval")
        if at + 1 >= len(args):
            print("--eval needs the path of an `appliance eval --json` report")
            return 2
        report = Path(args[at + 1])
        del args[at : at + 2]
    path = Path(args[0]) if args else HERE / "questions.jsonl"
    kb = Path(args[1]) if len(args) > 1 else HERE / "kb"
    questions, problems = load(path)
    for p in problems:
        print(p)
    if report is not None:
        return eval_report(report, questions)
    if not kb.is_dir():
        print(f"{kb} does not exist: run scripts/fetch_manpages_multilingual.sh first")
        return 1
    problems += check(questions, kb, others)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
