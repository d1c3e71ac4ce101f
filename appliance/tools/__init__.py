"""Actions: tools a conversation may call, such as "report the printer on floor 3 as broken".

The model proposes a call (which tool, which arguments, validated against the tool's JSON
schema); nothing runs until the user confirms it; every call is audited. A tool is an
internal HTTP API declared in the config (tools/http.py) or a Python plugin registered under
the entry point group `appliance.tools` (tools/registry.py); both have this interface.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class ToolResult:
    """What a call did. `output` is JSON data shown to the user; `message` says what went
    wrong when `ok` is false (a timeout, a refused connection, an HTTP error)."""

    ok: bool
    status: str
    output: Any = None
    message: str = ""


class Tool(Protocol):
    name: str  # lower_snake_case
    description: str  # what it does, for the model and the user
    parameters: dict  # JSON schema of the arguments (type: object)

    def call(self, arguments: dict) -> ToolResult: ...
