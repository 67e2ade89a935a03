"""Load with changes: two server processes under a bounded mixed load (issuance, refresh,
introspection) while a separate loop disables and enables apps, uninstalls and reinstalls one,
and revokes and renews a consent. A checker compares every answer with the time of the last
change that had returned: an `active: true`, or a token, given after a disable, uninstall or
revoke had returned is a violation. Zero violations, zero 5xx.

LOAD_SECONDS sets the length (15 s by default, as CI runs it; 60 for the long form).
Loopback only, every loop bounded in time.
"""

from __future__ import annotations

import http.client
import json
import os
import queue
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
import requests
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from sqlalchemy import select

from grants.secrets import digest
from server.extensions import db
from server.models import Authorization, Installation, OAuthToken
from tests.api_helpers import personal_id
from tests.fault_support import obo_tokens, signed_in
from tests.invariants import assert_consistent
from tests.live import LiveServer
from tests.oauth_support import JWT_BEARER, assertion, resource_server, service_app

pytestmark = pytest.mark.usefixtures("fast_passwords")

SECONDS = float(os.environ.get("LOAD_SECONDS", "15"))
LOAD_THREADS = 12


@dataclass
class Answer:
    kind: str  # introspect, issue, refresh
    client_id: str
    token: str  # the token introspected, or the access token received
    sent: float
    done: float
    status: int
    active: bool = False


@dataclass
class Change:
    kind: str  # disable, enable, uninstall, reinstall, revoke, reconsent
    client_id: str
    sent: float
    returned: float
    row_id: int | None = None  # the installation or consent that died


@dataclass
class Run:
    answers: list[Answer] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)  # token -> client_id
    examples: list[str] = field(default_factory=list)  # violations, for the failure message
    lock: threading.Lock = field(default_factory=threading.Lock)

    def keep(self, token: str, client_id: str) -> None:
        with self.lock:
            self.tokens[token] = client_id

    def pick(self, rng: random.Random) -> tuple[str, str]:
        with self.lock:
            token = rng.choice(list(self.tokens))
            return token, self.tokens[token]


class Reply:
    def __init__(self, status: int, body: bytes) -> None:
        self.status_code = status
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)


class Connection:
    """One keep-alive HTTP/1.1 connection: a fraction of the client work `requests` does per
    call, so that the servers, not the client, set the pace."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port
        self.connection: http.client.HTTPConnection | None = None

    def post(self, path: str, fields: dict[str, str], headers: dict | None = None) -> Reply:
        body = urlencode(fields)
        headers = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
        if self.connection is None:
            self.connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            self.connection.request("POST", path, body, headers)
            response = self.connection.getresponse()
            return Reply(response.status, response.read())
        except (http.client.HTTPException, OSError) as error:
            self.connection.close()
            self.connection = None
            raise ConnectionError(str(error)) from error


@pytest.fixture
def two_servers(base_config, _schema, tmp_path):
    a = LiveServer(base_config, tmp_path / "a.log")
    b = LiveServer(base_config, tmp_path / "b.log")
    yield a, b
    a.stop()
    b.stop()


def _disabled_spans(changes: list[Change], client_id: str, end: float) -> list[tuple[float, float]]:
    """From each disable's return to the next enable's sending: nothing may be active."""
    spans, start = [], None
    for c in sorted(changes, key=lambda c: c.sent):
        if c.client_id != client_id:
            continue
        if c.kind == "disable":
            start = c.returned
        elif c.kind == "enable" and start is not None:
            spans.append((start, c.sent))
            start = None
    if start is not None:
        spans.append((start, end))
    return spans


def check(run: Run, issued_under: dict[str, tuple[int | None, int | None]], end: float) -> Counter:
    """Count each kind of answer and every violation of the access rule's timing."""
    counts: Counter = Counter()
    deaths: dict[tuple[str, int], float] = {}
    for c in run.changes:
        if c.kind == "uninstall" and c.row_id is not None:
            deaths[("installation", c.row_id)] = c.returned
        if c.kind == "revoke" and c.row_id is not None:
            deaths[("authorization", c.row_id)] = c.returned
    spans = {
        client_id: _disabled_spans(run.changes, client_id, end)
        for client_id in {c.client_id for c in run.changes}
    }
    for a in run.answers:
        counts[f"{a.kind} {a.status}"] += 1
        if a.status >= 500:
            counts["5xx"] += 1
        granted = a.active if a.kind == "introspect" else a.status == 200
        if not granted:
            continue
        for start, stop in spans.get(a.client_id, []):
            # The whole request inside the span: sent after the disable had returned, answered
            # before the enable was even sent. (One sent earlier may rightly have been served
            # before the disable; one answered later, after the enable.)
            if start < a.sent and a.done < stop:
                counts["violation: active after disable"] += 1
                run.examples.append(f"{a} inside disabled span ({start:.3f}, {stop:.3f})")
        installation, authorization = issued_under.get(a.token, (None, None))
        for what, row in (("installation", installation), ("authorization", authorization)):
            died = deaths.get((what, row)) if row is not None else None
            if died is not None and a.sent > died:
                label = "uninstall" if what == "installation" else "revoke"
                counts[f"violation: active after {label}"] += 1
                run.examples.append(f"{a} after {label} of {what} {row} returned at {died:.3f}")
    return counts


