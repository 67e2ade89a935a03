"""Personal access tokens (management API) and resource-server credentials (introspection)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from grants.resources import MAX_RESOURCE_LENGTH, well_formed
from grants.secrets import (
    PERSONAL_ACCESS_TOKEN,
    RESOURCE_SERVER_SECRET,
    digest,
    matches,
    new_secret,
)
from server import audit
from server.errors import DomainError
from server.extensions import db
from server.models import PersonalAccessToken, ResourceServer, ResourceUri, User

MAX_PAT_DAYS = 365


def create_personal_access_token(
    user: User, name: str = "cli", days: int = 30
) -> tuple[PersonalAccessToken, str]:
    """A new token for the management API; the clear text is returned once and never stored."""
    if not 1 <= days <= MAX_PAT_DAYS:
        raise DomainError(422, "invalid_value", f"days must be between 1 and {MAX_PAT_DAYS}")
    token = new_secret(PERSONAL_ACCESS_TOKEN)
    now = datetime.now(UTC)
    pat = PersonalAccessToken(
        user_id=user.id,
        name=name[:100],
        token_hash=digest(token),
        created_at=now,
        expires_at=now + timedelta(days=days),
    )
    db.session.add(pat)
    audit.record("pat.create", tenant_id=None, actor_user_id=user.id, target=name[:100])
    return pat, token


def user_for_personal_access_token(token: str) -> User | None:
    """The owner of a live personal access token, or None."""
    if not token.startswith(PERSONAL_ACCESS_TOKEN):
        return None
    row = db.session.execute(
        select(PersonalAccessToken.id, PersonalAccessToken.expires_at, User)
        .join(User, User.id == PersonalAccessToken.user_id)
        .where(PersonalAccessToken.token_hash == digest(token))
    ).first()
    if row is None or row.expires_at <= datetime.now(UTC):
        return None
    return row.User


def create_resource_server(
    name: str, resources: list[str] | tuple[str, ...] = ()
) -> tuple[ResourceServer, str]:
    """Credentials for a caller of introspection, answering for `resources` (RFC 8707 resource
    URIs); the secret is returned once."""
    name = name.strip()
    if not 1 <= len(name) <= 100:
        raise DomainError(422, "invalid_value", "name must have 1 to 100 characters")
    secret = new_secret(RESOURCE_SERVER_SECRET)
    server = ResourceServer(
        id="rs_" + secrets.token_hex(8),
        name=name,
        secret_hash=digest(secret),
        created_at=datetime.now(UTC),
        resources=[],
    )
    db.session.add(server)
    db.session.flush()
    for uri in dict.fromkeys(resources):
        add_resource(server.id, uri)
    audit.record("resource_server.create", tenant_id=None, actor_user_id=None, target=server.id)
    return server, secret


def add_resource(server_id: str, uri: str) -> ResourceServer:
    """Make the resource server answer for `uri`: an absolute URI without a fragment that no
    other resource server owns. Tokens issued for it introspect only for this server."""
    server = db.session.get(ResourceServer, server_id, with_for_update=True)
    if server is None:
        raise DomainError(404, "not_found", "resource server not found")
    if not well_formed(uri):
        raise DomainError(
            422,
            "invalid_value",
            f"a resource must be an absolute URI without a fragment, at most "
            f"{MAX_RESOURCE_LENGTH} characters",
        )
    owner = db.session.get(ResourceUri, uri)
    if owner is not None:
        if owner.resource_server_id == server_id:
            return server
        raise DomainError(409, "conflict", "another resource server owns this resource")
    db.session.add(ResourceUri(uri=uri, resource_server_id=server_id))
    # The copy introspection reads with the credentials, in its one statement.
    server.resources = [*server.resources, uri]
    db.session.flush()
    audit.record("resource_server.add_resource", tenant_id=None, actor_user_id=None, target=uri)
    return server


def list_resource_servers() -> list[ResourceServer]:
    return list(db.session.scalars(select(ResourceServer).order_by(ResourceServer.created_at)))


def authenticate_resource_server(server_id: str, secret: str) -> ResourceServer | None:
    server = db.session.get(ResourceServer, server_id) if server_id else None
    # Compare even when the id is unknown, so timing does not tell which ids exist.
    ok = matches(secret, server.secret_hash if server else digest(""))
    return server if server is not None and ok else None


def touch_personal_access_token(token: str) -> None:
    db.session.execute(
        update(PersonalAccessToken)
        .where(PersonalAccessToken.token_hash == digest(token))
        .values(last_used_at=datetime.now(UTC))
    )
