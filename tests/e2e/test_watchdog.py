"""The container entrypoint's watchdog, on the real server: a server that stops answering
/health (here stopped with SIGSTOP, as a deadlock would leave it) is killed, so that the
container exits and Docker's restart policy starts a new one; a healthy one is left alone."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import wait_for

pytestmark = pytest.mark.e2e

ENTRYPOINT = Path(__file__).resolve().parents[2] / "scripts" / "entrypoint.sh"


def test_a_hung_server_is_killed_and_a_healthy_one_kept(make_server):
    server = make_server()
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",  # `appliance`, `python`
        "APPLIANCE_SKIP_DOCTOR": "1",
        "APPLIANCE_SERVER__PORT": str(server.port),
        "APPLIANCE_WATCHDOG_INTERVAL": "1",
        "APPLIANCE_WATCHDOG_FAILURES": "3",
    }
    args = ["--config", server.config, "--kb", server.kb, "--data", server.data]
    args += ["--models", server.models]
    server.proc = subprocess.Popen(
        [str(ENTRYPOINT), *map(str, args)],
        env=env,
        stdout=server.log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(server._ready, 120, f"the server behind the entrypoint (log: {server.log})")
        time.sleep(5)  # five rounds of the watchdog on a healthy server
        assert server.proc.poll() is None, server.logs()

        os.kill(server.proc.pid, signal.SIGSTOP)  # the entrypoint exec'd: this is the server
        started = time.monotonic()
        returncode = server.proc.wait(timeout=60)
        healed = time.monotonic() - started
        assert returncode == -signal.SIGKILL, server.logs()
        assert "watchdog: the server is hung" in server.logs()
        assert healed < 3 * (1 + 5) + 2  # failures × (interval + probe timeout), with slack
    finally:
        if server.proc.poll() is None:
            server.proc.send_signal(signal.SIGCONT)
            server.proc.kill()
            server.proc.wait()
