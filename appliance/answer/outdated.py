"""Documents that say of themselves that they no longer apply: a policy "(superseded)", a
guide "RETIRED: do not use", a "旧版" kept for reference. Organisations keep them beside the
current version, and retrieval finds both: the old figure was quoted as an equal of the new
one, or alone (a QA pass: "30 June" of the 2023 leave policy for "until when can I carry
leave over?", where the current policy says 31 March).

Only a document's start is read (its title, its first lines), where such a status is
declared: a manual that mentions deprecated functions further down is not outdated.
Their quotes weigh less than the current documents' (answer/extractive.py), and each is
marked where its source is named.
"""

from __future__ import annotations

import re

START_LINES, START_CHARS = 3, 300  # of a document's first passage, after its heading

_MARKERS = re.compile(
    r"\b(?:superseded|obsolete|retired|archived|outdated|withdrawn"
    r"|no longer (?:valid|in force|applies|applicable|in use|current|maintained)"
    r"|do not use|for reference only|replaced by"
    r"|veraltet|archiviert|ersetzt durch|nicht mehr gültig|außer kraft"
    r"|obsolète|archivé|remplacé par|n[’']est plus (?:valable|en vigueur)"
    r"|obsoleto|archivado|sustituido por|ya no es válido)\b"
    r"|已废止|已作废|已过时|已停用|已失效|已被取代|旧版|仅供参考|廃止|旧版|使用しないでください",
    re.IGNORECASE,
)


def says_outdated(heading: str, text: str) -> bool:
    """Whether a document's first passage (its heading and text) declares it no longer
    applies, in its heading or first lines (a man page that calls a command obsolete in its
    description is not an outdated document)."""
    lines = [line for line in text.splitlines() if line.strip()][:START_LINES]
    return _MARKERS.search("\n".join([heading, *lines])[:START_CHARS]) is not None
