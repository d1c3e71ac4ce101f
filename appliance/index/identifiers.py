"""Identifiers in a question: part numbers, error codes, ticket ids, versions, file and host
names, names from code. A user copies them exactly, and a passage that holds one exactly
answers better than any passage that is merely about the same thing: among 200 maintenance
records that differ only in their numbers, meaning alone cannot tell them apart."""

from __future__ import annotations

import re
import zlib
from collections import Counter
from collections.abc import Collection, Iterator, Sequence
from typing import TypeVar

# A run of ASCII letters, digits and _ joined by - . / : (a path may start with / or ~).
# ASCII only: in "零件ZX-339563适用" the identifier ends where the Chinese begins. Not the
# end of a word with accents ("WM" of "Fußball-WM", not "ball-WM").
_WORD = "A-Za-z0-9_"
_CANDIDATE = re.compile(rf"(?<![{_WORD}\u00c0-\u024f])[/~]?[{_WORD}]+(?:[-./:][{_WORD}]+)*")
_LETTER = re.compile(r"[^\W\d_]")
_CAMEL = re.compile(r"[a-z][A-Z]")
_PARTS = re.compile(r"[-./:_]")
_DIGIT = re.compile(r"\d")
_DOTTED = re.compile(r"\w\w[._]\w\w|\w[._]\w+[._]\w")  # os.path, re.match, max_tokens, a.b.c
_COMPOUND = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)+")
_VERSION = re.compile(r"(?<![\w.])v?\d+\.\d+(?:\.\d+)?(?!\d|\.\d)")
_NAMED_NUMBER = re.compile(r"(?<![\w.])[A-Z][A-Za-z]+ \d{1,4}(?![\w.,:]?\d)")
_CAPITALS = re.compile(r"\b[A-Z][A-Z0-9]{2,}\b")  # not IP or OS: too common to tell
# Months and days in the languages with Latin letters kb/ commonly holds (English, German,
# French, Spanish, Italian, Dutch, Portuguese; three-letter forms too): "10 February 2025",
# "Juni 2024" and "Monday 3" are dates, not versions, and a table writes them 2025-02-10.
_CALENDAR = frozenset(
    """january february march april may june july august september october november december
    januar februar märz maerz juni juli oktober dezember janvier février fevrier mars avril
    mai juin juillet août aout septembre octobre novembre décembre decembre enero febrero
    marzo abril mayo junio julio agosto septiembre setiembre octubre noviembre diciembre
    gennaio febbraio aprile maggio giugno luglio settembre ottobre dicembre januari
    februari maart mei augustus janeiro fevereiro março maio junho julho setembro outubro
    novembro dezembro jan feb mar apr jun jul aug sep sept oct okt nov dec dez monday tuesday
    wednesday thursday friday saturday sunday montag dienstag mittwoch donnerstag freitag
    samstag sonntag lundi mardi mercredi jeudi vendredi samedi dimanche week weeks kw
    q1 q2 q3 q4""".split()
)
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]")
_TITLE_WORD = re.compile(r"(?<![\w.'’-])[A-Z][a-z]{2,}(?![\w'’-])")
_NOT_NAMES = frozenset({"Mr", "Mrs", "Ms", "Dr"})
_LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_+]*(?:[-.][A-Za-z0-9_+]+)*")
CJK_QUESTION_CHARS = 4  # a question with this many Chinese or Japanese characters is in them
OWN_SHARE = 0.25  # about_their_file: measured on the man pages (de, fr) and python-docs

T = TypeVar("T")


def identifiers(question: str) -> list[str]:
    """The question's words that look like identifiers, in order, without repeats."""
    return list(dict.fromkeys(_identifier_words(question)))


def numbered_identifiers(question: str) -> list[str]:
    """The question's identifiers with a digit in them: tickets, part numbers, versions."""
    return [word for word in identifiers(question) if is_numbered(word)]


def is_numbered(identifier: str) -> bool:
    """A value (INC-2023-02684, v2.1.43), not a name (os.path, /etc/sudoers)."""
    return _DIGIT.search(identifier) is not None


