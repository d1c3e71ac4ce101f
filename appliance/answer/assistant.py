"""The question pipeline: retrieve → prompt → admission → generate (streamed) → log."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from appliance.answer.admission import Admission
from appliance.answer.generator import LlamaGenerator
from appliance.answer.prompt import build_messages
from appliance.answer.retrieve import Citation, Retriever
from appliance.index.store import SearchFilter
from appliance.observe import QueryLog

NOT_FOUND = "I could not find anything about that in the indexed documents."
_CITE = re.compile(r"\[(\d+)\]")


class BadQuestion(ValueError):
    pass


@dataclass(frozen=True)
class Event:
    """One step of a streamed answer: "citations", "token" or "done"."""

    kind: str
    data: object


class Assistant:
    def __init__(
        self,
        retriever: Retriever,
        generator: LlamaGenerator,
        admission: Admission,
        query_log: QueryLog,
        k: int,
        max_question_chars: int,
    ):
        self.retriever = retriever
        self.generator = generator
        self.admission = admission
        self.query_log = query_log
        self.k = k
        self.max_question_chars = max_question_chars

    def check(self, question: object) -> str:
        if not isinstance(question, str) or not question.strip():
            raise BadQuestion("the question is empty")
        if len(question) > self.max_question_chars:
            raise BadQuestion(
                f"the question is {len(question)} characters long; the limit is "
                f"{self.max_question_chars} (limits.max_question_chars)"
            )
        return question.strip()

    def search(
        self, question: str, k: int | None = None, where: SearchFilter | None = None
    ) -> tuple[list[Citation], dict]:
        result = self.retriever.retrieve(self.check(question), k or self.k, where)
        return result.citations, result.timings

    def ask(self, question: str, k: int | None = None, where: SearchFilter | None = None) -> dict:
        """The whole answer at once: {"answer", "citations", "timings", "id"}."""
        answer = {}
        for event in self.stream(question, k, where):
            if event.kind == "done":
                answer = event.data
        return answer

    def stream(
        self, question: str, k: int | None = None, where: SearchFilter | None = None
    ) -> Iterator[Event]:
        """Events of one answer; raises BadQuestion or Busy before the first event."""
        question = self.check(question)
        started = time.perf_counter()
        query_id = uuid.uuid4().hex[:12]
        retrieval = self.retriever.retrieve(question, k or self.k, where)
        timings = dict(retrieval.timings)
        if not retrieval.citations:
            yield from self._finish(query_id, question, NOT_FOUND, [], timings, started)
            return
        with self.admission.slot() as waited:
            timings["queue_ms"] = round(waited * 1000, 1)
            messages, used = build_messages(
                question,
                retrieval.citations,
                self.generator.prompt_budget,
                self.generator.count_tokens,
            )
            yield Event("citations", [c.public() for c in used])
            generation_started = time.perf_counter()
            parts, first_token = [], None
            for text in self.generator.stream(messages):
                if first_token is None:
                    first_token = time.perf_counter()
                parts.append(text)
                yield Event("token", text)
            done = time.perf_counter()
        timings["first_token_ms"] = round(((first_token or done) - generation_started) * 1000, 1)
        timings["generate_ms"] = round((done - generation_started) * 1000, 1)
        answer = "".join(parts).strip() or NOT_FOUND
        yield from self._finish(query_id, question, answer, used, timings, started)

    def _finish(self, query_id, question, answer, citations, timings, started):
        timings["total_ms"] = round((time.perf_counter() - started) * 1000, 1)
        cited = sorted({int(n) for n in _CITE.findall(answer) if 1 <= int(n) <= len(citations)})
        trust = {
            "retrieved": len(citations),
            "cited": cited,
            "top_score": citations[0].score if citations else 0.0,
            "grounded": bool(cited),
        }
        public = [c.public() for c in citations]
        self.query_log.record(query_id, question, public, timings, trust, answer)
        yield Event(
            "done",
            {
                "id": query_id,
                "answer": answer,
                "citations": public,
                "timings": timings,
                "trust": trust,
            },
        )
