"""What is kept of every question: one record, written by the assistant, logged and stored by
the query history (observe/history.py), counted by the metrics. README, "Logs and metrics",
describes its fields; stored records are read back as plain dicts (older ones lack newer
fields)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True)
class QueryRecord:
    ts: float
    request_id: str
    conversation_id: str | None
    user: str  # who asked (users.py); "" without users, or for the access token
    query: str
    rewritten_query: str  # a follow-up as retrieval saw it ("" when asked as is)
    outcome: str  # answered, no_knowledge, rejected, abandoned, error
    mode: str  # extractive, generated or none (refused); "" when it never got that far
    refusal: str | None  # not_in_documents, nothing_indexed or nothing_matches, when refused
    replaced_because: str  # why a generated answer was replaced by quotes
    stopped: str  # how generation ended: end, repetition, max_tokens
    evidence: dict | None  # the answerability gate's signals
    unknown_names: list[str]  # names in the question that no indexed passage holds
    unmatched_versions: list[str]  # versions it names (3.13, Debian 12) the passages do not
    languages: list[str]  # the languages its search terms were cut in: its own, then English
    across_languages: bool  # its passages were sought in other languages than its own
    more_of_named: int  # the last of the retrieved passages: more of the file it names
    answerable: float | None  # the gate's probability
    model: str
    retrieved: list[dict]  # the passages: id, source, page, score, relevance, sent, cited, text
    timings: dict[str, float]
    tokens_in: int
    tokens_out: int
    trust: dict | None
    answer: str
    error: str = ""

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)