def names(question: str) -> list[str]:
    """The words a question uses as names, which a document that answers it would hold too:
    identifiers with a letter in them, words in capitals (SMTP, ACL), and, in a Chinese or
    Japanese question, every word in Latin letters (pacman, nginx). Not values (2024-05-01,
    8080), paths (/dev/sdb1: the user's own, as often as not), nor words joined by hyphens
    (Sticky-Bit)."""
    found = [w for w in _identifier_words(question) if _LETTER.search(w)]
    found += _CAPITALS.findall(question)
    if len(_CJK.findall(question)) >= CJK_QUESTION_CHARS:
        found += _LATIN_WORD.findall(question)
    return [w for w in dict.fromkeys(found) if "/" not in w and not _COMPOUND.fullmatch(w)]


def spellings(name: str) -> list[str]:
    """`name` and the way it is often written with a hyphen: "WiFi" is "Wi-Fi" in many
    documents (a question was refused for "WiFi" where the documents say "Wi-Fi"). Held
    only as that whole word: "Rotating-File-Handler" is in no document, while the words
    of "Rotating File Handler" are in many."""
    parts = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name).split()
    if len(parts) < 2 or any(len(part) < 2 for part in parts):  # not "i Phone"
        return [name]
    return [name, "-".join(parts)]


def proper_names(question: str) -> list[str]:
    """The words an English question capitalises within a sentence: the places, people and
    products it is about ("our Paris office", "the Munich team", "in Excel"). Not a
    sentence's first word, "I", a month or a day, nor a word already in capitals (names())."""
    found = []
    for m in _TITLE_WORD.finditer(question):
        before = question[: m.start()].rstrip()
        if not before or before[-1] in ".!?:;\"'“‘(":
            continue  # a sentence's (or a quote's) first word
        word = m.group()
        if word.lower() not in _CALENDAR and word not in _NOT_NAMES:
            found.append(word)
    return list(dict.fromkeys(found))


_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            "january jan januar janvier enero gennaio januari janeiro",
            "february feb februar février fevrier febrero febbraio februari fevereiro",
            "march mar märz maerz mars marzo maart março",
            "april apr avril abril aprile",
            "may mai mayo maggio mei maio",
            "june jun juni juin junio giugno junho",
            "july jul juli juillet julio luglio julho",
            "august aug août aout agosto augustus",
            "september sep sept septembre septiembre settembre setembro",
            "october oct oktober octobre octubre ottobre outubro",
            "november nov novembre noviembre novembro",
            "december dec dezember décembre decembre diciembre dicembre dezembro",
        ),
        1,
    )
    for name in names.split()
}
_MONTH = r"([A-Za-zéèûäç]{3,10})\.?"
_DAY_MONTH_YEAR = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th|er)?\.? (?:of )?{_MONTH},? (\d{{4}})\b")
_MONTH_DAY_YEAR = re.compile(rf"\b{_MONTH} (\d{{1,2}})(?:st|nd|rd|th)?,? (\d{{4}})\b")
_DOTTED_DATE = re.compile(r"\b(\d{1,2})\.(\d{1,2})\.(\d{4})\b")  # 20.01.2025
_CJK_DATE = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]")


def iso_dates(question: str) -> list[str]:
    """The dates a question writes in words or local forms, as ISO dates: "20 January 2025",
    "January 20, 2025", "20.01.2025", "2025年1月20日" → 2025-01-20, the form tables, logs and
    exports use (a rota's "2025-01-20" was never found for "the week of 20 January 2025")."""
    found = []

    def add(year: str, month: int | None, day: str) -> None:
        if month and 1 <= int(day) <= 31:
            found.append(f"{int(year):04d}-{month:02d}-{int(day):02d}")

    for m in _DAY_MONTH_YEAR.finditer(question):
        add(m.group(3), _MONTHS.get(m.group(2).lower()), m.group(1))
    for m in _MONTH_DAY_YEAR.finditer(question):
        add(m.group(3), _MONTHS.get(m.group(1).lower()), m.group(2))
    for m in _DOTTED_DATE.finditer(question):
        add(m.group(3), int(m.group(2)) if 1 <= int(m.group(2)) <= 12 else None, m.group(1))
    for m in _CJK_DATE.finditer(question):
        add(m.group(1), int(m.group(2)) if 1 <= int(m.group(2)) <= 12 else None, m.group(3))
    return [d for d in dict.fromkeys(found) if d not in question]


