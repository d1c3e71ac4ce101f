"""Propose → confirm → call → report. A proposal is kept (in memory, single use, for
`tools.proposal_ttl_s`) until the same client confirms or declines it, or a newer proposal in
the same conversation supersedes it; only a confirmation
runs the tool, with arguments validated against its schema once more; all three steps are
written to the audit log."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field

from appliance.answer.admission import Admission
from appliance.answer.conversations import Conversations, conversation_key
from appliance.answer.generators import Generator
from appliance.answer.prompt import Turn
from appliance.errors import BadQuestion
from appliance.tools import Tool, ToolResult, choose
from appliance.tools.audit import AuditLog

log = logging.getLogger("appliance.tools")

REPORT = (
    "The user asked for an action, confirmed it, and it has been carried out. Tell the user "
    "in one or two sentences what happened, using only the result below; invent nothing."
)
ROUTE_TOKENS, FILL_TOKENS, REPORT_TOKENS = 24, 256, 96


class ProposalError(Exception):
    """A confirmation that cannot be carried out; `status` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@dataclass
class Proposal:
    id: str
    tool: str
    arguments: dict
    missing: list[str]
    problems: list[str]
    conversation_id: str
    said: list[str]  # the user's messages this proposal was filled from
    who: dict
    created: float = field(default_factory=time.monotonic)

    def public(self, tool: Tool, ttl_s: float) -> dict:
        left = max(0, round(ttl_s - (time.monotonic() - self.created)))
        return {
            "id": self.id,
            "tool": self.tool,
            "description": tool.description,
            "parameters": tool.parameters,
            "arguments": self.arguments,
            "missing": self.missing,
            "problems": self.problems,
            "ready": not self.missing and not self.problems,
            "expires_in_s": left,
        }


