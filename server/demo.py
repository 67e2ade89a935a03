"""The demo seed: users, a team, one app of each type, a token and a resource server.

Idempotent. Secrets are stored hashed, so the clear credentials of the demo (and only of the
demo) are kept in the instance folder, readable by the owner alone, and reused on later runs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import current_app
from sqlalchemy import select

from grants.secrets import matches
from grants.vocabulary import ClientType, Edition, InstallationStatus, Role
from server import accounts, clients, credentials, tenants, values
from server.extensions import db
from server.models import App, AppKey, Installation, Membership, Tenant, User

DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "demo-password"
MEMBER_EMAIL = "member@example.com"
MEMBER_PASSWORD = "member-password"
TEAM_NAME = "Demo Team"
APP_NAMES = {
    ClientType.WEB: "Demo web app",
    ClientType.PKCE: "Demo PKCE app",
    ClientType.DEVICE: "Demo device app",
    ClientType.SERVICE: "Demo service app",
}
CREDENTIALS_FILE = "demo-credentials.json"
SERVICE_KEY_FILE = "demo-service-key.pem"
RESOURCE_SERVER_NAME = "Demo resource server"


def redirect_uris_for(url: str) -> list[str]:
    """The demo's redirect URIs: /callback on the server's own host:port, and localhost:8080."""
    parts = urlsplit(url)
    candidates = [f"{parts.scheme}://{parts.netloc}/callback", "http://localhost:8080/callback"]
    usable = [u for u in candidates if values.redirect_uri_problem(u, ClientType.WEB) is None]
    return list(dict.fromkeys(usable))


def _write_private(path: Path, content: str) -> None:
    """Write a file only its owner can read, whatever its mode was before."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(content)


def _load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _user(email: str, password: str, name: str) -> User:
    user = db.session.scalar(select(User).where(User.email == email))
    if user is None:
        user = accounts.create_user(email, password, name)
    return user


def _team(owner: User, member: User) -> Tenant:
    team = db.session.scalar(
        select(Tenant)
        .join(Membership, Membership.tenant_id == Tenant.id)
        .where(
            Tenant.name == TEAM_NAME,
            Tenant.edition == Edition.TEAM,
            Membership.user_id == owner.id,
        )
    )
    if team is None:
        team = tenants.create_team_tenant(owner, TEAM_NAME, Edition.TEAM)
    if accounts.role_in(member.id, team.id) is None:
        # The demo member starts in the team: invited, and accepted on their behalf.
        invitation = tenants.invite(owner, team.id, member.email, Role.MEMBER)
        tenants.accept_invitation(member, invitation.id)
    return team


def _app(
    owner: User, tenant: Tenant, client_type: ClientType, uris: list[str]
) -> tuple[App, str | None]:
    app = db.session.scalar(
        select(App).where(
            App.tenant_id == tenant.id,
            App.name == APP_NAMES[client_type],
            App.client_type == client_type,
        )
    )
    if app is None:
        return clients.register_app(
            owner,
            tenant.id,
            name=APP_NAMES[client_type],
            client_type=client_type,
            description=f"Seeded by `flask demo` ({client_type} app)",
            redirect_uris=uris or None,
            permissions=["Bot.read", "Connector.botChat", "Workspace.read"],
        )
    if uris and app.redirect_uris != uris:
        clients.update_app(owner, app.client_id, redirect_uris=uris)
    return app, None


def _web_secret(owner: User, app: App, fresh: str | None, saved: dict[str, Any]) -> str:
    if fresh:
        return fresh
    known = saved.get("client_secret")
    same_app = saved.get("client_id") == app.client_id
    if same_app and isinstance(known, str) and matches(known, app.client_secret_hash):
        return known
    return clients.rotate_secret(owner, app.client_id)


def _service_key(owner: User, app: App, saved: dict[str, Any], key_path: Path) -> str:
    kids = set(db.session.scalars(select(AppKey.kid).where(AppKey.client_id == app.client_id)))
    kid = saved.get("kid")
    if saved.get("client_id") == app.client_id and kid in kids and key_path.exists():
        return kid
    for old in kids:
        clients.delete_key(owner, app.client_id, old)
    key, private_pem = clients.add_key(owner, app.client_id)
    _write_private(key_path, private_pem or "")
    return key.kid


