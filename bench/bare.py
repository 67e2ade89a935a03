"""The bare baseline, and the floor under it for each kind of request.

- `/echo`: a Flask app that parses a form and returns JSON, nothing else. Served under the same
  server configuration as the server, it is the ceiling for this stack.
- `/floor/introspect` and `/floor/issue`: the same, plus only the round trips an introspection
  and an issuance cannot do without, on the cheapest path the drivers have: a psycopg
  connection held by each thread in autocommit mode (no pool, no ORM, no reset), statements
  prepared by psycopg after their first uses, redis-py's own pool. An introspection must read
  its token (one indexed read of `oauth_tokens`: the access rule is decided on every call, so
  nothing may be cached); an issuance must read its app, record its single-use JWT id in Redis
  and write its token (an insert into a table with a unique digest). Whatever the server does
  beyond these is its own cost; these are not, so their ratio to `/echo` is the most any
  implementation on this stack and machine could reach.
"""

import hashlib
import os
import threading

import psycopg
import redis
from flask import Flask, jsonify, request

app = Flask(__name__)
_held = threading.local()


@app.post("/echo")
def echo():
    token = request.form.get("token", "")
    return jsonify(active=True, length=len(token))


# Made by bench.seed before the servers start (concurrent CREATEs of one table can fail).
FLOOR_TABLE = (
    "CREATE TABLE IF NOT EXISTS bench_floor_tokens"
    " (digest char(64) PRIMARY KEY, client_id text NOT NULL)"
)


def _database() -> psycopg.Connection:
    connection = getattr(_held, "connection", None)
    if connection is None:
        connection = _held.connection = psycopg.connect(os.environ["DATABASE_URL"], autocommit=True)
    return connection


_redis = None


def _store() -> redis.Redis:
    global _redis
    if _redis is None:
        _redis = redis.Redis.from_url(os.environ["REDIS_URL"])
    return _redis


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@app.post("/floor/introspect")
def floor_introspect():
    token = request.form.get("token", "")
    found = (
        _database()
        .execute(
            "SELECT client_id FROM oauth_tokens WHERE access_token_hash = %s", (_digest(token),)
        )
        .fetchone()
    )
    return jsonify(active=found is not None, client_id=found[0] if found else None)


@app.post("/floor/issue")
def floor_issue():
    client_id, jti = request.form.get("client_id", ""), request.form.get("jti", "")
    database = _database()
    found = database.execute(
        "SELECT client_id FROM apps WHERE client_id = %s", (client_id,)
    ).fetchone()
    first_use = _store().set(f"bench:floor:jti:{_digest(jti)}", "1", nx=True, ex=300)
    if found is None or not first_use:
        return jsonify(error="invalid_grant"), 400
    token = os.urandom(32).hex()
    database.execute(
        "INSERT INTO bench_floor_tokens (digest, client_id) VALUES (%s, %s)",
        (_digest(token), client_id),
    )
    return jsonify(access_token=token, token_type="Bearer", expires_in=900)
