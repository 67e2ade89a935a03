"""Benchmark data made through the domain functions: a user, one app of each type, consents,
a resource server, live and suspended tokens, and single-use pools (codes, refresh tokens,
pending device codes, pre-signed JWT assertions) for the load generator."""

from __future__ import annotations

import base64
import dataclasses
import json
import secrets
import time
from dataclasses import dataclass, field
from multiprocessing import Pool
from urllib.parse import quote

from cryptography.hazmat.primitives import serialization
from sqlalchemy import text

from bench.bare import FLOOR_TABLE
from grants.clients import DEVICE_CODE, JWT_BEARER
from grants.device_code import USER_CODE_ALPHABET, USER_CODE_LENGTH
from grants.secrets import (
    ACCESS_TOKEN_SERVICE,
    ACCESS_TOKEN_USER,
    AUTHORIZATION_CODE,
    REFRESH_TOKEN,
    new_secret,
)
from grants.secrets import DEVICE_CODE as DEVICE_PREFIX
from grants.storage import IssueContext
from server import clients
from server.accounts import create_user, personal_tenant
from server.credentials import create_resource_server
from server.extensions import db
from server.models import User
from server.oauth.consent import approve, places_for
from server.oauth.storage import SqlStorage
from tests.oauth_support import assertion

REDIRECT_URI = "http://127.0.0.1:8765/callback"
SCOPE = "Bot.read Conversation.create Message.create"
TOKEN_TTL = 3600  # outlives the whole run
AUDIENCE = "https://mcp.bench.example/mcp"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@dataclass
class World:
    user_id: int
    tenant_id: int
    resource_server: str  # Authorization header value
    web_id: str
    web_auth: str  # Authorization header value (client_secret_basic)
    web_context: IssueContext
    service_id: str
    service_kid: str
    service_pem: str
    service_context: IssueContext
    device_id: str
    suspended_id: str
    audience_server: str = ""  # Authorization header value of the resource server owning AUDIENCE
    active_tokens: list[str] = field(default_factory=list)
    suspended_tokens: list[str] = field(default_factory=list)
    audience_tokens: list[str] = field(default_factory=list)


def _storage(app) -> SqlStorage:
    return SqlStorage(app.config)


def _obo_context(app, user: User, client_id: str) -> IssueContext:
    """What the consent page records when the user approves (personal tenant)."""
    storage = _storage(app)
    place = places_for(user.id)[0]
    return approve(user, storage.client(client_id), place, SCOPE, storage)


def _mint(app, context: IssueContext, count: int, prefix: str, refresh: bool) -> list[str]:
    storage = _storage(app)
    now = int(time.time())
    issued = []
    for _ in range(count):
        token = {"access_token": new_secret(prefix), "expires_in": TOKEN_TTL}
        if refresh:
            token["refresh_token"] = new_secret(REFRESH_TOKEN)
        ctx = dataclasses.replace(context, family_id=secrets.token_hex(16))
        storage.save_token(token, ctx, now)
        issued.append(token["refresh_token"] if refresh else token["access_token"])
    return issued


def seed(app, *, active_obo: int = 600, active_appauth: int = 200, suspended: int = 200) -> World:
    """The world every scenario runs in; `active_* + suspended` token rows in all. Also the
    table bench/bare.py's issuance floor writes to."""
    db.session.execute(text(FLOOR_TABLE))
    user = create_user("bench@example.com", "bench-password-0123", "Bench")
    db.session.flush()
    tenant = personal_tenant(user.id)
    perms = SCOPE.split()

    def register(client_type: str, name: str) -> tuple[str, str | None]:
        created, secret = clients.register_app(
            user,
            tenant.id,
            name=name,
            client_type=client_type,
            redirect_uris=[REDIRECT_URI] if client_type in ("web", "pkce") else None,
            permissions=perms,
        )
        return created.client_id, secret

    web_id, web_secret = register("web", "Bench web app")
    suspended_id, _ = register("web", "Bench suspended app")
    device_id, _ = register("device", "Bench device app")
    service_id, _ = register("service", "Bench service app")
    key, service_pem = clients.add_key(user, service_id)
    installation = clients.authorize_service_app(user, service_id)
    server, rs_secret = create_resource_server("bench-api")
    mcp, mcp_secret = create_resource_server("bench-mcp", [AUDIENCE])
    db.session.commit()

    web_context = _obo_context(app, user, web_id)
    suspended_context = _obo_context(app, user, suspended_id)
    _obo_context(app, user, device_id)
    service_context = IssueContext(
        client_id=service_id,
        auth_type="appauth",
        tenant_id=tenant.id,
        installation_id=installation.id,
        scope=SCOPE,
    )
    world = World(
        user_id=user.id,
        tenant_id=tenant.id,
        resource_server=basic(server.id, rs_secret),
        web_id=web_id,
        web_auth=basic(web_id, web_secret),
        web_context=web_context,
        service_id=service_id,
        service_kid=key.kid,
        service_pem=service_pem,
        service_context=service_context,
        device_id=device_id,
        suspended_id=suspended_id,
    )
    world.active_tokens = _mint(app, web_context, active_obo, ACCESS_TOKEN_USER, False)
    world.active_tokens += _mint(app, service_context, active_appauth, ACCESS_TOKEN_SERVICE, False)
    world.suspended_tokens = _mint(app, suspended_context, suspended, ACCESS_TOKEN_USER, False)
    # RFC 8707: as many tokens bound to one resource server's URI, for side-by-side figures.
    bound = dataclasses.replace(web_context, audience=[AUDIENCE], resources=[AUDIENCE])
    world.audience_tokens = _mint(app, bound, active_obo, ACCESS_TOKEN_USER, False)
    world.audience_server = basic(mcp.id, mcp_secret)
    db.session.commit()
    clients.set_status(user, suspended_id, "disabled")
    db.session.commit()
    return world


