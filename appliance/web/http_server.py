"""The HTTP server: waitress, with limits that keep one client from locking out the rest.

- A request body larger than the largest request the appliance accepts is refused (413) as
  soon as its Content-Length is read, before anything is buffered; waitress's own default
  would buffer up to 1 GiB before the app can even check the access token.
- A request must arrive within `server.request_timeout_s`, plus the time its body needs at a
  modest rate: a client trickling a byte every few seconds (slowloris) is disconnected, where
  waitress alone only closes connections that are idle.
- One client address may hold at most `limits.connections_per_client` connections (reverse
  proxies listed in `server.trusted_proxies` are exempt: every user arrives through them).
"""

from __future__ import annotations

import json
import socket
import time

from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.server import MultiSocketServer, TcpWSGIServer
from waitress.task import ErrorTask, ThreadedTaskDispatcher

from appliance.config import Settings
from appliance.web.proxies import is_trusted_proxy

MIN_BODY_BYTES_PER_S = 50 * 1024  # the slowest upload we wait for: a poor Wi-Fi link
SLACK_BYTES = 64 * 1024  # form boundaries and part headers; small overshoots get JSON 413s
CHECK_EVERY_S = 2.0  # how often connections are looked over
LINGER_S = 5.0


def max_body_bytes(settings: Settings) -> int:
    """The largest request body the HTTP server reads: the largest the appliance accepts (a
    JSON request, or an upload when uploads are on) and a little slack, so that a small
    overshoot still gets the app's JSON 413. Bigger bodies are refused unread."""
    largest = settings.limits.max_body_kb * 1024
    if settings.server.uploads:
        largest = max(largest, int(settings.server.max_upload_mb * 2**20))
    return largest + SLACK_BYTES


class _JsonErrorTask(ErrorTask):
    """Requests the HTTP server refuses itself (too large, malformed) get a JSON error like
    every other refusal, not waitress's plain-text page."""

    def execute(self):
        error = self.request.error
        message = f"{error.reason}: {error.body}"
        if error.code == 413:
            limit = self.channel.server.adj.max_request_body_size
            message = (
                f"the request body is over {limit // 1024} KB, the most this appliance "
                "accepts (limits.max_body_kb, server.max_upload_mb)"
            )
        code = "body_too_large" if error.code == 413 else f"http_{error.code}"
        body = json.dumps({"error": message, "code": code}).encode()
        if error.code == 413:
            self.channel.linger_after_close = True  # the client is likely still sending
        self.status = f"{error.code} {error.reason}"
        self.response_headers.append(("Content-Type", "application/json"))
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class _TimedChannel(HTTPChannel):
    """A connection that remembers when the request it is receiving began to arrive; its
    refusals are JSON."""

    error_task_class = _JsonErrorTask
    receiving_since = 0.0
    linger_after_close = False
    lingering_until = 0.0

    # After refusing a body unread, the connection is not closed at once: a client still
    # sending it would get a reset instead of our answer. The write side is shut (the client
    # sees the response end), and what still arrives is read and dropped, for LINGER_S at most.
    def handle_close(self):
        if self.linger_after_close and not self.lingering_until:
            try:
                self.socket.shutdown(socket.SHUT_WR)
            except OSError:
                return super().handle_close()
            self.lingering_until = time.time() + LINGER_S
            self.will_close = self.close_when_flushed = False
            return None
        return super().handle_close()

    def readable(self):
        return bool(self.lingering_until) or super().readable()

    def writable(self):
        return not self.lingering_until and super().writable()

    def handle_read(self):
        if not self.lingering_until:
            return super().handle_read()
        try:
            data = self.recv(1 << 16)
        except OSError:
            data = b""
        if not data or time.time() > self.lingering_until:
            self.close_now()
        return None

    def close_now(self) -> None:
        HTTPChannel.handle_close(self)

    def received(self, data):
        if self.request is None:  # these bytes start a new request
            self.receiving_since = time.time()
        return super().received(data)

    def overdue(self, now: float, timeout_s: float) -> bool:
        request = self.request  # the request still being received, if any
        if request is None or self.requests:
            return False
        allowed = timeout_s + request.content_length / MIN_BODY_BYTES_PER_S
        return now - self.receiving_since > allowed


class _Server(TcpWSGIServer):
    channel_class = _TimedChannel

    def __init__(self, *args, request_timeout_s, per_client, trusted_proxies, **kwargs):
        self.request_timeout_s = request_timeout_s
        self.per_client = per_client
        self.trusted_proxies = trusted_proxies
        super().__init__(*args, **kwargs)

    def maintenance(self, now):
        super().maintenance(now)  # idle connections (channel_timeout)
        for channel in list(self._map.values()):
            if isinstance(channel, _TimedChannel) and 0 < channel.lingering_until < now:
                channel.close_now()  # a client that went silent
        for channel in list(self.active_channels.values()):
            if isinstance(channel, _TimedChannel) and channel.overdue(now, self.request_timeout_s):
                self.logger.info("closing a connection whose request arrives too slowly")
                channel.will_close = True

    def handle_accept(self):
        try:
            accepted = self.accept()
        except OSError:
            return
        if accepted is None:
            return
        conn, addr = accepted
        client = addr[0] if isinstance(addr, tuple) else str(addr)
        if not is_trusted_proxy(client, self.trusted_proxies) and self._held_by(client) >= (
            self.per_client
        ):
            conn.close()  # this address already holds its share of the server
            return
        self.set_socket_options(conn)
        self.channel_class(self, conn, self.fix_addr(addr), self.adj, map=self._map)

    def _held_by(self, client: str) -> int:
        return sum(
            1
            for channel in list(self._map.values())
            if isinstance(channel, HTTPChannel) and channel.addr and channel.addr[0] == client
        )


def make_server(app, settings: Settings):
    """A waitress server for `app` on server.host:server.port; OSError when it cannot listen."""
    server = settings.server
    adj = Adjustments(
        host=server.host,
        port=server.port,
        threads=server.threads,
        ident="appliance",
        # waitress's defaults (100 connections, 120 s idle) let 101 half-sent requests lock
        # every other client out for two minutes.
        connection_limit=1000,
        channel_timeout=30,
        cleanup_interval=CHECK_EVERY_S,
        max_request_body_size=max_body_bytes(settings),
        # Reads on while a request is answered, so that a client gone is noticed
        # (environ["waitress.client_disconnected"]): its answer stops and frees its slot.
        channel_request_lookahead=1,
    )
    dispatcher = ThreadedTaskDispatcher()
    dispatcher.set_thread_count(adj.threads)
    sockets: dict = {}
    # One server per address the host name resolves to ("localhost": IPv4 and IPv6).
    servers = [
        _Server(
            app,
            sockets,
            dispatcher=dispatcher,
            adj=adj,
            sockinfo=sockinfo,
            request_timeout_s=server.request_timeout_s,
            per_client=settings.limits.connections_per_client,
            trusted_proxies=server.trusted_proxies,
        )
        for sockinfo in adj.listen
    ]
    if len(servers) == 1:
        return servers[0]
    listening = [(s.effective_host, s.effective_port) for s in servers]
    return MultiSocketServer(sockets, adj, listening, dispatcher, servers[0].log_info)
