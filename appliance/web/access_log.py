"""One JSON log line per HTTP request ("event": "access"): method, path, status, duration,
client. Query strings are left out: a search's `q=` is a question, which belongs in the query
log under observe.log_text's privacy setting, not here."""

from __future__ import annotations

import logging
import time

log = logging.getLogger("appliance.access")


class AccessLog:
    """WSGI middleware; a streamed response is logged when it ends, with its whole duration."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        status = [0]

        def start(code, headers, exc_info=None):
            status[0] = int(code.split(" ", 1)[0])
            return start_response(code, headers, exc_info)

        def done() -> None:
            log.info(
                "%s %s %s",
                environ.get("REQUEST_METHOD"),
                environ.get("PATH_INFO"),
                status[0],
                extra={
                    "event": "access",
                    "method": environ.get("REQUEST_METHOD"),
                    "path": environ.get("PATH_INFO"),
                    "status": status[0],
                    "ms": round((time.perf_counter() - started) * 1000, 1),
                    "client": environ.get("REMOTE_ADDR"),
                },
            )

        try:
            body = self.app(environ, start)
        except BaseException:
            status[0] = status[0] or 500
            done()
            raise
        return _OnClose(body, done)


class _OnClose:
    def __init__(self, body, callback):
        self._body = body
        self._callback = callback

    def __iter__(self):
        return iter(self._body)

    def close(self) -> None:
        try:
            if hasattr(self._body, "close"):
                self._body.close()
        finally:
            self._callback()
