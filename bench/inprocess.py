"""Token issuance and introspection in process: seed a database, then run N requests of each
kind through the app's WSGI callable (no HTTP server, no load generator) and print, per request,
the CPU time, the round trips to PostgreSQL and Redis, and where the time goes by library. The
bare app's floors (bench/bare.py) run the same way, beside them.

    .venv/bin/python -m bench.inprocess --database-url postgresql://.../db \
        --redis-url redis://127.0.0.1:6379/5 -n 1000 [--only jwt,code] [--profile] [--limits]

It empties every table of the database it is given and flushes the Redis db: use a scratch one.
CPU time (`time.process_time`) of this process alone, so a busy machine changes it far less than
it changes requests per second. With `--profile`, cProfile on CPU time groups each function's
own time by the library it belongs to, and lists the functions that cost the most with what they
call (profiled figures are inflated by the profiler: compare them with each other, and the
unprofiled ms per request with the bare app's).

A round trip is counted where the drivers send: each statement, transaction start, commit and
rollback that psycopg sends, and each command or pipeline redis-py sends. Counting needs
psycopg's pure-Python implementation, slower than the compiled one the server runs, so the
counts come from a second process (`--count`) and the times from this one.
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import io
import os
import pstats
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from werkzeug.test import EnvironBuilder  # noqa: E402

FORM = "application/x-www-form-urlencoded"
JWT_PATH = "/api/permission/oauth2/token"
ISSUER = "http://127.0.0.1:5000"

# The library each function belongs to, by the first matching part of its file's path. A C
# function (file "~") is counted with its caller, but for crypto and socket waits.
GROUPS = (
    ("/authlib/", "authlib"),
    ("/joserfc/", "joserfc"),
    ("cryptography", "cryptography"),
    ("/sqlalchemy/", "sqlalchemy"),
    ("/flask_sqlalchemy/", "sqlalchemy"),
    ("/psycopg/", "psycopg"),
    ("/redis/", "redis"),
    ("/limits/", "limits"),
    ("/werkzeug/", "flask+werkzeug"),
    ("/flask/", "flask+werkzeug"),
    ("/grants/", "grants/ (ours)"),
    ("/server/oauth/execute.py", "server/oauth/execute.py"),
    ("/server/", "server/ (ours)"),
    ("/bench/", "bench (the caller)"),
    ("/site-packages/", "other libraries"),
)
_WAITS = re.compile(r"recv|send|poll|select|sock|connect", re.I)


def group(filename: str, name: str = "") -> str:
    if filename == "~" and _WAITS.search(name):
        return "socket I/O"
    where = name if filename == "~" else filename
    for part, label in GROUPS:
        if part in where:
            return label
    return "C built-ins" if filename == "~" else "stdlib"


class Counts:
    """Round trips sent, by kind, since the last reset."""

    def __init__(self) -> None:
        self.sql: collections.Counter[str] = collections.Counter()
        self.redis: collections.Counter[str] = collections.Counter()

    def reset(self) -> None:
        self.sql.clear()
        self.redis.clear()


def count_round_trips(counts: Counts) -> None:
    """Wrap the drivers' send calls (this script's process only)."""
    import redis.connection
    from psycopg.pq import pq_ctypes

    prepared: dict[bytes, str] = {}

    def label(command: bytes) -> str:
        """The statement's verb and first table: 'SELECT apps', 'UPDATE oauth_tokens'."""
        text = bytes(command).decode(errors="replace")
        found = re.search(r"^\s*(?:WITH\s+\w+\s+AS\s+\(\s*)?(\w+)", text, re.I)
        verb = found.group(1).upper() if found else "?"
        table = re.search(r"\b(?:FROM|INTO|UPDATE)\s+(\w+)", text, re.I)
        if text.lstrip().upper().startswith("WITH"):
            verb = "WITH…" + (re.search(r"\)\s*(\w+)", text) or [None, "?"])[1].upper()
            table = re.search(r"\bINSERT\s+INTO\s+(\w+)", text, re.I) or table
        return f"{verb} {table.group(1)}" if table and verb not in ("BEGIN", "COMMIT") else verb

    def wrap(name: str) -> None:
        original = getattr(pq_ctypes.PGconn, name)

        def wrapped(self: Any, first: bytes, *args: Any, **kw: Any) -> Any:
            if name == "send_prepare":  # once per statement and connection
                prepared[bytes(first)] = label(args[0])
                counts.sql["PREPARE " + prepared[bytes(first)]] += 1
            elif name == "send_query_prepared":
                counts.sql[prepared.get(bytes(first), "?")] += 1
            else:
                counts.sql[label(first)] += 1
            return original(self, first, *args, **kw)

        setattr(pq_ctypes.PGconn, name, wrapped)

    for name in ("send_query", "send_query_params", "send_prepare", "send_query_prepared"):
        wrap(name)
    for name in ("exec_", "exec_params"):  # psycopg's own, outside a request: counted too
        wrap(name)

    original_send = redis.connection.AbstractConnection.send_packed_command

    def send(self: Any, command: Any, check_health: bool = True) -> Any:
        chunks = command if isinstance(command, list) else [command]
        head = bytes(chunks[0][:64]) if chunks and chunks[0] else b""
        # RESP: *<n>\r\n$<len>\r\n<NAME>\r\n...; a pipeline is one send of several commands.
        parts = head.split(b"\r\n")
        word = parts[2].decode(errors="replace").upper() if len(parts) > 2 else "?"
        if head.count(b"*") > 1 or len(chunks) > 1:
            word = "pipeline(" + word + ",…)"
        counts.redis[word] += 1
        return original_send(self, command, check_health)

    redis.connection.AbstractConnection.send_packed_command = send


