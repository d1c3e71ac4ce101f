"""The JSON log lines reach standard output even while llama-cpp-python silences it."""

import json
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