def versions(question: str) -> list[str]:
    """The versions a question names: 3.13 of "Python 3.13", v2.1.43, "Debian 12", "PEP 695"
    (a name and a number; in an English question not its first words: "Pick 3 elements");
    not an IP address, nor a date ("on 10 February 2025", "Week 3")."""
    question = question.strip()
    in_cjk = len(_CJK.findall(question)) >= CJK_QUESTION_CHARS
    named = [
        m.group()
        for m in _NAMED_NUMBER.finditer(question)
        if (m.start() > 0 or in_cjk) and m.group().split()[0].lower() not in _CALENDAR
    ]
    return list(dict.fromkeys(_VERSION.findall(question) + named))


def identifier_term(word: str) -> int:
    """The search term of one identifier, whole."""
    return _term_id(word.lower())


def identifier_terms(text: str) -> Counter[int]:
    """Search terms for the identifiers in `text`, with their counts: each identifier whole
    (lowercase), and its parts that hold a digit (339563 of ZX-339563), for users who
    leave out the prefix. BM25's multilingual tokenizer drops numbers: for it ZX-339563,
    ZX-439563 and ZX are one word, and v2.14.3 is v2.14.30."""
    terms: Counter[int] = Counter()
    for word in _identifier_words(text):
        word = word.lower()
        parts = {word} | {p for p in _PARTS.split(word) if len(p) >= 3 and _DIGIT.search(p)}
        terms.update(_term_id(p) for p in parts)
    return terms


def _identifier_words(text: str) -> Iterator[str]:
    return (word for word in _CANDIDATE.findall(text) if _is_identifier(word))


def _term_id(term: str) -> int:
    """A sparse-vector index for an identifier term, apart from BM25's own term ids."""
    return zlib.crc32(b"identifier:" + term.encode())


def _is_identifier(word: str) -> bool:
    if len(word) < 3:
        return False
    digits = sum(c.isdigit() for c in word)
    letters = bool(_LETTER.search(word))
    if digits and letters:  # unit0250, ZX-339563, E0x7F3A, v2.14.3, x86_64
        return True
    if digits:  # 339563, 2024-03-17, 192.168.1.10, 1.2.3; not 25, 100 or round(2.5)
        return digits >= 4 or sum(c in "-./:" for c in word) >= 2
    if word[0] in "/~" and "/" in word[1:]:  # /etc/sudoers, ~/.ssh/config
        return True
    if _CAMEL.search(word):  # TypeError, getElementById
        return True
    if "-" in word and word[1:] != word[1:].lower():  # X-Forwarded-For; not Thread-safe
        return True
    return bool(_DOTTED.search(word))  # os.path.join, re.match, max_tokens, backup.tar.gz


def holds(text: str, identifier: str) -> bool:
    """Whether `text` holds `identifier` whole: any case, not inside a longer name (unit0250
    is not in unit02501, v2.14.3 is not in v2.14.30, but it ends the sentence "… v2.14.3.")."""
    pattern = rf"(?<![{_WORD}\-./])" + re.escape(identifier) + rf"(?![{_WORD}\-]|[./:][{_WORD}])"
    return re.search(pattern, text, re.IGNORECASE) is not None


def holds_version(text: str, version: str) -> bool:
    """Whether `text` names `version` or a release of it, any case: 4.2 is in "R 4.2.2",
    "4.2.x", "R-4.2.2patched" and "v4.2", not in 4.20 or 14.2; Debian 12 in "Debian 12.4".
    (`holds` is exact, as a ticket or part number must be.)"""
    lead = "" if version[:1] in "vV" else "v?"
    pattern = rf"(?<![\w.]){lead}{re.escape(version)}(?:\.(?:\d+|x))*(?!\d)"
    return re.search(pattern, text, re.IGNORECASE) is not None


