"""`appliance serve`: the HTTP server up at once, everything else loading behind /ready."""

from __future__ import annotations

import logging
import signal

from waitress.server import create_server

from appliance.app import Appliance
from appliance.config import Settings
from appliance.observe import setup_logging
from appliance.web import create_app

log = logging.getLogger("appliance")


def _interrupt(*_) -> None:
    """SIGTERM (docker stop, systemd) shuts down cleanly, like Ctrl-C: the index is flushed."""
    raise KeyboardInterrupt


def serve(settings: Settings) -> None:
    setup_logging()
    appliance = Appliance(settings)
    server = create_server(
        create_app(appliance),
        host=settings.server.host,
        port=settings.server.port,
        threads=settings.server.threads,
        ident="appliance",
    )
    signal.signal(signal.SIGTERM, _interrupt)
    appliance.start_serving()
    log.info(
        "serving",
        extra={"event": "serving", "url": f"http://{settings.server.host}:{settings.server.port}"},
    )
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        appliance.close()
        log.info("stopped", extra={"event": "stopped"})
