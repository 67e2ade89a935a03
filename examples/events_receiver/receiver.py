"""A receiver of the server's lifecycle events: checks each delivery's signature and freshness,
ignores repeats (delivery is at least once), and prints the event.

    EVENTS_SECRET=whsec_... python -m examples.events_receiver.receiver [--port 8090]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import time
from collections import OrderedDict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOLERANCE = 300  # seconds: a delivery signed longer ago than this is refused (replay window)


def verify(secret: str, raw_body: bytes, header: str, tolerance: int = TOLERANCE) -> bool:
    """The README's recipe: HMAC-SHA256 over "<t>.<raw body>", t within the window."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        t, signature = fields["t"], fields["v1"]
        fresh = abs(time.time() - int(t)) <= tolerance
    except (KeyError, ValueError):
        return False
    expected = hmac.new(secret.encode(), t.encode() + b"." + raw_body, hashlib.sha256).hexdigest()
    return fresh and hmac.compare_digest(expected, signature)


class Seen:
    """Event ids of the replay window: a repeat is acknowledged but not handled twice."""

    def __init__(self) -> None:
        self.ids: OrderedDict[str, float] = OrderedDict()

    def first_time(self, event_id: str) -> bool:
        now = time.time()
        while self.ids and next(iter(self.ids.values())) < now - 2 * TOLERANCE:
            self.ids.popitem(last=False)
        if event_id in self.ids:
            return False
        self.ids[event_id] = now
        return True


def make_handler(secret: str, handle) -> type[BaseHTTPRequestHandler]:
    """A request handler that calls `handle(event)` once per verified event."""
    seen = Seen()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the standard library's name
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if not verify(secret, raw, self.headers.get("X-Signature", "")):
                self.send_response(401)
                self.end_headers()
                return
            event = json.loads(raw)
            if seen.first_time(event["id"]):
                handle(event)
            self.send_response(204)  # any 2xx ends the delivery
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8090)
    args = parser.parse_args()

    def show(event: dict) -> None:
        print(event["created_at"], event["type"], event["client_id"], event["data"], flush=True)

    handler = make_handler(os.environ["EVENTS_SECRET"], show)
    print(f"listening on http://127.0.0.1:{args.port}/", flush=True)
    ThreadingHTTPServer(("127.0.0.1", args.port), handler).serve_forever()


if __name__ == "__main__":
    main()
