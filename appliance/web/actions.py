"""Actions over HTTP: a question that asks for an action gets a proposal instead of an
answer (from /api/ask and /api/ask/stream); the proposal runs only through
POST /api/actions/confirm, from the same client; POST /api/actions/decline drops it."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from appliance.errors import BadQuestion
from appliance.tools.actions import ProposalError
from appliance.tools.registry import catalogue
from appliance.web.errors import json_body, ready_parts
from appliance.web.identity import caller

actions_api = Blueprint("actions", __name__, url_prefix="/api/actions")


def who() -> dict:
    """Who asked, for the audit log and to tie a proposal to the client (and user) it was
    made to."""
    return {
        "address": request.remote_addr or "",
        "agent": request.user_agent.string[:200],
        "user": caller().name,
    }


def propose(question: object, conversation_id: str | None, tool: object) -> dict | None:
    """The proposal for this question when tools are on and it asks for an action."""
    parts = ready_parts()
    if parts.actions is None:
        if tool is not None:
            raise BadQuestion("no tools are enabled (tools.enabled in the config)")
        return None
    if tool is not None and not isinstance(tool, str):
        raise BadQuestion("tool must be the name of a tool (GET /api/actions lists them)")
    question = parts.assistant.check(question)
    return parts.actions.propose(question, conversation_id, who(), tool)


@actions_api.get("")
def list_tools():
    parts = ready_parts()
    tools = catalogue(parts.actions.tools) if parts.actions else []
    return jsonify(enabled=parts.actions is not None, tools=tools)


@actions_api.post("/confirm")
def confirm():
    body = json_body()
    return jsonify(_actions().confirm(body.get("proposal_id"), who(), body.get("arguments")))


@actions_api.post("/decline")
def decline():
    return jsonify(_actions().decline(json_body().get("proposal_id"), who()))


@actions_api.errorhandler(ProposalError)
def _refused(err: ProposalError):
    return jsonify(error=str(err), code=getattr(err, "code", "action_refused")), err.status


def _actions():
    parts = ready_parts()
    if parts.actions is None:
        raise ProposalError("no tools are enabled (tools.enabled in the config)", 404)
    return parts.actions
