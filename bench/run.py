"""The benchmark: seed a fresh PostgreSQL database, serve the server and a bare Flask app under
the same WSGI server (gunicorn sync or gthread, or Granian), drive each scenario with wrk, and
print the figures beside the bare baseline. Exits non-zero if any answer was wrong. See
bench/README.md."""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import cpu, report  # noqa: E402

PG_HOST, PG_USER = "127.0.0.1", "postgres"
FORM = "application/x-www-form-urlencoded"
JWT_PATH = "/api/permission/oauth2/token"


@dataclass(frozen=True)
class Scenario:
    name: str
    label: str
    target: str  # "bare" or "server"
    path: str
    status: int
    expect: str  # Lua patterns: "||" separates alternatives, "&&" parts of one
    content_type: str = FORM
    single_use: bool = False


ACTIVE = Scenario(
    "introspect_active",
    "introspection, active token",
    "server",
    "/oauth/introspect",
    200,
    '"active":%s*true&&"client_id":%s*"%d+"',
)
AUDIENCE = Scenario(
    "introspect_audience",
    "introspection, audience-bound token (RFC 8707), by its resource server",
    "server",
    "/oauth/introspect",
    200,
    '"active":%s*true&&"aud":%s*"https://',
)
# The bare app plus only the round trips each kind of request must make (bench/bare.py).
FLOOR_INTROSPECT = Scenario(
    "floor_introspect",
    "floor: the bare app + one indexed read of the token",
    "bare",
    "/floor/introspect",
    200,
    '"active":%s*true',
)
FLOOR_ISSUE = Scenario(
    "floor_issue",
    "floor: the bare app + the app's read, a Redis SET NX and an insert",
    "bare",
    "/floor/issue",
    200,
    '"access_token":%s*"',
    single_use=True,
)
SCENARIOS = {
    s.name: s
    for s in (
        Scenario("bare", "bare Flask baseline", "bare", "/echo", 200, '"active":%s*true'),
        FLOOR_INTROSPECT,
        FLOOR_ISSUE,
        ACTIVE,
        AUDIENCE,
        Scenario(
            "introspect_suspended",
            "introspection, suspended app's token",
            "server",
            "/oauth/introspect",
            200,
            '^{%s*"active":%s*false%s*}%s*$',
        ),
        Scenario(
            "introspect_unknown",
            "introspection, unknown token",
            "server",
            "/oauth/introspect",
            200,
            '^{%s*"active":%s*false%s*}%s*$',
        ),
        Scenario(
            "jwt",
            "JWT-bearer issuance (Coze, fresh assertion)",
            "server",
            JWT_PATH,
            200,
            '"access_token":%s*"czs_',
            content_type="application/json",
            single_use=True,
        ),
        Scenario(
            "code",
            "authorization-code exchange",
            "server",
            "/oauth/token",
            200,
            '"access_token":%s*"czu_&&"refresh_token":%s*"czr_',
            single_use=True,
        ),
        Scenario(
            "refresh",
            "refresh (rotation)",
            "server",
            "/oauth/token",
            200,
            '"access_token":%s*"czu_&&"refresh_token":%s*"czr_',
            single_use=True,
        ),
        Scenario(
            "device",
            "device polling while pending",
            "server",
            "/oauth/token",
            400,
            '"error":%s*"authorization_pending"||"error":%s*"slow_down"',
        ),
    )
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


SERVERS = ("sync", "gthread", "granian")


class Server:
    """One WSGI server (a gunicorn master or a Granian main process) with its workers, started
    and stopped by PID. `kind`: gunicorn's sync or gthread worker, or Granian (Rust, WSGI)."""

    def __init__(
        self, module: str, env: dict[str, str], log: Path, workers: int, kind: str, threads: int
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.kind = kind
        if kind == "granian":
            self.command = [
                str(ROOT / ".venv/bin/granian"), "--interface", "wsgi",
                "--host", "127.0.0.1", "--port", str(self.port),
                "--workers", str(workers), "--blocking-threads", str(threads),
                "--log-level", "warning", "--workers-kill-timeout", "2",
                "--working-dir", str(ROOT), module,
            ]  # fmt: skip
        else:
            # --threads explicitly: gunicorn turns sync into gthread when threads > 1, and
            # gunicorn.conf.py (read from the project root) sets its own.
            self.command = [
                str(ROOT / ".venv/bin/gunicorn"),
                "--workers", str(workers), "--worker-class", kind,
                "--threads", str(threads if kind == "gthread" else 1),
                "--bind", f"127.0.0.1:{self.port}",
                "--log-level", "warning", "--graceful-timeout", "2",
                "--pythonpath", str(ROOT), module,
            ]  # fmt: skip
        self.env = env
        self.log_path = log
        self.process: subprocess.Popen | None = None

    def start(self, env: dict[str, str] | None = None) -> None:
        full = {**os.environ, **self.env, **(env or {})}
        self.log = open(self.log_path, "a")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            self.command, cwd=ROOT, env=full, stdout=self.log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.kind} exited; see {self.log_path}")
            try:
                urllib.request.urlopen(self.url + "/health-probe", timeout=2)
            except urllib.error.HTTPError:
                break  # any HTTP answer means a worker is serving
            except OSError:
                time.sleep(0.2)
            else:
                break
        else:
            raise RuntimeError(f"{self.kind} did not start in 90 s")
        # Every worker up (one answering is not all of them): the CPU meter reads their PIDs.
        time.sleep(1)

    def workers(self) -> list[int]:
        out = subprocess.run(
            ["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True
        ).stdout
        return [int(p) for p in out.split()]

    def pids(self) -> list[int]:
        """The master and its workers."""
        return [self.process.pid, *self.workers()]

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM if self.kind != "granian" else signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.log.close()


class Bench:
    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args = args
        self.work = work
        self.results: dict[str, dict] = {}
        self.failures: list[str] = []
        self.database = ""
        self.env: dict[str, str] = {}
        self.matrix: dict[str, dict] = {}

    def server(self, module: str, kind: str, name: str) -> Server:
        """A server for `module` (the app, or the bare baseline), not yet started."""
        env = self.env if module == "wsgi:app" else {}
        log = self.work / f"{name}-{kind}.log"
        return Server(module, env, log, self.args.workers, kind, self.args.server_threads)

    # wrk ------------------------------------------------------------------------------------

    def wrk(
        self, scenario: Scenario, url: str, pool: Path, seconds: float, auth: str, keepalive: bool
    ) -> dict:
        env = {
            **os.environ,
            "BENCH_PATH": scenario.path,
            "BENCH_POOL": str(pool),
            "BENCH_SINGLE_USE": "1" if scenario.single_use else "0",
            "BENCH_AUTH": auth,
            "BENCH_TYPE": scenario.content_type,
            "BENCH_STATUS": str(scenario.status),
            "BENCH_EXPECT": scenario.expect,
            "BENCH_THREADS": str(self.args.threads),
            # Without keep-alive every request opens its own connection (Connection: close).
            "BENCH_CLOSE": "0" if keepalive else "1",
        }
        command = [
            "wrk", f"-t{self.args.threads}", f"-c{self.args.connections}",
            f"-d{seconds:g}s", "--timeout", "5s",
            "-s", str(ROOT / "bench/wrk/scenario.lua"), url,
        ]  # fmt: skip
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=seconds + 60
        )
        for line in done.stdout.splitlines():
            if line.startswith("BENCH_RESULT "):
                result = json.loads(line[len("BENCH_RESULT ") :])
                result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
                return result
        raise RuntimeError(f"wrk gave no result: {done.stdout}\n{done.stderr}")

    def run(
        self,
        key: str,
        scenario: Scenario,
        url: str,
        lines,
        auth: str = "",
        workers: list[int] | None = None,
        meter_pids: list[int] | None = None,
        keepalive: bool | None = None,
    ) -> dict:
        """Warm up, then measure. `lines(n)` makes n request lines (minted on demand for
        single-use pools, sized from the warm-up's rate)."""
        args = self.args
        if keepalive is None:
            keepalive = args.keepalive == "on"
        warm_pool = self._write(f"{key}-warm", lines(int(args.max_rate * args.warmup)))
        warm = self.wrk(scenario, url, warm_pool, args.warmup, auth, keepalive)
        if scenario.single_use:
            size = int(warm["rps"] * 1.5 * args.duration) + 2000
            pool = self._write(f"{key}-measure", lines(size))
        else:
            pool = warm_pool
        profiler = self._profile(key, workers)
        groups = {"server": meter_pids or []}
        if scenario.name != "bare" and self.database:
            groups["postgres"] = cpu.backends(self.database)
        meter = cpu.Meter(groups)
        result = self.wrk(scenario, url, pool, args.duration, auth, keepalive)
        # CPU of the path (the server, PostgreSQL backends, wrk itself) per completed request.
        used = meter.seconds()
        requests = max(result["requests"], 1)
        result["cpu_split_ms"] = {name: s * 1000 / requests for name, s in used.items()}
        result["cpu_ms"] = sum(used.values()) * 1000 / requests
        for process in profiler:
            process.wait()
        result["warmup_wrong"] = warm["wrong"] + warm["exhausted"]
        self.results[key] = result
        bad = result["wrong"] + result["exhausted"] + result["warmup_wrong"]
        if bad:
            self.failures.append(
                f"{key}: {result['wrong']} wrong, {result['exhausted']} past the pool, "
                f"{result['warmup_wrong']} wrong in warm-up; "
                f"e.g. {result['sample'] or warm['sample']}"
            )
        print(report.line(key, scenario.label, result), flush=True)
        return result

    def _write(self, name: str, lines: list[str]) -> Path:
        path = self.work / f"{name.replace('/', '-')}.txt"
        path.write_text("\n".join(lines) + "\n")
        return path

    def _profile(self, key: str, workers: list[int] | None) -> list[subprocess.Popen]:
        if not (self.args.profile and workers):
            return []
        spy = os.environ.get("PY_SPY") or shutil.which("py-spy") or str(ROOT / ".venv/bin/py-spy")
        return [
            subprocess.Popen(
                [
                    spy,
                    "record",
                    "--pid",
                    str(pid),
                    "--duration",
                    str(int(self.args.duration)),
                    "--rate",
                    "200",
                    "--format",
                    "raw",
                    "--nonblocking",
                    "--output",
                    str(self.args.profile / f"{key.replace('/', '-')}-{pid}.txt"),
                ],  # fmt: skip
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for pid in workers
        ]


# What `make serve` runs in production (serve.py).
PRODUCTION = "granian"


def describe(kind: str, args: argparse.Namespace) -> str:
    if kind == "sync":
        return f"gunicorn {args.workers} sync workers"
    if kind == "gthread":
        return f"gunicorn {args.workers} gthread workers × {args.server_threads} threads"
    return f"Granian {args.workers} WSGI workers × {args.server_threads} blocking threads"


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument(
        "--server", choices=SERVERS, default=PRODUCTION, help="the WSGI server of the main table"
    )
    parser.add_argument(
        "--server-threads", type=int, default=4, help="threads per worker (gthread, Granian)"
    )
    parser.add_argument(
        "--keepalive",
        choices=("on", "off"),
        default="on",
        help="wrk keeps connections open, as resource servers do (off: Connection: close)",
    )
    parser.add_argument(
        "--matrix",
        default="",
        help="comma-separated servers (sync,gthread,granian): bare and introspection on each, "
        "with and without keep-alive, after the main table",
    )
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--warmup", type=float, default=5, help="seconds per scenario")
    parser.add_argument("--duration", type=float, default=10, help="seconds per scenario")
    parser.add_argument("--bulk", type=int, default=10**6, help="tokens for the scale run")
    parser.add_argument("--lifecycle", default="10,100000", help="token counts per app")
    parser.add_argument(
        "--max-rate", type=float, default=4000, help="req/s the warm-up pools are sized for"
    )
    parser.add_argument("--only", default="", help="comma-separated scenario keys")
    parser.add_argument("--profile", type=Path, help="write py-spy raw profiles here")
    parser.add_argument("--json", type=Path, help="write every figure here as JSON")
    parser.add_argument("--redis-db", type=int, default=14)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    return parser.parse_args()


def main() -> int:
    args = parse()
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-"))
    dbname = f"bench_{time.strftime('%Y%m%d%H%M%S')}_{os.getpid()}"
    subprocess.run(["createdb", "-h", PG_HOST, "-U", PG_USER, dbname], check=True)
    redis_url = f"redis://127.0.0.1:6379/{args.redis_db}"
    subprocess.run(["redis-cli", "-n", str(args.redis_db), "flushdb"], check=True, stdout=-3)
    servers: list[Server] = []
    try:
        from bench.scenarios import run_all

        bench = Bench(args, work)
        bench.database = dbname
        info = {
            "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
            f"{platform.system()} {platform.release()}, Python {platform.python_version()}",
            "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
            "config": f"{describe(args.server, args)}; wrk -t{args.threads} "
            f"-c{args.connections}, keep-alive {args.keepalive}, {args.warmup:g} s warm-up + "
            f"{args.duration:g} s measured per scenario, 127.0.0.1",
            "database": f"PostgreSQL {dbname}, Redis db {args.redis_db}",
        }
        print(f"{info['date']}  {info['machine']}\n{info['config']}\n", flush=True)
        env = {
            "DATABASE_URL": f"postgresql://{PG_USER}@{PG_HOST}/{dbname}",
            "REDIS_URL": redis_url,
            "SECRET_KEY": "bench-secret-key-0123456789abcdef0123456789",
            "RATELIMIT_ENABLED": "false",
            # gunicorn.conf.py (read from the project root) drains 5 s before a stop; not here.
            "SHUTDOWN_DRAIN_SECONDS": "0",
        }
        bench.env = env
        server = bench.server("wsgi:app", args.server, "server")
        bare = bench.server("bench.bare:app", args.server, "bare")
        servers += [server, bare]
        env["OAUTH_ISSUER"] = server.url
        os.environ.update(env)
        run_all(bench, server, bare)
        info["work"] = str(work)
        print(report.summary(info, bench.results), flush=True)
        if bench.matrix:
            print(report.matrix(bench.matrix), flush=True)
        if args.json:
            args.json.write_text(
                json.dumps(
                    {"info": info, "results": bench.results, "matrix": bench.matrix}, indent=2
                )
            )
        for failure in bench.failures:
            print("WRONG ANSWERS: " + failure, file=sys.stderr)
        return 1 if bench.failures else 0
    finally:
        for server in servers:
            server.stop()
        if not args.keep:
            subprocess.run(
                ["dropdb", "-h", PG_HOST, "-U", PG_USER, "--if-exists", "--force", dbname]
            )
        subprocess.run(["redis-cli", "-n", str(args.redis_db), "flushdb"], stdout=-3)


if __name__ == "__main__":
    sys.exit(main())
