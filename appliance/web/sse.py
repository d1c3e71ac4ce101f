"""Server-Sent Events, for the page's streamed answers (/api/ask/stream) and the OpenAI
API's (`"stream": true`). The first event is taken before the response starts, so a bad
question or a full queue is still a JSON error with its HTTP status. Closing the stream
(waitress does, when the client goes away) closes the answer's events, which stops the
generation and frees its slot."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator

from flask import Response, stream_with_context


def frame(data: object, kind: str | None = None) -> str:
    """One event: `data` as JSON, under an event name when given."""
    head = f"event: {kind}\n" if kind else ""
    return f"{head}data: {json.dumps(data, ensure_ascii=False)}\n\n"


def stream(events: Iterator, render: Callable[[Iterator], Iterator[str]]) -> Response:
    """The response that sends `events`, each written by `render` as frames."""
    first = next(events)  # raises BadQuestion/Busy here, while a JSON error can still be sent

    def body() -> Iterator[str]:
        try:
            yield from render(itertools.chain([first], events))
        finally:
            events.close()

    return Response(
        stream_with_context(body()),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