def exact_first(hits: Sequence[T], names: Sequence[str], text_of) -> list[T]:
    """`hits` with those that hold the question's identifiers first (most identifiers first,
    then in their order). An identifier held by more than half of the hits tells nothing
    apart, and is left out."""
    if not names or not hits:
        return list(hits)
    held = {name: [holds(text_of(h), name) for h in hits] for name in names}
    telling = [name for name, marks in held.items() if 0 < sum(marks) <= len(hits) / 2]
    if not telling:
        return list(hits)
    counts = [sum(held[name][i] for name in telling) for i in range(len(hits))]
    order = sorted(range(len(hits)), key=lambda i: -counts[i])
    return [hits[i] for i in order]


def file_words(question: str, stems: Collection[str]) -> list[str]:
    """The question's plain words that are the name of an indexed file (`stems`: the part of
    each file's name before its first dot), lowercase: ps and cp in "Avec ps, comment …" or
    "Wie kopiere ich mit cp …", where ps.1 and cp.1 are in kb/; and a part of a word joined
    by hyphens (ssh of "Welche ssh-Option …": German joins a name to a noun so)."""
    words = (w.lower() for w in _LATIN_WORD.findall(question))
    parts = (part for w in words for part in (w, *w.split("-")))
    return [w for w in dict.fromkeys(parts) if w in stems]


def about_their_file(words: Sequence[str], hits: Sequence[T], source_of, text_of) -> list[str]:
    """Those of `words` (file_words) that the hits use largely in the file named after them
    (OWN_SHARE of the hits that hold the word, or more, counting every hit from that file:
    a page of options seldom repeats its own name), or not at all. Many of the passages
    that mention cp are cp.1's, so "mit cp" asks about cp.1, and so does "avec ps" when no
    passage found says ps; few of those that say "copy" are copy.html's, so "copy a folder
    with all its contents" names no file."""
    named = []
    for word in words:
        having = [h for h in hits if file_stem(source_of(h)) == word or holds(text_of(h), word)]
        own = sum(file_stem(source_of(h)) == word for h in having)
        if own >= OWN_SHARE * len(having):
            named.append(word)
    return named


def named_first(
    hits: Sequence[T], question_names: Sequence[str], source_of, preferred=None
) -> list[T]:
    """`hits` with the best one from each file the question names first (`question_names`:
    names() of the question, in the order it says them): "cp にはどのオプション" asks about
    cp.1, "nginx 的日志" about nginx.conf. A file is named when the part of its name before
    the first dot is one of the names. One passage a name: a question may name a tool in
    passing (scp and an SSH server), and the other passages keep their places; the file
    named first comes first ("scp soll sich mit einem SSH-Server verbinden": scp.1, then
    ssh.1). Of files sharing a name (fr/tr.1 and de/tr.1), the best hit for which
    `preferred(hit)` holds goes first (the question's language), else the best."""
    wanted = {n.lower() for n in question_names}
    first: dict[str, int] = {}
    chosen: set[str] = set()
    for i, h in enumerate(hits):
        stem = file_stem(source_of(h))
        if stem not in wanted or stem in chosen:
            continue
        if preferred is None or preferred(h):
            first[stem] = i
            chosen.add(stem)
        else:
            first.setdefault(stem, i)
    said = list(dict.fromkeys(n.lower() for n in question_names))
    ahead = sorted(first.values(), key=lambda i: said.index(file_stem(source_of(hits[i]))))
    return [hits[i] for i in ahead] + [h for i, h in enumerate(hits) if i not in ahead]


def in_question_order(question: str, found: Sequence[str]) -> list[str]:
    """`found` (names in the question, each once) in the order the question says them."""
    lower = question.lower()

    def at(name: str) -> int:
        place = lower.find(name.lower())
        return place if place >= 0 else len(lower)

    return sorted(dict.fromkeys(found), key=at)


def file_stem(source: str) -> str:
    """The part of a file's name before its first dot, lowercase: "de/cp.1.txt" → "cp"."""
    return source.rsplit("/", 1)[-1].split(".", 1)[0].lower()
