"""The question pipeline: (rewrite a follow-up) → retrieve → relevant enough? → prompt →
admission → generate (streamed) → citations, trust, log."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from appliance.answer.admission import Admission, Busy
from appliance.answer.conversations import Conversations
from appliance.answer.generators import Generator
from appliance.answer.prompt import Turn, build_prompt, rewrite_messages
from appliance.answer.retrieve import Retrieval, Retriever
from appliance.answer.trust import assess
from appliance.index.store import SearchFilter
from appliance.observe import QueryLog

NOT_FOUND = "I could not find anything about that in the indexed documents."
_LABEL = re.compile(r"^\s*(standalone question|rewritten question|question)\s*:\s*", re.I)
QUEUE_POLL_S = 1.0
log = logging.getLogger("appliance.answer")


class BadQuestion(ValueError):
    pass


@dataclass(frozen=True)
class Event:
    """One step of a streamed answer: "queued", "citations", "token" or "done"."""

    kind: str
    data: object


@dataclass(frozen=True)
class Request:
    question: str
    k: int
    where: SearchFilter | None = None
    conversation_id: str | None = None


class Assistant:
    def __init__(
        self,
        retriever: Retriever,
        generator: Generator,
        admission: Admission,
        conversations: Conversations,
        query_log: QueryLog,
        k: int,
        min_relevance: float,
        max_question_chars: int,
    ):
        self.retriever = retriever
        self.generator = generator
        self.admission = admission
        self.conversations = conversations
        self.query_log = query_log
        self.k = k
        self.min_relevance = min_relevance
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

    def search(self, question: str, k: int | None = None, where: SearchFilter | None = None):
        """Retrieval only: never waits for the generator."""
        result = self.retriever.retrieve(self.check(question), k or self.k, where)
        return result.citations, result.timings

    def ask(self, question: str, k=None, where=None, conversation_id=None, history=None) -> dict:
        """The whole answer at once (the "done" event of `stream`)."""
        answer = {}
        for event in self.stream(question, k, where, conversation_id, history):
            if event.kind == "done":
                answer = event.data
        return answer

    def stream(
        self,
        question: str,
        k: int | None = None,
        where: SearchFilter | None = None,
        conversation_id: str | None = None,
        history: list[Turn] | None = None,
    ) -> Iterator[Event]:
        """Events of one answer. BadQuestion, and Busy when the queue is full, are raised
        before the first event; Busy after a wait in line longer than the queue timeout.
        The earlier turns come from `history` if given, else from the conversation id."""
        request = Request(self.check(question), k or self.k, where, conversation_id)
        remember = history is None
        if history is None:
            history = self.conversations.history(conversation_id)
        started = time.perf_counter()
        retrieval = None
        if not history:  # retrieval first: an irrelevant question never waits in line
            retrieval = self.retriever.retrieve(request.question, request.k, where)
            if not self._relevant(retrieval):
                yield self._finish(
                    request, request.question, NOT_FOUND, retrieval, [], started, remember
                )
                return
        entered = time.perf_counter()
        ticket = self.admission.enter()
        try:
            yield from self._wait_in_line(ticket)
            queued_ms = (time.perf_counter() - entered) * 1000
            standalone = request.question
            if history:
                standalone = self._standalone(request.question, history)
                retrieval = self.retriever.retrieve(standalone, request.k, where)
                if not self._relevant(retrieval):
                    yield self._finish(
                        request, standalone, NOT_FOUND, retrieval, [], started, remember
                    )
                    return
            prompt = build_prompt(
                request.question,
                retrieval.citations,
                history,
                self.generator.prompt_budget,
                self.generator.count_tokens,
            )
            if prompt.dropped:
                log.info(
                    "passages dropped to fit the context",
                    extra={
                        "event": "prompt_trimmed",
                        "dropped": [c.number for c in prompt.dropped],
                        "prompt_tokens": prompt.tokens,
                    },
                )
            yield Event("citations", [c.public() for c in prompt.used])
            generation_started = time.perf_counter()
            parts, first_token = [], None
            for text in self.generator.stream(prompt.messages):
                first_token = first_token or time.perf_counter()
                parts.append(text)
                yield Event("token", text)
            done = time.perf_counter()
        except GeneratorExit:  # the client went away: generation stops, the slot frees
            log.info(
                "answer abandoned by the client",
                extra={"event": "abandoned", "query": request.question},
            )
            raise
        finally:
            ticket.leave()
        retrieval.timings.update(
            queue_ms=round(queued_ms, 1),
            first_token_ms=round(((first_token or done) - generation_started) * 1000, 1),
            generate_ms=round((done - generation_started) * 1000, 1),
        )
        answer = "".join(parts).strip() or NOT_FOUND
        yield self._finish(request, standalone, answer, retrieval, prompt.used, started, remember)

    def _wait_in_line(self, ticket) -> Iterator[Event]:
        """Position reports at once and then every second: they also keep the stream alive."""
        deadline = time.monotonic() + self.admission.timeout_s
        while (position := ticket.position) > 0:
            yield Event("queued", {"position": position})
            if ticket.wait(min(QUEUE_POLL_S, max(0.0, deadline - time.monotonic()))):
                return
            if time.monotonic() >= deadline:
                raise Busy(
                    f"no answer slot came free within {self.admission.timeout_s:g} s "
                    "(limits.queue_timeout_s); try again shortly"
                )

    def _relevant(self, retrieval: Retrieval) -> bool:
        return any(c.relevance >= self.min_relevance for c in retrieval.citations)

    def _standalone(self, question: str, history: list[Turn]) -> str:
        """A follow-up rewritten into a question that retrieval can use on its own."""
        output = "".join(self.generator.stream(rewrite_messages(question, history), 64))
        first_line = next((line for line in output.splitlines() if line.strip()), "")
        rewritten = _LABEL.sub("", first_line).strip(' "')
        if (
            not rewritten
            or len(rewritten) > 3 * len(question) + 120
            or any(marker in rewritten for marker in ("User:", "Assistant:"))
        ):
            rewritten = f"{history[-1].question} {question}"  # the model did not help
        return rewritten

    def _finish(self, request, standalone, answer, retrieval, used, started, remember) -> Event:
        timings = dict(retrieval.timings)
        timings["total_ms"] = round((time.perf_counter() - started) * 1000, 1)
        gap = answer == NOT_FOUND
        trust = assess(answer, used, self.min_relevance)
        if gap:
            trust = type(trust)(0.0, 0.0, 0.0, trust.relevance, [], [])
        citations = [{**c.public(), "cited": c.number in trust.cited} for c in used]
        conversation_id = request.conversation_id or self.conversations.new_id()
        if remember:
            self.conversations.add(conversation_id, Turn(request.question, answer))
        query_id = uuid.uuid4().hex[:12]
        self.query_log.record(
            query_id,
            request.question,
            standalone,
            retrieval.citations,
            timings,
            trust.as_dict(),
            answer,
            knowledge_gap=gap,
        )
        return Event(
            "done",
            {
                "id": query_id,
                "answer": answer,
                "citations": citations,
                "timings": timings,
                "trust": trust.as_dict(),
                "conversation_id": conversation_id,
                "standalone_question": standalone,
            },
        )