def environs(path: str, lines: list[str], content_type: str) -> list[dict[str, Any]]:
    """A WSGI environ per pool line ("<Authorization header>\\t<body>"), built beforehand."""
    built = []
    for line in lines:
        auth, body = line.split("\t", 1)
        headers = {"Authorization": auth} if auth else {}
        builder = EnvironBuilder(
            path=path,
            method="POST",
            base_url=ISSUER,
            headers=headers,
            data=body,
            content_type=content_type,
        )
        built.append(builder.get_environ())
        builder.close()
    return built


def call(app: Callable[..., Iterable[bytes]], environ: dict[str, Any]) -> tuple[str, bytes]:
    status: list[str] = []

    def start_response(code: str, headers: Any, exc_info: Any = None) -> None:
        status.append(code)

    body = app(environ, start_response)
    try:
        data = b"".join(body)
    finally:
        if hasattr(body, "close"):
            body.close()
    return status[0], data


def pools(app: Any, world: Any, count: int, only: set[str]) -> dict[str, list[dict[str, Any]]]:
    from bench import seed
    from server.extensions import db

    audience = ISSUER.split("://", 1)[1]
    made: dict[str, list[dict[str, Any]]] = {}
    with app.app_context():
        if "jwt" in only:
            lines = seed.assertion_lines(world, audience, count)
            made["jwt"] = environs(JWT_PATH, lines, "application/json")
        if "code" in only:
            lines = [world.web_auth + line for line in seed.code_lines(app, world, count)]
            made["code"] = environs("/oauth/token", lines, FORM)
        if "refresh" in only:
            lines = [world.web_auth + line for line in seed.refresh_lines(app, world, count)]
            made["refresh"] = environs("/oauth/token", lines, FORM)
        if "device" in only:
            made["device"] = environs("/oauth/token", seed.device_lines(app, world, count), FORM)
        if only & {
            "introspect",
            "floor_introspect",
        }:  # round-robin over the active tokens: not single-use
            lines = seed.token_lines(world.active_tokens)
            lines = [world.resource_server + lines[i % len(lines)] for i in range(count)]
            made["introspect"] = environs("/oauth/introspect", lines, FORM)
            made["floor_introspect"] = environs("/floor/introspect", lines, FORM)
        if "floor_issue" in only:
            made["floor_issue"] = environs(
                "/floor/issue", seed.floor_issue_lines(world, count), FORM
            )
        db.session.remove()
    return made


EXPECT = {"jwt": "200", "code": "200", "refresh": "200", "device": "400", "introspect": "200"}
KINDS = (
    "bare",
    "floor_introspect",
    "introspect",
    "floor_issue",
    "jwt",
    "code",
    "refresh",
    "device",
)
ON_BARE = ("bare", "floor_introspect", "floor_issue")  # bench/bare.py's routes


def measure(
    app: Any,
    kind: str,
    requests: list[dict[str, Any]],
    counts: Counts,
    profile: cProfile.Profile | None,
) -> dict[str, Any]:
    """Run each request once; CPU ms per request and round trips per request."""
    counts.reset()
    started = time.process_time()
    if profile is not None:
        profile.enable()
    for environ in requests:
        status, body = call(app, environ)
        wrong = kind.endswith("introspect") and not re.search(rb'"active":\s*true', body)
        if wrong or not status.startswith(EXPECT.get(kind, "200")):
            raise SystemExit(f"{kind}: {status} {body[:300]!r}")
    if profile is not None:
        profile.disable()
    elapsed = time.process_time() - started
    n = len(requests)
    return {
        "ms": elapsed * 1000 / n,
        "sql": {k: v / n for k, v in sorted(counts.sql.items())},
        "redis": {k: v / n for k, v in sorted(counts.redis.items())},
    }


