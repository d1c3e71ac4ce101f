"""The tools this appliance offers: those declared under `tools.http`, plus Python plugins.

A plugin is a distribution whose entry point in the group `appliance.tools` names a Tool
object, or a callable returning one Tool or a list of them:

    [project.entry-points."appliance.tools"]
    room_booking = "acme_rooms:tools"
"""

from __future__ import annotations

import logging
from importlib.metadata import entry_points

import jsonschema

from appliance.config import TOOL_NAME, ToolsSettings
from appliance.errors import ConfigError
from appliance.tools import Tool
from appliance.tools.http import HttpTool

ENTRY_POINT_GROUP = "appliance.tools"
log = logging.getLogger("appliance.tools")


def load_tools(settings: ToolsSettings) -> dict[str, Tool]:
    """Every tool by name; ConfigError names a plugin or tool that cannot be used."""
    tools: list[tuple[str, Tool]] = [(f"tools.http[{t.name}]", HttpTool(t)) for t in settings.http]
    if settings.plugins:
        for point in entry_points(group=ENTRY_POINT_GROUP):
            origin = f"plugin {point.name} ({point.value})"
            tools += [(origin, tool) for tool in _plugin_tools(point, origin)]
    found: dict[str, Tool] = {}
    for origin, tool in tools:
        check_tool(tool, origin)
        if tool.name in found:
            raise ConfigError(f"{origin}: a tool named {tool.name!r} is already defined")
        found[tool.name] = tool
    log.info("tools loaded", extra={"event": "tools_loaded", "tools": sorted(found)})
    return found


def catalogue(tools: dict[str, Tool]) -> list[dict]:
    """The tools as the API and `appliance tools list --json` show them."""
    return [
        {"name": t.name, "description": t.description, "parameters": t.parameters}
        for t in tools.values()
    ]


def _plugin_tools(point, origin: str) -> list[Tool]:
    try:
        loaded = point.load()
        made = loaded() if callable(loaded) and not hasattr(loaded, "call") else loaded
    except Exception as err:
        raise ConfigError(f"{origin} could not be loaded: {type(err).__name__}: {err}") from None
    return list(made) if isinstance(made, list | tuple) else [made]


def check_tool(tool: object, origin: str) -> None:
    """A tool has a lower_snake_case name, a description, a JSON schema of type object for
    its parameters and a call(arguments) method."""
    name = getattr(tool, "name", None)
    if not isinstance(name, str) or not TOOL_NAME.fullmatch(name):
        raise ConfigError(f"{origin}: the tool name must be lower_snake_case, got {name!r}")
    if not isinstance(getattr(tool, "description", None), str) or not tool.description.strip():
        raise ConfigError(f"{origin}: tool {name} needs a description (the model chooses by it)")
    if not callable(getattr(tool, "call", None)):
        raise ConfigError(f"{origin}: tool {name} has no call(arguments) method")
    parameters = getattr(tool, "parameters", None)
    if not isinstance(parameters, dict) or parameters.get("type") != "object":
        raise ConfigError(
            f"{origin}: the parameters of {name} must be a JSON schema of type object"
        )
    try:
        jsonschema.Draft202012Validator.check_schema(parameters)
    except jsonschema.SchemaError as err:
        raise ConfigError(
            f"{origin}: the parameters of {name} are not a valid JSON schema: {err.message}"
        ) from None
