"""`appliance serve`: the HTTP server up at once, everything else loading behind /ready."""

from __future__ import annotations

import _thread
import logging
import signal
import time

from appliance.app import Appliance
from appliance.config import Settings
from appliance.errors import ServeError
from appliance.observe import setup_logging
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


def _optimize_if_needed(appliance: Appliance, above: int) -> None:
    """Build search graphs before answering: the build stalls the whole process (see
    EdgeIndex.optimize), so it cannot happen while questions come in."""
    unindexed = appliance.index.unindexed()
    if unindexed <= above:
        return
    log.info(
        "building search graphs before serving",
        extra={"event": "optimize", "unindexed_chunks": unindexed},
    )
    started = time.monotonic()
    appliance.index.optimize()
    log.info(
        "search graphs built",
        extra={"event": "optimized", "seconds": round(time.monotonic() - started, 1)},
    )


def serve(settings: Settings) -> None:
    setup_logging(settings.observe.log_level)
    appliance = Appliance(settings)
    # Wrong models or an index held by another process fail here, in plain words.
    appliance.open_index()
    _optimize_if_needed(appliance, settings.index.optimize_above)
    host, port = settings.server.host, settings.server.port
    try:
        server = make_server(create_app(appliance), settings)
    except OSError as err:
        appliance.close()
        raise ServeError(
            f"cannot listen on {host}:{port} ({err.strerror or err}): is another appliance "
            "running there? Stop it or choose another port with --port"
        ) from None
    signal.signal(signal.SIGTERM, _interrupt)
    appliance.start_serving(on_fatal=_stop_serving)
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
        appliance.drain(DRAIN_S)
        appliance.close()
        log.info("stopped", extra={"event": "stopped"})
    if appliance.startup_error:
        raise ServeError(f"the appliance cannot run: {appliance.startup_error}")