def print_groups(stats: pstats.Stats, n: int) -> None:
    totals: collections.Counter[str] = collections.Counter()
    heaviest: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for (filename, line, name), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        where = f"{Path(filename).name}:{line}({name})"
        label = group(filename, name)
        if label != "C built-ins":
            totals[label] += tottime
            heaviest[label][where] += tottime
            continue
        for caller, (_c, _n, spent, _cum) in _callers.items():
            label = group(caller[0], caller[2])
            totals[label] += spent
            heaviest[label][where] += spent
    whole = sum(totals.values())
    for label, seconds in totals.most_common():
        top = ", ".join(
            f"{where} {t * 1000 / n:.2f}" for where, t in heaviest[label].most_common(3)
        )
        print(f"    {label:<24} {seconds * 1000 / n:6.3f} ms {100 * seconds / whole:3.0f}%  {top}")


def bare_app() -> Any:
    from bench.bare import app

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("-n", type=int, default=1000, help="requests of each kind")
    parser.add_argument("--warmup", type=int, default=100, help="unmeasured requests first")
    parser.add_argument(
        "--repeat", type=int, default=3, help="measured passes of n; the least CPU is shown"
    )
    parser.add_argument("--only", default=",".join(KINDS))
    parser.add_argument("--profile", action="store_true", help="cProfile a second pass")
    parser.add_argument("--dump", type=Path, help="with --profile: write <dir>/<kind>.prof")
    parser.add_argument("--top", type=int, default=25, help="functions listed per kind")
    parser.add_argument("--limits", action="store_true", help="rate limits on (off in bench)")
    parser.add_argument("--count", action="store_true", help="round trips only (see above)")
    args = parser.parse_args()
    only = {k for k in args.only.split(",") if k}
    if args.count:
        # Before psycopg is imported: its Python implementation, whose sends can be counted.
        os.environ["PSYCOPG_IMPL"] = "python"
        args.n, args.warmup, args.profile, args.repeat = min(args.n, 100), 5, False, 1

    os.environ.update(
        DATABASE_URL=args.database_url,
        REDIS_URL=args.redis_url,
        SECRET_KEY="bench-secret-key-0123456789abcdef0123456789",
        RATELIMIT_ENABLED="true" if args.limits else "false",
        OAUTH_ISSUER=ISSUER,
    )
    import redis
    from flask_migrate import upgrade

    from bench import seed
    from server import create_app
    from tests.conftest import _empty_tables as empty_tables

    counts = Counts()
    if args.count:
        count_round_trips(counts)  # from the start, to see every statement prepared
    app = create_app()
    redis.Redis.from_url(args.redis_url).flushdb()
    with app.app_context():
        upgrade()
        empty_tables()
        world = seed.seed(app, active_obo=10, active_appauth=10, suspended=10)
    passes = args.repeat + (1 if args.profile else 0)
    total = args.warmup + args.n * passes
    made = pools(app, world, total, only)
    made["bare"] = environs("/echo", ["\ttoken=" + "x" * 47] * total, FORM)
    if not args.count:
        print(f"{args.n} requests of each kind, CPU time of this process, {args.database_url}")
    for kind in [k for k in KINDS if k in only]:
        target = bare_app() if kind in ON_BARE else app
        requests = made[kind]
        measure(target, kind, requests[: args.warmup], counts, None)
        runs = [
            measure(target, kind, requests[start : start + args.n], counts, None)
            for start in range(args.warmup, args.warmup + args.n * args.repeat, args.n)
        ]
        plain = min(runs, key=lambda run: run["ms"])
        if args.count:
            print(
                f"{kind}: round trips per request: PostgreSQL {sum(plain['sql'].values()):g}"
                f" {plain['sql']}, Redis {sum(plain['redis'].values()):g} {plain['redis']}"
            )
            continue
        every = ", ".join(f"{run['ms']:.3f}" for run in runs)
        print(f"\n{kind}: {plain['ms']:.3f} ms CPU per request (least of {every})")
        if args.profile:
            profile = cProfile.Profile(time.process_time)
            tail = requests[total - args.n :]
            measure(target, kind, tail, counts, profile)
            stats = pstats.Stats(profile)
            if args.dump:
                args.dump.mkdir(parents=True, exist_ok=True)
                stats.dump_stats(args.dump / f"{kind}.prof")
            calls = stats.total_calls / len(tail)  # type: ignore[attr-defined]
            print(f"  Python function calls per request: {calls:.0f} (independent of load)")
            print("  own CPU time by library (profiled):")
            print_groups(stats, len(tail))
            for order, title in (("cumulative", "including"), ("tottime", "excluding")):
                out = io.StringIO()
                stats.stream = out  # type: ignore[attr-defined]
                stats.sort_stats(order).print_stats(args.top)
                print(f"  functions by time {title} what they call (profiled, all requests):")
                print("\n".join("    " + row for row in out.getvalue().splitlines()[6:] if row))
    if not args.count:
        print("\nround trips (psycopg's Python implementation, counted at each send):", flush=True)
        command = [sys.executable, "-m", "bench.inprocess", "--count", *sys.argv[1:]]
        subprocess.run(command, check=True, cwd=ROOT)


if __name__ == "__main__":
    main()