class Actions:
    def __init__(
        self,
        tools: dict[str, Tool],
        generator: Generator,
        admission: Admission,
        conversations: Conversations,
        audit: AuditLog,
        ttl_s: float,
    ):
        self.tools = tools
        self.generator = generator
        self.admission = admission
        self.conversations = conversations
        self.audit = audit
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._proposals: dict[str, Proposal] = {}
        self._open: dict[str, str] = {}  # conversation id → its one open proposal

    # -- step 1: propose ------------------------------------------------------------------------
    def propose(
        self, message: str, conversation_id: str | None, who: dict, tool: str | None = None
    ) -> dict | None:
        """A proposed call for this message, or None when it asks for no action (then it is
        answered as a question). `tool` skips the model's choice of tool; a conversation
        with an incomplete proposal has it filled in from the new message."""
        if tool is not None and tool not in self.tools:
            raise BadQuestion(f"there is no tool {tool!r}; tools: {', '.join(self.tools)}")
        conversation_id = conversation_id or self.conversations.new_id()
        earlier = self._incomplete_proposal(conversation_id, who)
        with self.admission.slot():
            if earlier and tool in (None, earlier.tool):
                proposal = self._fill(earlier.tool, [*earlier.said, message], earlier)
                if proposal.arguments != earlier.arguments or tool:
                    return self._offer(proposal, conversation_id, who)
            chosen = tool or self._route(message)
            if chosen == choose.NONE:
                return None
            proposal = self._fill(chosen, [message], None)
        return self._offer(proposal, conversation_id, who)

    def _route(self, message: str) -> str:
        messages = choose.route_messages(self.tools, message)
        reply = self.generator.complete_json(
            messages, choose.route_schema(self.tools), ROUTE_TOKENS
        )
        return choose.parse_route(reply, self.tools)

    def _fill(self, name: str, said: list[str], earlier: Proposal | None) -> Proposal:
        tool = self.tools[name]
        reply = self.generator.complete_json(
            choose.fill_messages(tool, said), choose.fill_schema(tool), FILL_TOKENS
        )
        arguments = {**(earlier.arguments if earlier else {}), **choose.parse_arguments(reply)}
        kept, missing, problems = choose.check_arguments(tool, arguments)
        return Proposal(uuid.uuid4().hex, name, kept, missing, problems, "", said, {})

    def _offer(self, proposal: Proposal, conversation_id: str, who: dict) -> dict:
        proposal.conversation_id, proposal.who = conversation_id, who
        with self._lock:
            self._expire()
            self._proposals.pop(self._open.pop(conversation_id, ""), None)  # superseded
            self._proposals[proposal.id] = proposal
            self._open[conversation_id] = proposal.id
        self.audit.write(
            "proposed",
            proposal_id=proposal.id,
            tool=proposal.tool,
            arguments=proposal.arguments,
            missing=proposal.missing,
            who=who,
            conversation_id=conversation_id,
        )
        tool = self.tools[proposal.tool]
        return {
            "kind": "proposal",
            "answer": _proposal_message(proposal, tool),
            "proposal": proposal.public(tool, self.ttl_s),
            "conversation_id": conversation_id,
        }

    # -- step 2: confirm or decline ---------------------------------------------------------
    def confirm(self, proposal_id: str, who: dict, arguments: dict | None = None) -> dict:
        """Run the proposed call, with `arguments` as the user corrected or completed them
        (they replace the proposed ones); then report what it did."""
        if arguments is not None and not isinstance(arguments, dict):  # the proposal stays
            raise ProposalError("arguments must be a JSON object")
        proposal = self._take(proposal_id, who)
        tool = self.tools[proposal.tool]
        final = proposal.arguments if arguments is None else arguments
        final = {k: v for k, v in final.items() if v not in (None, "")}  # blank form fields
        kept, missing, problems = choose.check_arguments(tool, final)
        if missing or problems or kept != final:
            with self._lock:  # not run: the user may correct it and confirm again
                self._proposals[proposal.id] = proposal
            wrong = problems + [f"{name}: required" for name in missing]
            raise ProposalError(f"the arguments of {tool.name} are not valid: {'; '.join(wrong)}")
        started = time.perf_counter()
        try:
            result = tool.call(dict(final))
        except Exception as err:  # a plugin bug is reported, never a 500 with a traceback
            log.exception("tool %s failed", tool.name)
            result = ToolResult(
                False, "error", None, f"{tool.name} failed: {type(err).__name__}: {err}"
            )
        took_ms = round((time.perf_counter() - started) * 1000, 1)
        self.audit.write(
            "executed",
            proposal_id=proposal.id,
            tool=tool.name,
            arguments=final,
            who=who,
            conversation_id=proposal.conversation_id,
            ok=result.ok,
            status=result.status,
            error=result.message,
            output=result.output,
            took_ms=took_ms,
        )
        answer = self._report(proposal, tool, final, result)
        key = conversation_key(proposal.who.get("user", ""), proposal.conversation_id)
        self.conversations.add(key, Turn(proposal.said[-1], answer))
        return {
            "kind": "result",
            "answer": answer,
            "tool": tool.name,
            "arguments": final,
            "result": {
                "ok": result.ok,
                "status": result.status,
                "output": result.output,
                "error": result.message,
                "took_ms": took_ms,
            },
            "conversation_id": proposal.conversation_id,
        }

    def decline(self, proposal_id: str, who: dict) -> dict:
        proposal = self._take(proposal_id, who)
        self.audit.write(
            "declined",
            proposal_id=proposal.id,
            tool=proposal.tool,
            arguments=proposal.arguments,
            who=who,
            conversation_id=proposal.conversation_id,
        )
        return {"kind": "declined", "answer": f"Cancelled: {proposal.tool} was not run."}

    def _take(self, proposal_id: object, who: dict) -> Proposal:
        """The proposal, removed (single use), if it exists, is fresh and is this client's."""
        if not isinstance(proposal_id, str):
            raise ProposalError("proposal_id must be the id of a proposed call")
        with self._lock:
            self._expire()
            proposal = self._proposals.get(proposal_id)
            if proposal is None:
                raise ProposalError(
                    "no such proposal: it was already confirmed or declined, or it expired "
                    f"(tools.proposal_ttl_s: {self.ttl_s:g} s); ask again",
                    404,
                )
            if proposal.who != who:
                raise ProposalError("this call was proposed to another client", 403)
            del self._proposals[proposal_id]
            if self._open.get(proposal.conversation_id) == proposal_id:
                del self._open[proposal.conversation_id]
            return proposal

    def _incomplete_proposal(self, conversation_id: str, who: dict) -> Proposal | None:
        with self._lock:
            self._expire()
            proposal = self._proposals.get(self._open.get(conversation_id, ""))
            if proposal and proposal.who == who and (proposal.missing or proposal.problems):
                return proposal
            return None

    def _expire(self) -> None:
        now = time.monotonic()
        for pid in [p.id for p in self._proposals.values() if now - p.created > self.ttl_s]:
            proposal = self._proposals.pop(pid)
            if self._open.get(proposal.conversation_id) == pid:
                del self._open[proposal.conversation_id]

    # -- step 3: report ---------------------------------------------------------------------
    def _report(self, proposal: Proposal, tool: Tool, arguments: dict, result: ToolResult) -> str:
        """The model says what happened, from the result; a failure is said plainly."""
        if not result.ok:
            return f"{tool.name} failed: {result.message or result.status}."
        output = json.dumps(result.output, ensure_ascii=False)[:1500]
        facts = (
            f"Request: {proposal.said[-1]}\nAction: {tool.name} "
            f"{json.dumps(arguments, ensure_ascii=False)}\n"
            f"Result: succeeded (status {result.status})\nOutput: {output}"
        )
        messages = [
            {"role": "system", "content": REPORT},
            {"role": "user", "content": facts},
        ]
        fallback = f"{tool.name} succeeded (status {result.status})."
        try:
            with self.admission.slot():
                text = "".join(self.generator.stream(messages, REPORT_TOKENS)).strip()
        except Exception:  # the call itself is done: a busy generator must not hide that
            log.exception("no report of the %s call could be generated", tool.name)
            return fallback
        return text or fallback


def _proposal_message(proposal: Proposal, tool: Tool) -> str:
    properties = tool.parameters.get("properties", {})

    def described(name: str) -> str:
        hint = properties.get(name, {}).get("description")
        return f"{name} ({hint})" if hint else name

    if proposal.missing or proposal.problems:
        lines = [f"To run {tool.name} ({tool.description}) I still need:"]
        lines += [f"- {described(name)}" for name in proposal.missing]
        lines += [f"- {problem}" for problem in proposal.problems]
        lines.append("Tell me, or fill them in and confirm.")
        return "\n".join(lines)
    shown = ", ".join(f"{k}: {v}" for k, v in proposal.arguments.items()) or "no arguments"
    return f"I can run {tool.name} ({tool.description}) with {shown}. Confirm to run it."
