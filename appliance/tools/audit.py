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
MAX_BYTES = 20 * 1024 * 1024  # then the file is rotated: tools-audit.jsonl.1, .2, ...
BACKUPS = 5
log = logging.getLogger("appliance.tools")


class AuditLog:
    def __init__(self, path: Path, max_bytes: int = MAX_BYTES, backups: int = BACKUPS):
        self.path = path
        self.max_bytes = max_bytes
        self.backups = backups
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
        with self._lock:
            self._rotate_if_full()
            with self.path.open("a", encoding="utf-8") as f:
                f.write(line)
                f.flush()
                os.fsync(f.fileno())
        log.info("tool %s", event, extra={"event": f"tool_{event}", **_loggable(fields)})
        return record

    def read(self, last: int | None = None) -> list[dict]:
        """The records, oldest first, rotated files included."""
        lines = []
        for path in [*reversed(self._backups()), self.path]:
            if path.exists():
                lines += path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in (lines[-last:] if last else lines) if line.strip()]

    def _backups(self) -> list[Path]:
        return [self.path.with_name(f"{self.path.name}.{n}") for n in range(1, self.backups + 1)]

    def _rotate_if_full(self) -> None:
        try:
            if self.path.stat().st_size < self.max_bytes:
                return
        except FileNotFoundError:
            return
        chain = [self.path, *self._backups()]  # newest to oldest
        for newer, older in reversed(list(zip(chain, chain[1:], strict=False))):
            if newer.exists():
                os.replace(newer, older)


def _loggable(fields: dict) -> dict:
    return {k: v for k, v in fields.items() if k != "output"}
