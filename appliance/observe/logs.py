"""Structured logs: one JSON object per line on stdout, ready for Loki or ELK. Field names
are stable and documented in README ("Logs and metrics")."""

from __future__ import annotations

import io
import json
import logging
import os
import sys

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        line.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(_own_stdout())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("appliance")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def _own_stdout():
    """Standard output through a descriptor of our own, one line at a time. llama-cpp-python
    points descriptors 1 and 2 at /dev/null while it loads a model, and the model loads in
    a thread beside the indexer: lines logged then went nowhere (a document's status among them)."""
    global _stdout
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, io.UnsupportedOperation):  # no real descriptor (pytest)
        return sys.stdout
    if _stdout is None or _stdout.closed:
        _stdout = open(os.dup(fd), "w", buffering=1, encoding="utf-8", errors="backslashreplace")
    return _stdout


_stdout = None
