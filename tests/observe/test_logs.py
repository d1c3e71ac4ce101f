"""The JSON log lines reach standard output even while llama-cpp-python silences it."""

import json
import logging
import subprocess
import sys

import pytest

PROGRAM = """
import logging
from llama_cpp._utils import suppress_stdout_stderr
from appliance.observe import setup_logging

setup_logging("INFO")
log = logging.getLogger("appliance.sync")
log.info("before", extra={"event": "document", "path": "a.txt"})
with suppress_stdout_stderr(disable=False):  # what Llama(...) does while a model loads
    log.info("during", extra={"event": "document", "path": "caf\\udce9.txt"})
log.info("after", extra={"event": "document", "path": "c.txt"})
"""


@pytest.mark.e2e  # a process of its own
def test_lines_logged_while_a_model_loads_are_kept():
    out = subprocess.run(
        [sys.executable, "-c", PROGRAM], capture_output=True, check=True, timeout=60
    ).stdout
    records = [json.loads(line) for line in out.decode().splitlines()]
    assert [r["msg"] for r in records] == ["before", "during", "after"]
    # A name that is not UTF-8 is written as a JSON escape, not dropped with a logging error.
    assert records[1]["path"] == "caf\udce9.txt"


def test_a_query_log_that_cannot_be_written_says_so_once_in_one_line(caplog, capsys):
    """On a full disk each question printed logging's multi-line "--- Logging error ---"
    traceback into the JSON log stream (a QA pass). /dev/full fails every write (ENOSPC)."""
    from pathlib import Path

    from appliance.observe.history import _rotating_json_logger

    query_file = _rotating_json_logger(Path("/dev/full"))
    with caplog.at_level(logging.WARNING, logger="appliance.query"):
        for n in range(3):
            query_file.info("query", extra={"event": "query", "n": n})
    assert "Logging error" not in capsys.readouterr().err
    said = [r for r in caplog.records if getattr(r, "event", "") == "query_log_failed"]
    assert len(said) == 1 and "No space left on device" in said[0].getMessage()
