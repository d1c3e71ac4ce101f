"""`appliance serve`: the HTTP server up at once, everything else loading behind /ready."""

from __future__ import annotations

import _thread
import logging
import signal
import time

from appliance.app import open_parts
from appliance.config import Settings
from appliance.doctor import access_check
from appliance.errors import ServeError
from appliance.observe import setup_logging
from appliance.runtime import Runtime
from appliance.web import create_app
from appliance.web.http_server import make_server

log = logging.getLogger("appliance")
DRAIN_S = 10  # running answers get this long to finish on SIGTERM (compose waits 30 s)


def _interrupt(*_) -> None:
    """SIGTERM (docker stop, systemd) shuts down cleanly, like Ctrl-C: the index is flushed."""
    raise KeyboardInterrupt


def _stop_serving() -> None:
    """From any thread: end serve() as SIGTERM would. (Not by a simulated SIGINT: a process
    started in the background by a shell ignores SIGINT, and Python then never raises it.)"""
    _thread.interrupt_main(signal.SIGTERM)


def _optimize_if_needed(index, above: int) -> None:
    """Build search graphs before answering: the build stalls the whole process (see
    EdgeIndex.optimize), so it cannot happen while questions come in."""
    unindexed = index.unindexed()
    if unindexed <= above:
        return
    log.info(
        "building search graphs before serving",
        extra={"event": "optimize", "unindexed_chunks": unindexed},
    )
    started = time.monotonic()
    index.optimize()
    log.info(
        "search graphs built",
        extra={"event": "optimized", "seconds": round(time.monotonic() - started, 1)},
    )


def serve(settings: Settings) -> None:
    setup_logging(settings.observe.log_level)
    # Wrong models or an index held by another process fail here, in plain words.
    runtime = Runtime(open_parts(settings))
    _optimize_if_needed(runtime.parts.index, settings.index.optimize_above)
    host, port = settings.server.host, settings.server.port
    try:
        server = make_server(create_app(runtime), settings)
    except OSError as err:
        runtime.close()
        raise ServeError(
            f"cannot listen on {host}:{port} ({err.strerror or err}): is another appliance "
            "running there? Stop it or choose another port with --port"
        ) from None
    signal.signal(signal.SIGTERM, _interrupt)
    access = access_check(settings)
    if access.warning:  # anyone on the network reads all of kb/
        log.warning("%s: %s", access.detail, access.fix, extra={"event": "open_to_network"})
    runtime.start(on_fatal=_stop_serving)
    log.info(
        "serving",
        extra={"event": "serving", "url": f"http://{settings.server.host}:{settings.server.port}"},
    )
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()  # accept nothing more
        runtime.drain(DRAIN_S)
        runtime.close()
        log.info("stopped", extra={"event": "stopped"})
    if runtime.startup_error:
        raise ServeError(f"the appliance cannot run: {runtime.startup_error}")
