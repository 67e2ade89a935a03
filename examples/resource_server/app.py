"""A resource server: protects /hello with the authorization server's introspection, caches
each answer for a short while keyed by the token's hash, and drops cached answers at once when
a lifecycle event says an app's tokens ended (POST /events, signature verified).

    python -m examples.resource_server.app [--port 8070]
"""

from __future__ import annotations

import argparse
import hashlib
import time
from threading import Lock

import requests
from flask import Flask, jsonify, request

from examples.demo import setting
from examples.events_receiver.receiver import verify

CACHE_SECONDS = 60
# Events after which an app's tokens (or some of them) no longer work.
ENDING = {
    "app.disabled",
    "app.deleted",
    "app.uninstalled",
    "authorization.revoked",
    "member.removed",
}


class IntrospectionCache:
    """token hash -> (introspection answer, expiry); never the token itself."""

    def __init__(self) -> None:
        self.entries: dict[str, tuple[dict, float]] = {}
        self.lock = Lock()

    def get(self, key: str) -> dict | None:
        with self.lock:
            entry = self.entries.get(key)
            return entry[0] if entry and entry[1] > time.monotonic() else None

    def put(self, key: str, answer: dict) -> None:
        with self.lock:
            ttl = min(CACHE_SECONDS, max(0, answer.get("exp", 0) - time.time()))
            self.entries[key] = (answer, time.monotonic() + ttl)

    def drop(self, client_id: str, user_id: str | None = None) -> int:
        """Forget the app's tokens (only that user's when the event names one)."""
        with self.lock:
            keys = [
                k
                for k, (answer, _) in self.entries.items()
                if answer.get("client_id") == client_id
                and (user_id is None or answer.get("sub") == user_id)
            ]
            for key in keys:
                del self.entries[key]
            return len(keys)


def create_app() -> Flask:
    app = Flask(__name__)
    server = setting("OAUTH_SERVER", "url", default="http://127.0.0.1:5000")
    rs_id = setting("RESOURCE_SERVER_ID", "resource_server", "id")
    rs_secret = setting("RESOURCE_SERVER_SECRET", "resource_server", "secret")
    events_secret = setting("EVENTS_SECRET")
    cache = IntrospectionCache()
    app.extensions["introspection_cache"] = cache

    def introspect(token: str) -> dict:
        key = hashlib.sha256(token.encode()).hexdigest()
        answer = cache.get(key)
        if answer is None:
            answer = requests.post(
                server + "/oauth/introspect",
                data={"token": token},
                auth=(rs_id, rs_secret),
                timeout=10,
            ).json()
            if answer.get("active"):
                cache.put(key, answer)
        return answer

    @app.get("/hello")
    def hello():
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        info = introspect(token) if scheme.lower() == "bearer" and token else {"active": False}
        if not info.get("active"):
            response = jsonify(error="invalid_token")
            response.status_code = 401
            response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
            return response
        return jsonify(hello=info.get("sub") or info["client_id"], scope=info.get("scope", ""))

    @app.post("/events")
    def events():
        raw = request.get_data()
        if not events_secret or not verify(events_secret, raw, request.headers["X-Signature"]):
            return jsonify(error="bad_signature"), 401
        event = request.get_json()
        if event["type"] in ENDING:
            cache.drop(event["client_id"], event["data"].get("user_id"))
        return "", 204

    return app


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8070)
    create_app().run(host="127.0.0.1", port=parser.parse_args().port)