def _authorized(owner: User, app: App) -> None:
    installed = db.session.scalar(
        select(Installation.id).where(
            Installation.tenant_id == app.tenant_id,
            Installation.client_id == app.client_id,
            Installation.status == InstallationStatus.INSTALLED,
        )
    )
    if installed is None:
        clients.authorize_service_app(owner, app.client_id)


def _token(owner: User, saved: Any) -> str:
    if isinstance(saved, str):
        user = credentials.user_for_personal_access_token(saved)
        if user is not None and user.id == owner.id:
            return saved
    _, token = credentials.create_personal_access_token(owner, name="demo", days=365)
    return token


def _resource_server(saved: Any) -> dict[str, str]:
    if isinstance(saved, dict):
        server_id, secret = saved.get("id"), saved.get("secret")
        valid = isinstance(server_id, str) and isinstance(secret, str)
        if valid and credentials.authenticate_resource_server(server_id, secret) is not None:
            return {"id": server_id, "secret": secret}
    server, secret = credentials.create_resource_server(RESOURCE_SERVER_NAME)
    return {"id": server.id, "secret": secret}


def seed(url: str) -> dict[str, Any]:
    """Seed the demo (again) and return every credential; the caller commits, then saves."""
    url = url.rstrip("/")
    instance = Path(current_app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    saved = _load(instance / CREDENTIALS_FILE)
    saved_apps = saved.get("apps") if isinstance(saved.get("apps"), dict) else {}

    def saved_app(kind: str) -> dict[str, Any]:
        entry = saved_apps.get(kind)
        return entry if isinstance(entry, dict) else {}

    demo = _user(DEMO_EMAIL, DEMO_PASSWORD, "Demo")
    member = _user(MEMBER_EMAIL, MEMBER_PASSWORD, "Member")
    personal = accounts.personal_tenant(demo.id)
    team = _team(demo, member)
    uris = redirect_uris_for(url)

    web, web_secret = _app(demo, personal, ClientType.WEB, uris)
    pkce, _ = _app(demo, personal, ClientType.PKCE, uris)
    device, _ = _app(demo, personal, ClientType.DEVICE, [])
    service, _ = _app(demo, personal, ClientType.SERVICE, [])
    key_path = instance / SERVICE_KEY_FILE
    result = {
        "url": url,
        "login_url": f"{url}/login",
        "device_url": f"{url}/device",
        "users": {
            "demo": {"id": str(demo.id), "email": DEMO_EMAIL, "password": DEMO_PASSWORD},
            "member": {"id": str(member.id), "email": MEMBER_EMAIL, "password": MEMBER_PASSWORD},
        },
        "tenants": {Edition.PERSONAL: str(personal.id), Edition.TEAM: str(team.id)},
        "apps": {
            ClientType.WEB: {
                "client_id": web.client_id,
                "client_secret": _web_secret(demo, web, web_secret, saved_app(ClientType.WEB)),
                "redirect_uris": uris,
                "authorize_url": f"{url}/oauth/authorize?"
                + urlencode(
                    {"response_type": "code", "client_id": web.client_id, "redirect_uri": uris[0]}
                ),
            },
            ClientType.PKCE: {"client_id": pkce.client_id, "redirect_uris": uris},
            ClientType.DEVICE: {"client_id": device.client_id},
            ClientType.SERVICE: {
                "client_id": service.client_id,
                "kid": _service_key(demo, service, saved_app(ClientType.SERVICE), key_path),
                "private_key_path": str(key_path),
            },
        },
        "personal_access_token": _token(demo, saved.get("personal_access_token")),
        "resource_server": _resource_server(saved.get("resource_server")),
        "credentials_file": str(instance / CREDENTIALS_FILE),
    }
    _authorized(demo, service)
    db.session.flush()
    return result


def save(result: dict[str, Any]) -> None:
    """Keep the clear credentials for the next run; call after the seed is committed."""
    _write_private(Path(result["credentials_file"]), json.dumps(result, indent=2) + "\n")
