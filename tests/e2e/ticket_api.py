"""The internal ticket service the actions tests call: a real HTTP server on loopback.
POST /tickets files a ticket (with the right bearer token) and echoes it back with a 201;
POST /slow answers after 3 s. Every request is recorded."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOKEN = "s3cret-ticket-token"
REPORT = {
    "type": "object",
    "properties": {
        "device": {"type": "string", "description": "what is broken"},
        "location": {"type": "string", "description": "building, floor and room"},
        "priority": {"type": "string", "enum": ["low", "normal", "high"]},
    },
    "required": ["device", "location"],
}


class TicketApi:
    """The internal ticket service: POST /tickets files one (with the right bearer token);
    POST /slow answers after 3 s."""

    def __init__(self):
        self.requests: list[dict] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                api.requests.append(
                    {"path": self.path, "body": body, "auth": self.headers["Authorization"]}
                )
                if self.path == "/slow":
                    time.sleep(3)
                if self.headers["Authorization"] != f"Bearer {TOKEN}":
                    return self._send(401, {"error": "bad token"})
                self._send(201, {"ticket": f"T-{1000 + len(api.requests)}", "filed": body})

            def _send(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
