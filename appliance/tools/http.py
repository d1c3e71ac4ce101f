"""A tool that is an internal HTTP API (declared under `tools.http` in the config)."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request

from appliance.config import HttpToolSettings
from appliance.tools import ToolResult

MAX_RESPONSE_BYTES = 1 << 20


class HttpTool:
    def __init__(self, spec: HttpToolSettings):
        self.spec = spec
        self.name = spec.name
        self.description = spec.description
        self.parameters = spec.parameters

    def call(self, arguments: dict) -> ToolResult:
        """GET sends the arguments as the query string; other methods as a JSON body."""
        spec = self.spec
        url, data = spec.url, None
        headers = {"Accept": "application/json", **spec.headers}
        if spec.method == "GET":
            url += ("&" if "?" in url else "?") + urllib.parse.urlencode(arguments)
        else:
            data = json.dumps(arguments).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data=data, headers=headers, method=spec.method)
        where = f"{spec.method} {_without_query(spec.url)}"
        try:
            with urllib.request.urlopen(request, timeout=spec.timeout_s) as response:
                return ToolResult(True, str(response.status), _body(response.read()))
        except urllib.error.HTTPError as err:
            output = _body(err.read())
            return ToolResult(
                False, str(err.code), output, f"{where} answered {err.code} {err.reason}"
            )
        except OSError as err:  # URLError (refused, no route), a timeout, a reset connection
            reason = err.reason if isinstance(err, urllib.error.URLError) else err
            if isinstance(reason, TimeoutError):
                message = f"{where} did not answer within {spec.timeout_s:g} s (timeout_s)"
                if spec.method != "GET":  # a booking, a ticket: doing it twice is worse
                    message += (
                        ": the request was sent and may have been carried out; check before "
                        "trying again"
                    )
                return ToolResult(False, "timeout", None, message)
            verb = "could not be reached" if isinstance(err, urllib.error.URLError) else "failed"
            return ToolResult(False, "unreachable", None, f"{where} {verb}: {reason}")


def _body(raw: bytes) -> object:
    raw = raw[:MAX_RESPONSE_BYTES]
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", errors="replace")


def _without_query(url: str) -> str:
    """The URL as logged and shown: no query string (it may hold a secret)."""
    return url.split("?", 1)[0]
