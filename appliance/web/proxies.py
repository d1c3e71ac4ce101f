"""Behind a reverse proxy (nginx, Caddy, Traefik): who the client is, and which Host it used.

Every request through a proxy comes from the proxy's address and, often, with the Host the
proxy chose. Only for peers listed in `server.trusted_proxies` (addresses or networks) are the
proxy's X-Forwarded-For, -Proto, -Host and -Port headers believed; from anyone else they are
ignored, so a client cannot pretend to be someone else by sending them.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from werkzeug.middleware.proxy_fix import ProxyFix


@lru_cache(maxsize=64)
def _networks(trusted: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in trusted)


def is_trusted_proxy(address: str, trusted: tuple[str, ...]) -> bool:
    if not trusted:
        return False
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return False
    return any(ip in network for network in _networks(trusted))


class TrustedProxies:
    """WSGI middleware: apply the forwarded headers only for requests from a trusted proxy
    (one proxy hop: the last address it appended is the client)."""

    def __init__(self, app, trusted: tuple[str, ...]):
        self.app = app
        self.trusted = trusted
        self.forwarded = ProxyFix(app, x_for=1, x_proto=1, x_host=1, x_port=1)

    def __call__(self, environ, start_response):
        if is_trusted_proxy(environ.get("REMOTE_ADDR", ""), self.trusted):
            return self.forwarded(environ, start_response)
        return self.app(environ, start_response)