def test_access_changes_hold_under_load_across_two_processes(
    app, two_servers, make_user, make_app, auth_header, capsys
):
    run, counts = load_with_changes(
        app, list(two_servers), make_user, make_app, auth_header, capsys, label="2 processes"
    )
    assert counts["5xx"] == 0, counts
    assert_held(run, counts)
    assert_consistent(app)


def assert_held(run: Run, counts: Counter) -> None:
    """No violation, and every kind of change and answer happened."""
    violations = sum(v for k, v in counts.items() if k.startswith("violation"))
    assert violations == 0, "\n".join(run.examples[:10])
    kinds = Counter(c.kind for c in run.changes)
    assert kinds["disable"] and kinds["uninstall"] and kinds["revoke"], kinds
    assert counts["introspect 200"] and counts["issue 200"] and counts["refresh 200"], counts


def load_with_changes(
    app,
    servers,
    make_user,
    make_app,
    auth_header,
    capsys,
    *,
    label: str,
    seconds: float = SECONDS,
    midway=None,
) -> tuple[Run, Counter]:
    """The load and the changes against `servers` (anything with a .url: server processes, or
    one proxy in front of several); `midway()` runs halfway through. Prints the counts."""
    owner = make_user()
    headers = auth_header(owner)
    personal = personal_id(app, owner)
    rs = resource_server(app)
    flipped = service_app(app, owner, make_app)  # disabled and enabled
    moved = service_app(app, owner, make_app)  # uninstalled and reinstalled
    pkce, _ = make_app(owner, "pkce")  # disabled and enabled; its consent revoked and renewed
    browsers = [signed_in(s.url, owner.email) for s in servers]
    audience = {s.url: s.url.split("//")[1] for s in servers}
    run = Run()
    chains: queue.Queue = queue.Queue()
    for n in range(4):
        tokens = obo_tokens(servers[n % len(servers)].url, browsers[n % len(servers)],
                            pkce.client_id)  # fmt: skip
        run.keep(tokens["access_token"], pkce.client_id)
        chains.put(tokens)
    stop = threading.Event()
    deadline = time.monotonic() + seconds + 3600  # set for real when the threads start

    # Keys parsed once: loading a PEM (with its checks) costs far more than signing.
    keys = {app_id: load_pem_private_key(pem.encode(), None) for app_id, _, pem in (flipped, moved)}

    def signed(app_id: str, kid: str, server) -> str:
        return assertion(app_id, kid, keys[app_id], audience[server.url])

    def post(session, server, path, data, headers=None):
        return session.post(path, data, headers)

    def mint(session, server, app_id, kid, pem, rng):
        jwt = signed(app_id, kid, server)
        sent = time.monotonic()
        r = post(session, server, "/oauth/token", data={"grant_type": JWT_BEARER,
                                                         "assertion": jwt})  # fmt: skip
        done = time.monotonic()
        token = r.json().get("access_token", "") if r.status_code == 200 else ""
        if token:
            run.keep(token, app_id)
        return Answer("issue", app_id, token, sent, done, r.status_code)

    def refresh(session, server, held):
        sent = time.monotonic()
        r = post(session, server, "/oauth/token", data={
            "grant_type": "refresh_token", "client_id": pkce.client_id,
            "refresh_token": held["refresh_token"]})  # fmt: skip
        done = time.monotonic()
        token = ""
        if r.status_code == 200:
            held.update(r.json())
            token = held["access_token"]
            run.keep(token, pkce.client_id)
        return Answer("refresh", pkce.client_id, token, sent, done, r.status_code), r

    dropped = [0]

    def load(seed: int) -> None:
        rng = random.Random(seed)
        sessions = {s.url: Connection(s.url) for s in servers}
        held = None
        while not stop.is_set() and time.monotonic() < deadline:
            server = rng.choice(servers)
            try:
                held = step(rng, server, sessions[server.url], held)
            except ConnectionError:
                # the server closed an idle keep-alive connection as it was reused: no answer was
                # given, so nothing to check; a fresh connection next time.
                dropped[0] += 1

    def step(rng, server, session, held):
        roll = rng.random()
        if roll < 0.7:
            token, client_id = run.pick(rng)
            sent = time.monotonic()
            r = post(session, server, "/oauth/introspect", data={"token": token}, headers=rs)
            active = r.status_code == 200 and r.json()["active"]
            answer = Answer(
                "introspect", client_id, token, sent, time.monotonic(), r.status_code, active
            )
        elif roll < 0.85:
            app_id, kid, pem = rng.choice([flipped, moved])
            answer = mint(session, server, app_id, kid, pem, rng)
        else:
            if held is None:
                try:
                    held = chains.get_nowait()
                except queue.Empty:
                    return held
            answer, r = refresh(session, server, held)
            if r.status_code == 400 and r.json().get("error") == "invalid_grant":
                held = None  # the consent was revoked: this family is over
        with run.lock:
            run.answers.append(answer)
        return held

    def change(kind: str, client_id: str, method: str, path: str, server, **kw) -> None:
        row_id = None
        with app.app_context():
            if kind == "uninstall":
                row_id = db.session.scalar(
                    select(Installation.id).where(
                        Installation.client_id == client_id, Installation.tenant_id == personal
                    )
                )
            if kind == "revoke":
                row_id = db.session.scalar(
                    select(Authorization.id).where(
                        Authorization.client_id == client_id, Authorization.user_id == owner.id
                    )
                )
            db.session.remove()
        sent = time.monotonic()
        r = requests.request(method, server.url + path, headers=headers, timeout=30, **kw)
        returned = time.monotonic()
        assert r.status_code in (200, 201, 204), (kind, r.status_code, r.text)
        run.changes.append(Change(kind, client_id, sent, returned, row_id))

    # The midway step (a node killed) waits for the change in hand and its undoing to finish: a
    # change lost with its node would leave the checker not knowing whether it happened.
    between_changes = threading.Lock()
    changer_failed: list[BaseException] = []

    def changes() -> None:
        try:
            change_until_deadline()
        except BaseException as error:  # surfaced by the test, after the load has stopped
            changer_failed.append(error)
            stop.set()

    def change_until_deadline() -> None:
        rng = random.Random(7)
        step = 0
        while time.monotonic() < deadline - 0.5:
            with between_changes:
                change_and_undo(step, rng)
            step += 1
            time.sleep(0.2)

    def change_and_undo(step: int, rng: random.Random) -> None:
        server = servers[step % len(servers)]
        other = servers[(step + 1) % len(servers)]
        what = step % 3
        if what == 0:
            target = rng.choice([flipped[0], pkce.client_id])
            change("disable", target, "POST", f"/api/v1/apps/{target}/disable", server)
            time.sleep(0.3)
            change("enable", target, "POST", f"/api/v1/apps/{target}/enable", other)
        elif what == 1:
            change("uninstall", moved[0], "DELETE",
                   f"/api/v1/tenants/{personal}/installations/{moved[0]}", server)  # fmt: skip
            time.sleep(0.3)
            change("reinstall", moved[0], "POST", f"/api/v1/apps/{moved[0]}/authorize", other)
        else:
            change("revoke", pkce.client_id, "DELETE",
                   f"/api/v1/me/authorized-apps/{pkce.client_id}", server)  # fmt: skip
            time.sleep(0.3)
            index = servers.index(other)
            fresh = obo_tokens(other.url, browsers[index], pkce.client_id)
            run.changes.append(Change("reconsent", pkce.client_id, 0, time.monotonic()))
            run.keep(fresh["access_token"], pkce.client_id)
            chains.put(fresh)

    workers = [threading.Thread(target=load, args=(n,)) for n in range(LOAD_THREADS)]
    changer = threading.Thread(target=changes)
    started = time.monotonic()
    deadline = started + seconds
    for t in [*workers, changer]:
        t.start()
    midway_timer = None
    if midway is not None:

        def midway_then_more_load() -> None:
            # However long the midway step takes on a loaded machine, the load goes on through
            # it and for a second after, so that its effect is seen.
            nonlocal deadline
            deadline = float("inf")
            try:
                with between_changes:
                    midway()
            finally:
                deadline = time.monotonic() + 1.0

        midway_timer = threading.Timer(seconds / 2, midway_then_more_load)
        midway_timer.start()
    changer.join(timeout=seconds + 60)
    if midway_timer is not None:
        midway_timer.join(timeout=120)
    for t in workers:  # each stops at the deadline, or at once if the changer failed
        t.join(timeout=seconds + 60)
    stop.set()
    end = time.monotonic()
    if changer_failed:
        raise changer_failed[0]

    # Which installation and consent each token was issued under, as the database says.
    with app.app_context():
        issued_under = {}
        for token in run.tokens:
            row = db.session.execute(
                select(OAuthToken.installation_id, OAuthToken.authorization_id).where(
                    OAuthToken.access_token_hash == digest(token)
                )
            ).first()
            if row is not None:
                issued_under[token] = (row.installation_id, row.authorization_id)
        db.session.remove()
    counts = check(run, issued_under, end)
    elapsed = end - started
    violations = sum(v for k, v in counts.items() if k.startswith("violation"))
    rate = len(run.answers) / elapsed
    lines = [
        f"load with changes: {len(run.answers)} requests in {elapsed:.1f} s ({rate:.0f}/s) "
        f"over {label}, {len(run.changes)} changes, {dropped[0]} connections dropped",
        *(f"  {key:40} {counts[key]}" for key in sorted(counts)),
    ]
    for kind in ("introspect", "issue", "refresh"):
        took = sorted(a.done - a.sent for a in run.answers if a.kind == kind)
        if took:
            lines.append(
                f"  {kind + ' ms (median, max)':40} {took[len(took) // 2] * 1000:.0f}, "
                f"{took[-1] * 1000:.0f}"
            )
    lines.append(f"  {'violations':40} {violations}")
    # Shown even without -s, so that every CI log carries the counts.
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    return run, counts


