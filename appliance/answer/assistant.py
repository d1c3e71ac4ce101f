"""The question pipeline: (rewrite a follow-up) → retrieve → answerable? → answer → citations,
trust, log.

The answer comes in one of three modes (answers.mode):
- extractive: the retrieved sentences that answer the question, quoted (answer/extractive.py);
  no model, milliseconds, always grounded;
- generate: the model writes it (prompt → admission → generate, streamed), stopped early if
  it starts to loop;
- auto (the default): the model writes it, and when the cited passages do not back what it
  wrote, the extractive answer replaces it, saying why.
A question the documents do not answer (answer/answerable.py) is refused in every mode,
with the closest passages shown as related, not as an answer.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import re
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from appliance.answer.admission import Admission
from appliance.answer.answerable import Evidence, Gate
from appliance.answer.conversations import Conversations, conversation_key
from appliance.answer.extractive import Extract, extract
from appliance.answer.generators import Generator, GeneratorError
from appliance.answer.outdated import says_outdated
from appliance.answer.prompt import Turn, build_prompt, rewrite_messages
from appliance.answer.repetition import Guard
from appliance.answer.retrieve import Citation, Retrieval, Retriever
from appliance.answer.trust import (
    NO_CITATION,
    QUOTED,
    assess,
    citation_problem,
    unsupported_reason,
)
from appliance.answer.wording import language_of, phrase
from appliance.config import Floors
from appliance.errors import BadQuestion, Busy, ClientGone
from appliance.index.identifiers import iso_dates, numbered_identifiers, versions
from appliance.index.store import SearchFilter
from appliance.observe import Metrics, QueryHistory, QueryRecord

# Why a question was refused (the `refusal` of its answer; None when it was answered).
NOT_IN_DOCUMENTS, NOTHING_SEARCHABLE = "not_in_documents", "nothing_indexed"
NOTHING_MATCHES = "nothing_matches"  # the question's folder or file types hold no document
EXTRACTIVE, GENERATED, REFUSED = "extractive", "generated", "none"
_LABEL = re.compile(r"^\s*(standalone question|rewritten question|question)\s*:\s*", re.I)
QUEUE_POLL_S = 1.0
REWRITE_TOKENS = 64
UNCITED_TOKENS = 60  # auto mode: a draft this long that cites nothing is given up on
MODEL_WINDOW = 20  # auto mode: the model's last answers looked at
MIN_KEPT = 0.1  # below this share of them kept, the model is asked only now and then
PROBE_EVERY = 10
SNIPPET_CHARS = 160
log = logging.getLogger("appliance.answer")


def strays(rewritten: str, question: str, said: str, terms: Callable[[str], set[int]]) -> bool:
    """Whether a follow-up's rewrite strays from the conversation: it adds search terms the
    conversation never used (a small model rewriting "And part-time staff?" may add a place
    or a product of its own), or it leaves out some of the follow-up's own (it restated the
    last answer, or "The answer is:"). `said`: the follow-up and the turns before it;
    `terms`: as the search cuts a text (Embedder.terms)."""
    found = terms(rewritten)
    return bool(found - terms(said)) or not terms(question) <= found


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
    user: str = ""  # who asks (users.py); "" without users, or for the access token


class Assistant:
    def __init__(
        self,
        retriever: Retriever,
        generator: Generator,
        admission: Admission,
        conversations: Conversations,
        history: QueryHistory,
        metrics: Metrics,
        k: int,
        floors: Floors,
        max_question_chars: int,
        max_question_tokens: int,
        mode: str = "auto",
        gate: Gate | None = None,
        min_support: float = 0.75,
        passage_words: int = 0,
    ):
        self.retriever = retriever
        self.generator = generator
        self.admission = admission
        self.conversations = conversations
        self.history = history
        self.metrics = metrics
        self.k = k
        self.floors = floors
        self.mode = mode
        self.gate = gate
        self.min_support = min_support
        self.passage_words = passage_words
        # Of the model's last answers in auto mode, which were kept (True) or replaced.
        self.model_record: deque[bool] = deque(
            history.model_record(generator.name, MODEL_WINDOW) if history else (),
            maxlen=MODEL_WINDOW,
        )
        self._skipped = 0
        self.max_question_chars = max_question_chars
        # A question may take at most half the prompt: the passages need the rest.
        self.max_question_tokens = min(max_question_tokens, generator.prompt_budget // 2)

    def check(self, question: object) -> str:
        if not isinstance(question, str):
            raise BadQuestion("the question must be text (a JSON string)", "question_empty")
        if not question.strip():
            raise BadQuestion("the question is empty", "question_empty")
        if len(question) > self.max_question_chars:
            raise BadQuestion(
                f"the question is {len(question)} characters long; the limit is "
                f"{self.max_question_chars} (limits.max_question_chars)",
                "question_too_long",
            )
        tokens = self.generator.count_tokens(question)
        if tokens > self.max_question_tokens:
            raise BadQuestion(
                f"the question is {tokens} tokens long for the model; the limit is "
                f"{self.max_question_tokens} (limits.max_question_tokens): shorten it",
                "question_too_long",
            )
        return question.strip()

    def search(self, question: str, k: int | None = None, where: SearchFilter | None = None):
        """Retrieval only: never waits for the generator."""
        result = self.retriever.retrieve(self.check(question), k or self.k, where)
        return result.citations, result.timings

    def ask(
        self,
        question: str,
        k=None,
        where=None,
        conversation_id=None,
        history=None,
        user="",
        gone: Callable[[], bool] | None = None,
    ) -> dict:
        """The whole answer at once (the "done" event of `stream`). `gone()`: whether the
        client went away (it waits for no stream to fail): then the answer stops, its slot
        or place in line is freed, it is recorded abandoned, and ClientGone is raised."""
        answer = {}
        events = self.stream(question, k, where, conversation_id, history, user)
        for event in events:
            if event.kind == "done":
                answer = event.data
            elif gone is not None and gone():
                events.close()
                raise ClientGone("the client went away before the answer was done")
        return answer

    def stream(
        self,
        question: str,
        k: int | None = None,
        where: SearchFilter | None = None,
        conversation_id: str | None = None,
        history: list[Turn] | None = None,
        user: str = "",
    ) -> Iterator[Event]:
        """Events of one answer. BadQuestion, and Busy when the queue is full, are raised
        before the first event; Busy after a wait in line longer than the queue timeout.
        The earlier turns come from `history` if given, else from the conversation id.
        Every outcome is recorded: answered, no_knowledge, rejected, abandoned, error."""
        request = Request(self.check(question), k or self.k, where, conversation_id, user)
        trace = Trace(request)
        try:
            yield from self._answer(request, history, trace)
        except Busy as err:
            self._record(trace, "rejected", error=str(err))
            raise
        except GeneratorExit:  # the client went away: generation stops, the slot frees
            if not trace.outcome:  # not when it went away after the answer was recorded
                self._record(trace, "abandoned")
            raise
        except Exception as err:
            self._record(trace, "error", error=f"{type(err).__name__}: {err}")
            raise

    def _answer(self, request: Request, history: list[Turn] | None, trace: Trace):
        remember = history is None
        if history is None:
            history = self.conversations.history(
                conversation_key(request.user, request.conversation_id)
            )
        generating = self.mode != EXTRACTIVE
        ticket = None
        try:
            # The model rewrites a follow-up (waiting in line first), unless auto mode has
            # stopped asking it: its answers were not backed, its rewrites fare no better.
            rewriting = generating and not self._benched()
            if history and rewriting:
                ticket = yield from self._admitted(trace)
            if history:
                trace.standalone = self._standalone(request.question, history, rewriting)
            query = trace.standalone or request.question
            query = " ".join([query, *iso_dates(query)])  # as a table writes its dates
            trace.retrieval = self.retriever.retrieve(query, request.k, request.where)
            trace.languages = list(self.retriever.embedder.question_languages(query))
            # said in the user's script (a rewrite in English of "住宿费呢？" is still answered
            # in Chinese), in the language the whole query reads as
            read = self.retriever.embedder.language_of(query)
            trace.wording = language_of(request.question, read)
            found = self._judge(query, trace)
            if found is None:
                yield self._finish(trace, "", remember, REFUSED)
                return
            skip = self._not_worth_asking() if found.text else ""
            if not generating or skip:
                trace.replaced_because = skip
                trace.sent = trace.retrieval.citations
                yield Event("citations", [c.public() for c in trace.sent])
                yield self._finish(trace, found.text, remember, EXTRACTIVE)
                return
            if ticket is None:  # after retrieval: a question refused never waits in line
                ticket = yield from self._admitted(trace)
            try:
                text = yield from self._generate(request, history, trace, found)
            except GeneratorError as err:  # a remote model down, or failing: quote instead
                if not found.text:
                    raise
                log.warning("the model failed; quotes given instead: %s", err)
                trace.replaced_because = f"the model could not answer ({err})"
                trace.sent = trace.retrieval.citations
                yield self._finish(trace, found.text, remember, EXTRACTIVE)
                return
        finally:
            if ticket is not None:
                ticket.leave()
        if self.mode == "auto":
            reason = trace.replaced_because or unsupported_reason(
                text, trace.sent, self.min_support
            )
            self.model_record.append(not reason)
            if reason and found.text:
                trace.replaced_because = reason
                trace.sent = trace.retrieval.citations
                yield self._finish(trace, found.text, remember, EXTRACTIVE)
                return
        yield self._finish(trace, text, remember, GENERATED if text else REFUSED)

    def _admitted(self, trace: Trace):
        """Wait for an answer slot (position reports while waiting); returns the ticket."""
        entered = time.perf_counter()
        ticket = self.admission.enter()
        try:
            yield from self._wait_in_line(ticket)
        except BaseException:
            ticket.leave()
            raise
        trace.timings["queue_ms"] = round((time.perf_counter() - entered) * 1000, 1)
        return ticket

    def _following(self, citations: list[Citation]) -> dict[int, str]:
        """The chunk after each passage, on the same page: where a list, a table or what a
        sentence announces goes on past the passage's end."""
        by_source: dict[str, list[Citation]] = {}
        for c in citations:
            by_source.setdefault(c.source, []).append(c)
        found = {}
        for source, cited in by_source.items():  # one read a file
            after = {
                h.chunk: h
                for h in self.retriever.index.passages(source, [c.chunk + 1 for c in cited])
            }
            for c in cited:
                h = after.get(c.chunk + 1)
                if h is not None and h.page == c.page:
                    found[c.number] = h.text
        return found

    def _judge(self, query: str, trace: Trace) -> Extract | None:
        """The extractive answer when the passages answer the question; None when not."""
        citations = trace.retrieval.citations
        if not citations:
            return None
        started = time.perf_counter()
        embedder = self.retriever.embedder
        language = trace.languages[:1]  # the question's own: quotes are chosen by its terms
        searched = trace.retrieval.searched  # what the gate judges
        outdated = self._outdated(citations)
        found = extract(
            query,
            citations,
            lambda text: embedder.terms(text, language),
            self._following(citations),
            lambda texts: embedder.multilingual_similarity(query, texts),
            trace.wording,
            len(searched),
            outdated,
        )
        best = max(c.relevance for c in searched)
        trace.unknown_names = self.retriever.unknown_names(query, trace.request.where)
        trace.unmatched_versions = [
            v for v in versions(query) if not any(c.names_version(v) for c in citations)
        ]
        numbered = numbered_identifiers(query)
        trace.evidence = Evidence(
            best,
            found.coverage,
            found.passage_coverage,
            float(bool(trace.unknown_names)),
            float(bool(trace.unmatched_versions)),
            float(citations[0].number in found.holding),
            float(trace.retrieval.multilingual),
            float(bool(numbered) and all(i.isdigit() for i in numbered)),
        )
        trace.timings["extract_ms"] = round((time.perf_counter() - started) * 1000, 2)
        if not trace.evidence.close_enough(self.floors):
            return None  # nothing even close
        if self.gate is not None:
            trace.answerable = round(self.gate.probability(trace.evidence), 4)
            if not self.gate.answerable(trace.evidence):
                return None
        return found if found.text or self.mode != EXTRACTIVE else None

    def _outdated(self, citations: list[Citation]) -> frozenset[int]:
        """The passages whose document says, at its start, that it no longer applies."""
        says = {}
        for source in dict.fromkeys(c.source for c in citations):
            first = self.retriever.index.passages(source, [0])
            says[source] = bool(first) and says_outdated(first[0].heading, first[0].text)
        return frozenset(c.number for c in citations if says[c.source])

    @staticmethod
    def _for_the_model(retrieval: Retrieval, found: Extract) -> list[Citation]:
        """The passages the model reads: the search's own, and those of the further passages
        of a named file that the quotes use (each passage costs prompt time on a CPU)."""
        searched = retrieval.searched
        quoted = {q.number for q in found.quotes}
        return searched + [c for c in retrieval.citations[len(searched) :] if c.number in quoted]

    def _generate(self, request: Request, history: list[Turn], trace: Trace, found: Extract):
        """The model's answer, streamed as "token" events; returns its text. It stops where
        it starts to loop (the loop cut off), or at generator.max_tokens."""
        prompt = build_prompt(
            request.question,
            found.focused(self._for_the_model(trace.retrieval, found), self.passage_words),
            history,
            self.generator.prompt_budget,
            self.generator.count_tokens,
        )
        trace.sent, trace.tokens_in = prompt.used, prompt.tokens
        if prompt.dropped:
            log.info(
                "passages dropped to fit the context",
                extra={
                    "event": "prompt_trimmed",
                    "request_id": trace.request_id,
                    "dropped": [c.number for c in prompt.dropped],
                    "prompt_tokens": prompt.tokens,
                },
            )
        yield Event("citations", [c.public() for c in prompt.used])
        started = time.perf_counter()
        first_token = None
        guard = Guard(self.generator.max_tokens)
        doomed = functools.partial(self._doomed, trace=trace)
        watched = guard.watch(self.generator.stream(prompt.messages), doomed)
        try:
            for piece in watched:
                first_token = first_token or time.perf_counter()
                yield Event("token", piece)
        finally:
            watched.close()  # a client that went away stops the model here
        trace.tokens_out, trace.stopped = guard.tokens, guard.stopped
        if guard.reason:  # auto mode: the quotes will replace it; no time was spent finishing it
            trace.replaced_because = guard.reason
        done = time.perf_counter()
        trace.timings.update(
            first_token_ms=round(((first_token or done) - started) * 1000, 1),
            generate_ms=round((done - started) * 1000, 1),
        )
        return guard.text.strip()

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

    def _doomed(self, draft: str, tokens: int, trace: Trace) -> str:
        """In auto mode, why an answer still being written will be replaced anyway: it cites
        a source it was not given, or it has gone on for a while without citing any."""
        if self.mode != "auto":
            return ""
        problem = citation_problem(draft, {c.number for c in trace.sent})
        if problem == NO_CITATION and tokens < UNCITED_TOKENS:
            return ""  # it may cite yet
        return problem

    def _benched(self) -> bool:
        """In auto mode, whether the model's last answers were all, or nearly all, replaced."""
        kept = self.model_record
        return self.mode == "auto" and len(kept) == kept.maxlen and sum(kept) < MIN_KEPT * len(kept)

    def _not_worth_asking(self) -> str:
        """In auto mode, why the model is not asked this time: its last answers were all, or
        nearly all, replaced by quotes (a model too small to cite: the quotes are given at
        once, without the wait). Every PROBE_EVERY-th such question still asks it, so that
        a model that does well again is noticed."""
        kept = self.model_record
        if not self._benched():
            return ""
        self._skipped += 1
        if self._skipped % PROBE_EVERY == 0:
            return ""
        return (
            f"the model's last {len(kept)} answers were not backed by the documents "
            f"({sum(kept)} kept), so it was not asked"
        )

    def _standalone(self, question: str, history: list[Turn], use_model: bool) -> str:
        """A follow-up rewritten into a question that retrieval can use on its own: by the
        model, or (extractive mode: no model) joined to the previous question."""
        joined = f"{history[-1].subject()} {question}"
        if not use_model:
            return joined
        messages = rewrite_messages(
            question, history, self.generator.prompt_budget, self.generator.count_tokens
        )
        try:
            output = "".join(self.generator.stream(messages, REWRITE_TOKENS))
        except GeneratorError as err:
            log.warning("the model could not rewrite a follow-up: %s", err)
            return joined
        first_line = next((line for line in output.splitlines() if line.strip()), "")
        rewritten = _LABEL.sub("", first_line).strip(' "“”「」')
        embedder = self.retriever.embedder
        said = " ".join([question, *(f"{t.question} {t.answer}" for t in history)])
        languages = embedder.question_languages(question)
        if (
            not rewritten
            or len(rewritten) > 3 * len(question) + 120
            or any(marker in rewritten for marker in ("User:", "Assistant:"))
            or strays(rewritten, question, said, lambda text: embedder.terms(text, languages))
        ):
            rewritten = joined  # the model did not help
        return rewritten

    def _filter_matches_nothing(self, where: SearchFilter | None) -> bool:
        """The question asked for a folder or file types (a typo, a folder not indexed yet)
        where no indexed document is."""
        asked = where is not None and (where.folder or where.types)
        return bool(asked) and self.retriever.index.count(where=where) == 0

    def _finish(self, trace: Trace, answer: str, remember: bool, mode: str) -> Event:
        request = trace.request
        trace.mode = mode
        gap = mode == REFUSED
        multilingual = bool(trace.retrieval and trace.retrieval.multilingual)
        trust = assess(answer, trace.sent, self.floors.of(multilingual))
        if gap:
            searchable = bool(trace.retrieval and trace.retrieval.citations)
            where = request.where.access() if request.where else None
            if not searchable and self.retriever.index.count(where=where) == 0:
                trace.refusal = NOTHING_SEARCHABLE
                answer = phrase("nothing_indexed", trace.wording)
            elif not searchable and self._filter_matches_nothing(request.where):
                trace.refusal = NOTHING_MATCHES
                answer = phrase("nothing_matches", trace.wording)
            else:
                trace.refusal = NOT_IN_DOCUMENTS
                answer = phrase("not_found", trace.wording)
            trust = type(trust)(0.0, 0.0, 0.0, trust.relevance, [], [])
        elif mode == EXTRACTIVE:  # verbatim: that the passages back it says nothing
            trust = dataclasses.replace(trust, level=QUOTED)
        citations = [{**c.public(), "cited": c.number in trust.cited} for c in trace.sent]
        related = (
            [c.public() for c in trace.retrieval.citations[:3]] if gap and trace.retrieval else []
        )
        conversation_id = request.conversation_id or self.conversations.new_id()
        if remember:
            key = conversation_key(request.user, conversation_id)
            searched = trace.standalone or request.question
            self.conversations.add(key, Turn(request.question, answer, searched))
        trace.conversation_id = conversation_id
        record = self._record(trace, "no_knowledge" if gap else "answered", answer, trust)
        return Event(
            "done",
            {
                "id": trace.request_id,
                "answer": answer,
                "mode": mode,
                "refusal": trace.refusal,
                "replaced_because": trace.replaced_because,
                "stopped": trace.stopped,
                "citations": citations,
                "related": related,
                "timings": record.timings,
                "trust": trust.as_dict(),
                "answerable": trace.answerable,
                "evidence": trace.evidence.as_dict() if trace.evidence else None,
                "unknown_names": trace.unknown_names,
                "unmatched_versions": trace.unmatched_versions,
                "conversation_id": conversation_id,
                "standalone_question": trace.standalone or request.question,
            },
        )

    def _record(self, trace: Trace, outcome: str, answer: str = "", trust=None, error=""):
        """The question's record: the log line, the history row, the metrics."""
        trace.outcome = outcome
        timings = {**(trace.retrieval.timings if trace.retrieval else {}), **trace.timings}
        timings["total_ms"] = round((time.perf_counter() - trace.started) * 1000, 1)
        sent = {c.number for c in trace.sent}
        cited = set(trust.cited) if trust else set()
        retrieved = trace.retrieval.citations if trace.retrieval else []
        record = QueryRecord(
            ts=round(time.time(), 3),
            request_id=trace.request_id,
            conversation_id=trace.conversation_id or trace.request.conversation_id,
            user=trace.request.user,
            query=trace.request.question,
            rewritten_query=trace.standalone,
            outcome=outcome,
            mode=trace.mode,
            refusal=trace.refusal,
            replaced_because=trace.replaced_because,
            stopped=trace.stopped,
            evidence=trace.evidence.as_dict() if trace.evidence else None,
            unknown_names=trace.unknown_names,
            unmatched_versions=trace.unmatched_versions,
            languages=trace.languages,
            across_languages=bool(trace.retrieval and trace.retrieval.across_languages),
            more_of_named=trace.retrieval.more_of_named if trace.retrieval else 0,
            answerable=trace.answerable,
            model=self.generator.name,
            retrieved=[
                {
                    "id": f"{c.source}#{c.chunk}",
                    "source": c.source,
                    "page": c.page,
                    "score": c.score,
                    "relevance": c.relevance,
                    "sent": c.number in sent,
                    "cited": c.number in cited,
                    "text": c.text[:SNIPPET_CHARS],
                }
                for c in retrieved
            ],
            timings=timings,
            tokens_in=trace.tokens_in,
            tokens_out=trace.tokens_out,
            trust=trust.as_dict() if trust else None,
            answer=answer,
            error=error,
        )
        self.history.record(record)
        self.metrics.observe_query(record)
        return record