# Single-use pools: each returns request lines "<Authorization header>\t<body>".


def code_lines(app, world: World, count: int) -> list[str]:
    storage = _storage(app)
    expires_at = int(time.time()) + app.config["AUTHORIZATION_CODE_TTL"]
    lines = []
    for i in range(count):
        code = new_secret(AUTHORIZATION_CODE)
        storage.save_code(
            code,
            world.web_context,
            redirect_uri=REDIRECT_URI,
            code_challenge=None,
            code_challenge_method=None,
            expires_at=expires_at,
        )
        lines.append(
            f"\tgrant_type=authorization_code&code={code}&redirect_uri={quote(REDIRECT_URI, '')}"
        )
        if i % 2000 == 1999:
            db.session.flush()
    db.session.commit()
    return lines


def refresh_lines(app, world: World, count: int) -> list[str]:
    tokens = _mint(app, world.web_context, count, ACCESS_TOKEN_USER, True)
    db.session.commit()
    return [f"\tgrant_type=refresh_token&refresh_token={t}" for t in tokens]


def device_lines(app, world: World, count: int) -> list[str]:
    """Pending device codes (no one approves them): every poll answers authorization_pending."""
    storage = _storage(app)
    user_codes: set[str] = set()
    while len(user_codes) < count:
        user_codes.add("".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(USER_CODE_LENGTH)))
    lines = []
    for user_code in user_codes:
        device_code = new_secret(DEVICE_PREFIX)
        storage.save_device_code(world.device_id, SCOPE, device_code, user_code, None)
        lines.append(
            f"\tgrant_type={quote(DEVICE_CODE, '')}&device_code={device_code}"
            f"&client_id={world.device_id}"
        )
    db.session.commit()
    return lines


_signer = None


def _load_signer(pem: str) -> None:
    global _signer
    _signer = serialization.load_pem_private_key(pem.encode(), password=None)


def _sign(job: tuple[str, str, str]) -> str:
    client_id, kid, aud = job
    return assertion(client_id, kid, _signer, aud, session_name="bench")


def assertion_lines(world: World, audience: str, count: int, processes: int = 2) -> list[str]:
    """Pre-signed Coze JWT assertions, one per request (each jti is single use)."""
    jobs = [(world.service_id, world.service_kid, audience)] * count
    with Pool(processes, initializer=_load_signer, initargs=(world.service_pem,)) as pool:
        signed = pool.map(_sign, jobs, chunksize=500)
    body = json.dumps({"grant_type": JWT_BEARER, "duration_seconds": 900})
    return [f"Bearer {jwt}\t{body}" for jwt in signed]


def floor_issue_lines(world: World, count: int) -> list[str]:
    """bench/bare.py's /floor/issue: the service app's id and a fresh JWT id per request."""
    return [f"\tclient_id={world.service_id}&jti={secrets.token_hex(16)}" for _ in range(count)]


def unknown_lines(count: int) -> list[str]:
    return [f"\ttoken={new_secret(ACCESS_TOKEN_USER)}" for _ in range(count)]


def token_lines(tokens: list[str]) -> list[str]:
    return [f"\ttoken={t}&token_type_hint=access_token" for t in tokens]