def test_the_checker_counts_a_late_active_answer():
    """The checker itself: an answer after a disable returned, or after an uninstall or revoke
    returned, is counted; one sent before is not."""
    run = Run()
    run.changes = [
        Change("disable", "A", 1.0, 2.0),
        Change("enable", "A", 5.0, 6.0),
        Change("uninstall", "B", 1.0, 2.0, row_id=10),
        Change("revoke", "C", 1.0, 2.0, row_id=20),
    ]
    run.answers = [
        Answer("introspect", "A", "a1", 1.5, 1.6, 200, True),  # before the disable returned
        Answer("introspect", "A", "a2", 3.0, 3.1, 200, True),  # violation
        Answer("issue", "A", "a3", 3.0, 3.1, 200),  # violation
        Answer("introspect", "A", "a4", 5.5, 5.6, 200, True),  # enable was sent
        Answer("introspect", "A", "a6", 4.0, 5.5, 200, True),  # answered after enable was sent
        Answer("introspect", "B", "b1", 3.0, 3.1, 200, True),  # violation (installation 10)
        Answer("introspect", "B", "b2", 3.0, 3.1, 200, True),  # a new installation: fine
        Answer("introspect", "C", "c1", 3.0, 3.1, 200, True),  # violation (consent 20)
        Answer("introspect", "C", "c2", 1.5, 1.6, 200, True),  # before the revoke returned
        Answer("introspect", "A", "a5", 3.0, 3.1, 503),
    ]
    issued = {"b1": (10, None), "b2": (11, None), "c1": (None, 20), "c2": (None, 20)}
    counts = check(run, issued, end=10.0)
    assert counts["violation: active after disable"] == 2
    assert counts["violation: active after uninstall"] == 1
    assert counts["violation: active after revoke"] == 1
    assert counts["5xx"] == 1
