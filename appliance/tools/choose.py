"""The model's two small decisions, each a reply constrained to JSON by a grammar:
which tool the user's message asks for ("none" for a question), and that tool's arguments.

Only what the user typed goes into these prompts: never retrieved passages, so a document
cannot choose a tool or fill its arguments.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence

import jsonschema

from appliance.tools import Tool

NONE = "none"
log = logging.getLogger("appliance.tools")

ROUTE = (
    'Is the user\'s message a question (answer: "none"), or a request to carry out an '
    "action? Actions:\n{catalogue}\n"
    "- none: a question, a request for information, or anything else\n"
    "Most messages are questions: choose none unless the user clearly asks for one of the "
    "actions."
)
FILL = (
    "Fill in the arguments of the action {name}: {description}\n"
    "Arguments, as a JSON schema:\n{parameters}\n"
    "Take the values only from what the user wrote. Leave out every argument the user did "
    "not give; never invent one. Reply with the arguments as one JSON object."
)


def route_messages(tools: Mapping[str, Tool], message: str) -> list[dict]:
    catalogue = "\n".join(f"- {t.name}: {t.description}" for t in tools.values())
    return [
        {"role": "system", "content": ROUTE.format(catalogue=catalogue)},
        {"role": "user", "content": message},
    ]


def route_schema(tools: Mapping[str, Tool]) -> dict:
    return {
        "type": "object",
        "properties": {"tool": {"type": "string", "enum": [NONE, *tools]}},
        "required": ["tool"],
        "additionalProperties": False,
    }


def parse_route(reply: str, tools: Mapping[str, Tool]) -> str:
    choice = _json_object(reply).get("tool")
    return choice if choice in tools else NONE


def fill_messages(tool: Tool, said: Sequence[str]) -> list[dict]:
    parameters = json.dumps(tool.parameters.get("properties", {}), ensure_ascii=False)
    system = FILL.format(name=tool.name, description=tool.description, parameters=parameters)
    return [
        {"role": "system", "content": system},
        {"role": "user", "content": "\n".join(said)},
    ]


def fill_schema(tool: Tool) -> dict:
    """The tool's schema with nothing required: the model leaves out what it was not told
    (it would otherwise be forced to invent it), and the user is asked for it instead."""
    schema = {k: v for k, v in tool.parameters.items() if k != "required"}
    schema.setdefault("additionalProperties", False)
    return schema


def parse_arguments(reply: str) -> dict:
    return {k: v for k, v in _json_object(reply).items() if v not in (None, "", [], {})}


def check_arguments(tool: Tool, arguments: dict) -> tuple[dict, list[str], list[str]]:
    """(the arguments that are valid, required ones still missing, what was wrong with the
    others). An invalid value is dropped, so that it is asked for again."""
    kept = {k: v for k, v in arguments.items() if v not in (None, "")}
    properties = tool.parameters.get("properties", {})
    problems = []
    for key in [k for k in kept if properties and k not in properties]:
        problems.append(f"{key}: not an argument of {tool.name}")
        del kept[key]
    for error in jsonschema.Draft202012Validator(tool.parameters).iter_errors(kept):
        if error.validator == "required":
            continue
        field = str(error.absolute_path[0]) if error.absolute_path else ""
        problems.append(f"{field}: {error.message}" if field else error.message)
        kept.pop(field, None)
    missing = [name for name in tool.parameters.get("required", []) if name not in kept]
    return kept, missing, problems


def _json_object(reply: str) -> dict:
    try:
        value = json.loads(reply)
    except ValueError:
        log.warning("the model's reply is not JSON: %.200s", reply)
        return {}
    return value if isinstance(value, dict) else {}
