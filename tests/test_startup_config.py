"""A bad configuration stops the server before it serves: one line on stderr naming the
variable, no traceback, a non-zero exit, whichever way it is started."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from server.startup import ConfigError, check_issuer, check_secret_key
from tests.live import ROOT, free_port

GOOD_KEY = "k3y-Zq8vN2xR7tL0pW5mB9cJ4hF6gD1sA"


def _environment(base_config: dict, **changes: str | None) -> dict[str, str]:
    ours = ("RATELIMIT_", "METRICS_", "PROMETHEUS_", "LOG_FORMAT")
    env = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    env.update(
        DATABASE_URL=base_config["SQLALCHEMY_DATABASE_URI"],
        SECRET_KEY=GOOD_KEY,
        OAUTH_ISSUER="http://127.0.0.1:5000",
        SHUTDOWN_DRAIN_SECONDS="0",
    )
    env.pop("DEMO_MODE", None)
    if base_config.get("REDIS_URL"):
        env["REDIS_URL"] = base_config["REDIS_URL"]
    else:
        env.pop("REDIS_URL", None)
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def _launcher(kind: str, port: int) -> list[str]:
    bind = f"127.0.0.1:{port}"
    return {
        "flask run": [sys.executable, "-m", "flask", "--app", "wsgi", "run", "--port", str(port)],
        # From the project root, gunicorn reads gunicorn.conf.py by itself.
        "gunicorn wsgi:app": [sys.executable, "-m", "gunicorn", "--bind", bind, "wsgi:app"],
        "production": [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py",
                       "--bind", bind, "wsgi:app"],
        # Without the configuration file: each worker refuses, and gunicorn stops.
        "gunicorn, no config file": [sys.executable, "-m", "gunicorn", "--config", "/dev/null",
                                     "--workers", "1", "--bind", bind, "wsgi:app"],
    }[kind]  # fmt: skip


CASES = [
    # Each variable once or more, each launcher twice or more. (A good configuration starting
    # is what every other server-process test does.)
    ("SECRET_KEY", {"SECRET_KEY": None}, ["flask run"]),
    ("SECRET_KEY", {"SECRET_KEY": "changeme"}, ["gunicorn wsgi:app", "gunicorn, no config file"]),
    ("DATABASE_URL", {"DATABASE_URL": "postgresql://postgres@127.0.0.1:{port}/none"},
     ["flask run"]),
    ("REDIS_URL", {"REDIS_URL": "redis://127.0.0.1:{port}/0"}, ["production"]),
    ("OAUTH_ISSUER", {"OAUTH_ISSUER": "http://auth.example.com"}, ["flask run"]),
    ("RATELIMIT_TOKEN_CLIENT", {"RATELIMIT_TOKEN_CLIENT": "lots per minute"},
     ["gunicorn wsgi:app"]),
    ("RATELIMIT_ENABLED", {"RATELIMIT_ENABLED": "sometimes"}, ["production"]),
]  # fmt: skip


def test_each_bad_setting_stops_every_launcher_with_one_line(base_config, _schema):
    runs = [(variable, changes, kind) for variable, changes, kinds in CASES for kind in kinds]
    failures: list[str] = []
    for start in range(0, len(runs), 4):  # a few at a time: each loads the whole app
        failures += _run_batch(base_config, runs[start : start + 4])
    assert not failures, "\n\n".join(failures)


def _run_batch(base_config: dict, batch: list) -> list[str]:
    started = []
    for variable, changes, kind in batch:
        dead = free_port()  # nothing listens there
        env = _environment(
            base_config, **{k: (v.format(port=dead) if v else v) for k, v in changes.items()}
        )
        process = subprocess.Popen(
            _launcher(kind, free_port()), cwd=ROOT, env=env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        started.append((variable, kind, process))
    failures = []
    for variable, kind, process in started:
        try:
            out, err = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
            failures.append(f"{kind} with a bad {variable}: still running (it served)")
            continue
        ours = [line for line in err.splitlines() if line.startswith("configuration error:")]
        if process.returncode == 0 or "Traceback" in err + out or len(ours) != 1:
            failures.append(f"{kind} with a bad {variable}: exit {process.returncode}\n{err}")
        elif not ours[0].startswith(f"configuration error: {variable}:"):
            failures.append(f"{kind} with a bad {variable}: said {ours[0]!r}")
    return failures


def test_secret_key_rules():
    check_secret_key({"DEMO_MODE": True})  # the demo keeps a generated key
    check_secret_key({"TESTING": True})
    check_secret_key({"SECRET_KEY": GOOD_KEY})
    for weak in ("", "short", "a" * 40):
        with pytest.raises(ConfigError) as raised:
            check_secret_key({"SECRET_KEY": weak})
        assert raised.value.variable == "SECRET_KEY"


@pytest.mark.parametrize(
    "issuer, ok",
    [
        ("https://auth.example.com", True),
        ("http://127.0.0.1:5000", True),
        ("http://localhost:8080", True),
        ("http://10.0.0.5", True),
        ("http://oauth:5000", True),  # a single-label name no public DNS serves
        ("http://auth.example.com", False),
        ("http://93.184.216.34", False),
        ("ftp://auth.example.com", False),
        ("auth.example.com", False),
    ],
)
def test_issuer_rules(issuer, ok):
    if ok:
        check_issuer({"OAUTH_ISSUER": issuer})
    else:
        with pytest.raises(ConfigError):
            check_issuer({"OAUTH_ISSUER": issuer})


def test_the_environment_is_read_in_one_place():
    from server.config import from_environment

    settings = from_environment(
        {
            "PROXY_FIX_X_FOR": "2",
            "RATELIMIT_TOKEN_CLIENT": "5 per minute",
            "EVENTS_BACKOFF_SECONDS": "7",
            "EVENTS_ALLOW_PRIVATE_HOSTS": "yes",
            "PROMETHEUS_MULTIPROC_DIR": "/run/metrics",
        }
    )
    assert settings == {
        "PROXY_FIX_X_FOR": "2",
        "RATELIMIT_TOKEN_CLIENT": "5 per minute",
        "EVENTS_BACKOFF_SECONDS": 7,
        "EVENTS_ALLOW_PRIVATE_HOSTS": True,
        "PROMETHEUS_MULTIPROC_DIR": "/run/metrics",
    }
    with pytest.raises(ConfigError) as raised:
        from_environment({"EVENTS_BACKOFF_SECONDS": "soon"})
    assert raised.value.variable == "EVENTS_BACKOFF_SECONDS"
    # No other module of the server reads the environment: the factory hands it to
    # server/config.py, and Authlib's own switch for plain-HTTP issuers is the one write; the
    # server process (server/serving.py) hands it to server/config.py too, and sets what its
    # workers inherit.
    readers = {
        str(path.relative_to(ROOT))
        for path in (ROOT / "server").rglob("*.py")
        if "os.environ" in path.read_text() or "getenv" in path.read_text()
    }
    assert readers == {"server/__init__.py", "server/oauth/__init__.py", "server/serving.py"}
