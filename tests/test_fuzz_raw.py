"""A raw-request fuzzer: requests generated from the URL map itself (every rule and method),
with hostile path segments, header bytes, cookies and bodies, in process through the WSGI app,
and a short form against the production server (Granian). Three invariants: never a 5xx;
nothing the caller sent is echoed into a response header unescaped; a refused (4xx) request
leaves the database as it was.

Every rule and method first gets three fixed hostile requests; then FUZZ_EXAMPLES=N sets how
many are generated in process (default 150) and FUZZ_LIVE_EXAMPLES=N against it
(default 60)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import socket
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from server.extensions import db
from server.models import Base
from tests.api_helpers import make_team

pytestmark = pytest.mark.usefixtures("fast_passwords")

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))
LIVE_EXAMPLES = int(os.environ.get("FUZZ_LIVE_EXAMPLES", "60"))
_ARGUMENT = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")

# Path segments: numbers at the edges, digits of other scripts, encodings, traversal, markup.
numbers = st.one_of(
    st.sampled_from([0, -1, 1, 2**31, 2**63 - 1, 2**63, 2**64, 10**30]),
    st.integers(min_value=-(2**70), max_value=2**70),
).map(str)
hostile_text = st.one_of(
    st.sampled_from(
        ["²", "١٢", "１", "1e3", "0x1f", " 1", "1 ", "+1", "01", "1_000", "..", "%", "%00",
         "%C2%B2", "<x>", '"', "'", "\\", "a/b", "NaN", "Infinity", "null", "[]", "{}", ""]
    ),
    st.text(max_size=40),
    st.binary(max_size=24).map(lambda b: b.decode("latin-1")),
)  # fmt: skip
segments = st.one_of(numbers, hostile_text)

# Header values: arbitrary bytes (as WSGI sees them, latin-1), minus line breaks, which no
# HTTP parser would pass on as part of one header.
header_bytes = st.binary(max_size=80).map(
    lambda b: b.decode("latin-1").replace("\r", "").replace("\n", "")
)
authorizations = st.one_of(
    header_bytes,
    st.builds(lambda s, v: f"{s}{v}",
              st.sampled_from(["Bearer ", "Basic ", "Bearer\t", "bearer  "]), header_bytes),
    st.builds(lambda b: "Basic " + base64.b64encode(b).decode(), st.binary(max_size=40)),
    st.sampled_from(["Bearer", "Bearer ", "Basic", "Basic Og==", "Digest x=y", "Bearer a, b"]),
    st.just("<PAT>"),
)  # fmt: skip
content_types = st.one_of(
    st.sampled_from(
        ["application/json", "application/x-www-form-urlencoded", "text/plain",
         "multipart/form-data; boundary=x", "application/json; charset=utf-16", ""]
    ),
    header_bytes,
)  # fmt: skip
json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(max_size=20),
    st.floats(allow_nan=False, allow_infinity=False),
)  # fmt: skip
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=10,
)  # fmt: skip
names = st.sampled_from(
    ["grant_type", "client_id", "client_secret", "code", "token", "scope", "duration_seconds",
     "email", "role", "name", "edition", "client_type", "redirect_uris", "permissions", "kind",
     "public_key", "user_code", "decision", "csrf_token", "state", "password"]
)  # fmt: skip
json_bodies = st.one_of(
    st.dictionaries(names, json_values, max_size=6).map(lambda d: json.dumps(d).encode()),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.integers(1, 4000).map(lambda n: b"[" * n + b"]" * n),  # deep
    st.integers(1, 3000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
    st.integers(1, 2000).map(
        lambda n: json.dumps({f"k{i}": i for i in range(n)}).encode()  # wide
    ),
    st.tuples(names, json_values, json_values).map(  # a key twice
        lambda t: b"{" + b",".join(json.dumps({t[0]: v})[1:-1].encode() for v in t[1:]) + b"}"
    ),
    st.tuples(names, st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "-1e400",
                                      "1" * 5000, "-0", "1.0", "true"])).map(
        lambda t: f'{{"{t[0]}": {t[1]}}}'.encode()
    ),
)  # fmt: skip
form_bodies = st.lists(st.tuples(names, st.text(max_size=30)), max_size=6).map(
    lambda pairs: urlencode(pairs).encode()
)
bodies = st.one_of(st.just(b""), json_bodies, form_bodies, st.binary(max_size=200))
cookies = st.one_of(
    header_bytes,
    st.builds(lambda v: f"session={v}", header_bytes),
    st.builds(lambda v: f"lang={v}", st.sampled_from(["zh", "en", "", "zh;zh"]) | header_bytes),
)  # fmt: skip

requests = st.fixed_dictionaries(
    {"rule": st.integers(min_value=0), "method": st.integers(min_value=0),
     "segments": st.lists(segments, min_size=4, max_size=4), "body": bodies},
    optional={"Authorization": authorizations, "Content-Type": content_types,
              "X-Request-Id": st.one_of(header_bytes, st.sampled_from(["ok-id_1.2", "a" * 65])),
              "Accept-Language": header_bytes, "Cookie": cookies,
              "query": st.lists(st.tuples(names, hostile_text), max_size=4)},
)  # fmt: skip
HEADER_NAMES = ("Authorization", "Content-Type", "X-Request-Id", "Accept-Language", "Cookie")
# What an answer may carry in a header value: printable ASCII, nothing else.
_PRINTABLE = re.compile(r"[\x20-\x7e]*")
# What could not stand in a header unescaped: controls, bytes outside ASCII, quotes, markup.
_NEEDS_ESCAPING = re.compile(r"[^\x20-\x7e]|[\"'<>\\]")


def routes(app) -> list[tuple[str, list[str]]]:
    """Every rule of the URL map with every method it answers, HEAD and OPTIONS included."""
    table = []
    for rule in app.url_map.iter_rules():
        table.append((rule.rule, sorted(rule.methods or {"GET"})))
    return sorted(table)


def build(table, example: dict[str, Any], pat: str) -> tuple[str, str, list, bytes]:
    rule, methods = table[example["rule"] % len(table)]
    method = methods[example["method"] % len(methods)]
    parts = iter(example["segments"])
    path = _ARGUMENT.sub(lambda m: quote(next(parts, "1"), safe=""), rule)
    if example.get("query"):
        path += "?" + urlencode(example["query"])
    headers = []
    for name in HEADER_NAMES:
        if name in example:
            value = example[name]
            headers.append((name, pat if value == "<PAT>" else value))
    return method, path, headers, example["body"]


def digest(app) -> str:
    """One digest of every row of every table (when personal access tokens were last used
    excepted: authenticating a call records that, refused or not)."""
    sha = hashlib.sha256()
    with app.app_context():
        for table in Base.metadata.sorted_tables:
            columns = [c for c in table.columns if c.name != "last_used_at"]
            rows = db.session.execute(select(*columns)).all()
            sha.update(table.name.encode())
            for row in sorted(repr(tuple(r)) for r in rows):
                sha.update(row.encode())
        db.session.remove()
    return sha.hexdigest()


def check_answer(status: int, response_headers: list[tuple[str, str]], sent: list, label) -> None:
    assert status < 500, label
    for name, value in response_headers:
        assert _PRINTABLE.fullmatch(value), (label, name, value)
    rid = dict(response_headers).get("X-Request-Id")
    given_rid = dict(sent).get("X-Request-Id")
    if rid is not None and given_rid is not None and rid != given_rid:
        assert re.fullmatch(r"[0-9a-f]{32}", rid), (label, rid)
    for name, value in sent:
        if not _NEEDS_ESCAPING.search(value):
            continue
        for answer_name, answer in response_headers:
            assert value not in answer, (label, name, answer_name)


@pytest.fixture
def world(app, make_user, make_app, auth_header):
    """A user with a personal access token, a team and an app of each kind, so that generated
    ids and credentials sometimes name real things."""
    owner = make_user("fuzz@example.com")
    make_team(app, owner)
    for kind in ("web", "pkce", "device", "service"):
        make_app(owner, kind)
    return auth_header(owner)["Authorization"].removeprefix("Bearer ")


# Sent to every rule and method once before the generated ones, so that none is left out.
FIXED = [
    {"segments": ["²", "9223372036854775808", "%00", "<x>"], "body": b"[" * 3000 + b"]" * 3000,
     "Authorization": "Bearer\t\xff\xfe", "X-Request-Id": "a\x01b",
     "Content-Type": "application/json"},
    {"segments": ["1", "1", "1", "1"], "body": b'{"name": "a", "name": NaN}',
     "Authorization": "<PAT>", "Content-Type": "application/json", "Cookie": "session=\xff"},
    {"segments": ["0", "-1", "..", ""], "body": b"grant_type=%FF&grant_type=x",
     "Content-Type": "application/x-www-form-urlencoded", "Accept-Language": "\xff;q=NaN"},
]  # fmt: skip


def test_raw_requests_from_the_url_map_keep_the_invariants(app, client, world):
    table = routes(app)
    assert len(table) > 40
    state = {"digest": digest(app), "seen": 0, "statuses": set()}

    def send(example: dict[str, Any]) -> None:
        method, path, headers, body = build(table, example, world)
        label = (method, path[:120], [(n, v[:60]) for n, v in headers], body[:80])
        response = client.open(path, method=method, headers=headers, data=body)
        check_answer(response.status_code, list(response.headers.items()), headers, label)
        after = digest(app)
        if 400 <= response.status_code < 500:
            assert after == state["digest"], ("a refused request changed the database", label)
        state["digest"] = after
        state["seen"] += 1
        state["statuses"].add(response.status_code)

    for index, (_rule, methods) in enumerate(table):
        for method_index, method in enumerate(methods):
            # HEAD and OPTIONS are answered by Flask for the other methods; the generator below
            # still sends them.
            if method not in ("HEAD", "OPTIONS"):
                for fixed in FIXED:
                    send({**fixed, "rule": index, "method": method_index})

    @given(example=requests)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(example):
        send(example)

    check()
    assert state["seen"] >= min(EXAMPLES, 100)
    # The generator reached past the entry checks, not only refusals.
    assert any(s < 400 for s in state["statuses"]), state["statuses"]


def _raw_http(port: int, method: str, path: str, headers: list, body: bytes) -> tuple[int, bytes]:
    """One request as raw bytes over a socket (header bytes as sent, not as a client library
    would clean them); the answer's status and header block."""
    lines = [
        f"{method} {path} HTTP/1.1".encode("latin-1"),
        b"Host: 127.0.0.1",
        b"Connection: close",
    ]
    for name, value in headers:
        lines.append(name.encode() + b": " + value.encode("latin-1"))
    if body:
        lines.append(b"Content-Length: " + str(len(body)).encode())
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(b"\r\n".join(lines) + b"\r\n\r\n" + body)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head = answer.split(b"\r\n\r\n", 1)[0]
    status = int(head.split(b" ", 2)[1])
    return status, head


