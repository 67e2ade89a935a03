"""Serves the single-page app (index.html, app.js) and its config.json on localhost:8080, the
demo's registered redirect origin; /callback serves the same page, which finishes the sign-in.

    python -m examples.spa.serve [--port 8080]
"""

from __future__ import annotations

import argparse
import json
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from examples.demo import setting

HERE = Path(__file__).resolve().parent


def config(port: int) -> dict[str, str]:
    return {
        "server": setting("OAUTH_SERVER", "url", default="http://127.0.0.1:5000"),
        "client_id": setting("CLIENT_ID", "apps", "pkce", "client_id"),
        "redirect_uri": setting("REDIRECT_URI", default=f"http://localhost:{port}/callback"),
        "scope": setting("SCOPE", default="Bot.read"),
    }


class Handler(SimpleHTTPRequestHandler):
    settings: dict[str, str] = {}

    def do_GET(self) -> None:  # noqa: N802 - the standard library's name
        path = self.path.split("?", 1)[0]
        if path == "/config.json":
            body = json.dumps(self.settings).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if path == "/callback":
            self.path = "/index.html"
        if path not in ("/", "/callback", "/index.html", "/app.js"):
            self.send_error(404)
            return
        super().do_GET()

    def log_message(self, *args) -> None:
        pass


def serve(port: int) -> ThreadingHTTPServer:
    Handler.settings = config(port)
    return ThreadingHTTPServer(("127.0.0.1", port), partial(Handler, directory=str(HERE)))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8080)
    port = parser.parse_args().port
    print(f"open http://localhost:{port}/", flush=True)
    serve(port).serve_forever()
