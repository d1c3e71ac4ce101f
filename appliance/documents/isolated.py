"""Reading documents in a child process, with a memory and a time limit.

Documents are untrusted input parsed by C libraries (pdfium, lxml). A crafted one can take
minutes and gigabytes (dense glyph runs in a small PDF, an Office package of 250 MB of XML),
or crash its parser; in the indexing process it would stall every other file, exhaust the
box's memory and crash-loop the service. So each file is read by a child process that:

- may use at most `limits.read_memory_mb` of address space (RLIMIT_AS, set by the child on
  itself before it reads anything),
- is killed when a file takes longer than `limits.read_timeout_s`,
- answers in JSON (never pickle: a child subverted by a document cannot run code in the
  server by what it sends back), and
- is replaced after a failure, and every RECYCLE_AFTER files (a long-lived parser process
  only grows).

The status of a file that hits a limit says which limit, and the setting that raises it.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from appliance.documents.model import DocumentError, Section, UnreadableDocument
from appliance.documents.ocr import OcrJob, OcrOptions

RECYCLE_AFTER = 200  # files read by one child before a fresh one takes over
START_TIMEOUT_S = 60.0  # importing the readers in a fresh child


class TooMuchText(UnreadableDocument):
    """The document holds more text than limits.max_file_chars."""


class ReadTimeout(UnreadableDocument):
    """The document took longer than limits.read_timeout_s to read."""


class ReadMemory(UnreadableDocument):
    """The document needed more memory than limits.read_memory_mb to read."""


class ReaderStopped(Exception):
    """stop() was called while a file was being read (the server is shutting down)."""


@dataclass(frozen=True)
class ReadLimits:
    timeout_s: float = 180.0
    memory_mb: int = 2048
    max_chars: int = 10_000_000


class IsolatedReader:
    """read(path) → the document's sections, read in a child process under the limits.
    One caller at a time (the sync worker); `stop()` may come from another thread."""

    def __init__(self, limits: ReadLimits):
        self.limits = limits
        self._child: subprocess.Popen | None = None
        self._reads = 0
        self._lock = threading.Lock()
        self._stopped = threading.Event()

    def read(self, path: Path, ocr: OcrJob | None = None) -> list[Section]:
        """The file's sections; with `ocr`, its scanned pages read by OCR as the job says (and
        the job's pending, failed and beyond lists filled in)."""
        if self._stopped.is_set():
            raise ReaderStopped
        try:
            return self._read_once(path, ocr)
        except _OutOfMemory:
            # A fresh child first: memory a long-lived one gathered must not fail this file.
            self.close()
            try:
                return self._read_once(path, ocr)
            except _OutOfMemory as again:
                if again.killed:  # not its own limit: the OOM killer, or a kill from outside
                    raise ReadMemory(
                        f"the reader was killed twice while reading {path.name}: the system "
                        "ran out of memory (the kernel's OOM killer, or the container's memory "
                        "limit), or another process killed it; it was not indexed"
                    ) from None
                raise ReadMemory(
                    f"{path.name} needs more than {self.limits.memory_mb} MB to read "
                    "(limits.read_memory_mb); it was not indexed"
                ) from None

    def stop(self) -> None:
        """Abandon the file being read, if any, at once; read() raises ReaderStopped. (Only
        the child is killed here: its pipes are closed by the reading thread, which may be
        using them right now.)"""
        self._stopped.set()
        with self._lock:
            child = self._child
        if child is not None:
            try:
                child.kill()
            except ProcessLookupError:
                pass

    def close(self) -> None:
        with self._lock:
            child, self._child = self._child, None
        if child is not None:
            _end(child)

    # -- the parent's side -----------------------------------------------------------------
    def _read_once(self, path: Path, ocr: OcrJob | None) -> list[Section]:
        child = self._running_child()
        request = {"path": str(path), "max_chars": self.limits.max_chars, "ocr": _job_out(ocr)}
        self._reads += 1
        try:
            child.stdin.write((json.dumps(request) + "\n").encode())
            child.stdin.flush()
            line = _read_line(child, self.limits.timeout_s)
        except (OSError, _ChildGone):  # a broken pipe, or the end of its output
            return self._died(child, path)
        if line is None:
            self.close()
            if self._stopped.is_set():
                raise ReaderStopped
            raise ReadTimeout(
                f"{path.name} took longer than {self.limits.timeout_s:g} s to read "
                "(limits.read_timeout_s); it was stopped and not indexed"
            )
        reply = json.loads(line)
        if reply["kind"] == "ok":
            if self._reads >= RECYCLE_AFTER:
                self.close()
            if ocr is not None:
                _job_in(ocr, reply["ocr"])
            return [
                Section(s["text"], s["page"], s["heading"], s["ocr"]) for s in reply["sections"]
            ]
        if reply["kind"] == "memory":
            self.close()  # it is on its way out; the next file gets a fresh one
            raise _OutOfMemory
        if reply["kind"] == "too_much_text":
            raise TooMuchText(reply["message"])
        raise UnreadableDocument(reply["message"])

    def _died(self, child: subprocess.Popen, path: Path) -> list[Section]:
        """The child ended without an answer: stopped by us, or crashed."""
        try:
            code = child.wait(5)
        except subprocess.TimeoutExpired:
            code = None
        self.close()
        if self._stopped.is_set():
            raise ReaderStopped
        if code in (-signal.SIGKILL, -signal.SIGABRT, -signal.SIGSEGV, -signal.SIGBUS):
            # The kernel's OOM killer, or a C library that could not allocate and gave up.
            raise _OutOfMemory(killed=code == -signal.SIGKILL)
        raise UnreadableDocument(f"the reader process stopped on {path.name} (exit code {code})")

    def _running_child(self) -> subprocess.Popen:
        with self._lock:
            if self._child is not None and self._child.poll() is None:
                return self._child
            self._reads = 0
            self._child = subprocess.Popen(
                [sys.executable, "-m", "appliance.documents.isolated", str(self.limits.memory_mb)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                start_new_session=True,  # Ctrl-C in a terminal goes to the server, not here
            )
            child = self._child
        try:
            started = _read_line(child, START_TIMEOUT_S)
        except _ChildGone:
            started = None
        if started != b'{"kind": "started"}':
            self.close()
            if self._stopped.is_set():
                raise ReaderStopped
            raise UnreadableDocument("the document reader process could not start")
        return child


class _OutOfMemory(Exception):
    def __init__(self, killed: bool = False):
        super().__init__()
        self.killed = killed  # SIGKILL: from outside the child, not its own memory limit


def _job_out(job: OcrJob | None) -> dict | None:
    if job is None:
        return None
    return {"options": vars(job.options), "known": sorted(job.known), "budget_s": job.budget_s}


def _job_done(job: OcrJob | None) -> dict | None:
    """What the child tells the parent of the job (`_job_in` reads it)."""
    if job is None:
        return None
    return {
        "pending": job.pending,
        "failed": job.failed,
        "beyond": job.beyond,
        "pages": job.pages,
        "missing": job.missing,
    }


def _job_in(job: OcrJob, done: dict) -> None:
    job.pending = done["pending"]
    job.failed = {int(page): reason for page, reason in done["failed"].items()}
    job.beyond = done["beyond"]
    job.pages = done["pages"]
    job.missing = done["missing"]


class _ChildGone(Exception):
    pass


def _read_line(child: subprocess.Popen, timeout_s: float) -> bytes | None:
    """One line from the child, or None when it sends none in time; _ChildGone when it
    exits first."""
    fd = child.stdout.fileno()
    deadline = time.monotonic() + timeout_s
    buffer = bytearray()
    while True:
        newline = buffer.find(b"\n")
        if newline >= 0:
            return bytes(buffer[:newline])
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        ready, _, _ = select.select([fd], [], [], min(remaining, 1.0))
        if not ready:
            continue
        block = os.read(fd, 1 << 20)
        if not block:
            raise _ChildGone
        buffer += block


def _end(child: subprocess.Popen) -> None:
    try:
        child.kill()
    except ProcessLookupError:
        pass
    child.wait()
    for stream in (child.stdin, child.stdout):
        try:
            stream.close()
        except OSError:
            pass


# -- the child's side -------------------------------------------------------------------------
def _serve(memory_mb: int) -> None:
    import resource

    limit = memory_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    # Our replies own stdout; anything a library prints goes to stderr instead.
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    from appliance.documents.readers import read_document

    def reply(**fields) -> None:
        replies.write(json.dumps(fields, ensure_ascii=False) + "\n")
        replies.flush()

    reply(kind="started")
    for line in sys.stdin:
        request = json.loads(line)
        job = None
        if request["ocr"] is not None:
            asked = request["ocr"]
            options = OcrOptions(**asked["options"])
            job = OcrJob(options, frozenset(asked["known"]), asked["budget_s"])
        try:
            sections = read_document(Path(request["path"]), job)
        except MemoryError:
            reply(kind="memory")
            return  # a fresh child reads the next file
        except Exception as err:
            if _near_limit(limit):
                # C libraries word a failed allocation their own way (lxml: "unknown
                # error"): a failure at the edge of the budget is the budget's.
                reply(kind="memory")
                return
            if isinstance(err, DocumentError):  # its sentence says what is wrong with the file
                reply(kind="error", message=str(err))
                continue
            traceback.print_exc()  # a reader bug: the trace for the developers, on stderr
            name = Path(request["path"]).name
            reply(kind="error", message=f"{name} could not be read: {type(err).__name__}: {err}")
            continue
        chars = sum(len(s.text) for s in sections)
        if chars > request["max_chars"]:
            reply(
                kind="too_much_text",
                message=(
                    f"{Path(request['path']).name} holds {chars:,} characters of text, over "
                    f"limits.max_file_chars ({request['max_chars']:,})"
                ),
            )
            continue
        try:
            reply(
                kind="ok",
                sections=[
                    {"text": s.text, "page": s.page, "heading": s.heading, "ocr": s.ocr}
                    for s in sections
                ],
                ocr=_job_done(job),
            )
        except MemoryError:
            reply(kind="memory")
            return


def _near_limit(limit: int) -> bool:
    """The peak address space came within a fifth of the limit."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmPeak:"):
            return int(line.split()[1]) * 1024 > 0.8 * limit
    return False


if __name__ == "__main__":
    _serve(int(sys.argv[1]))