def test_raw_requests_against_the_server_leave_no_traceback(app, live_server, world):
    table = routes(app)
    log = Path(live_server.log.name)
    start = log.stat().st_size
    port = int(live_server.url.rsplit(":", 1)[1])

    @given(example=requests)
    @settings(
        max_examples=LIVE_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(example):
        method, path, headers, body = build(table, example, world)
        # An HTTP request line holds no raw spaces or controls: the path goes percent-encoded.
        path = quote(path, safe="/%?=&+:@!$'()*,;~-._")
        status, head = _raw_http(port, method, path, headers, body)
        answer_headers = [
            tuple(part.strip() for part in line.decode("latin-1").split(":", 1))
            for line in head.split(b"\r\n")[1:]
            if b":" in line
        ]
        check_answer(status, answer_headers, headers, (method, path[:120]))

    check()
    # Two Authorization headers reach the application merged into one list: refused, not read.
    status, _ = _raw_http(
        port, "POST", "/oauth/token",
        [("Authorization", "Basic YTpi"), ("Authorization", "Basic YzpkCg=="),
         ("Content-Type", "application/x-www-form-urlencoded")],
        b"grant_type=refresh_token&refresh_token=x",
    )  # fmt: skip
    assert status == 400
    live_server.log.flush()
    written = log.read_bytes()[start:].decode("utf-8", "replace")
    assert "Traceback" not in written, written[-3000:]
    assert "unhandled error" not in written
    # Most requests reached the application (its log line), not only the server's own parser.
    assert written.count(" rid=") >= LIVE_EXAMPLES // 2, written[-3000:]