class Trace:
    """What is known about one question so far, whatever its outcome turns out to be."""

    def __init__(self, request: Request):
        self.request = request
        self.request_id = uuid.uuid4().hex[:12]
        self.started = time.perf_counter()
        self.retrieval: Retrieval | None = None
        self.standalone = ""
        self.sent: list = []
        self.tokens_in = 0
        self.tokens_out = 0
        self.timings: dict[str, float] = {}
        self.conversation_id: str | None = None
        self.mode = ""  # EXTRACTIVE, GENERATED or REFUSED, once known
        self.evidence: Evidence | None = None
        self.unknown_names: list[str] = []  # names in the question no passage holds
        self.languages: list[str] = []  # how BM25 read the question: its language, English
        self.wording = "en"  # the language of the appliance's own sentences (answer/wording.py)
        self.unmatched_versions: list[str] = []  # versions it names the passages do not
        self.answerable: float | None = None  # the gate's probability
        self.replaced_because = ""  # why a generated answer was replaced by quotes
        self.stopped = ""  # how generation ended: end, repetition, max_tokens
        self.refusal: str | None = None  # NOT_IN_DOCUMENTS, NOTHING_SEARCHABLE or
        # NOTHING_MATCHES, if refused
        self.outcome = ""  # once recorded: answered, no_knowledge, rejected, abandoned, error
