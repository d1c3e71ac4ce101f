"""The audit log of actions: every proposed, declined and executed tool call, one JSON line
each in data/tools-audit.jsonl, written through to disk before the caller is answered."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path

OUTPUT_CHARS = 2000  # of a tool's output kept in the audit line
log = logging.getLogger("appliance.tools")


class AuditLog:
    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, event: str, **fields) -> dict:
        """Append one record (who, when, what, with which arguments, and the outcome)."""
        record = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "event": event,
            **fields,
        }
        if "output" in fields:
            text = json.dumps(fields["output"], ensure_ascii=False)
            record["output"] = text if len(text) <= OUTPUT_CHARS else text[:OUTPUT_CHARS] + "…"
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self._lock, self.path.open("a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
        log.info("tool %s", event, extra={"event": f"tool_{event}", **_loggable(fields)})
        return record

    def read(self, last: int | None = None) -> list[dict]:
        if not self.path.exists():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in (lines[-last:] if last else lines) if line.strip()]


def _loggable(fields: dict) -> dict:
    return {k: v for k, v in fields.items() if k != "output"}
