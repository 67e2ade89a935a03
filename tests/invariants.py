"""The database's invariants, checked after fuzzing, faults and load: no token, code, device
code or installation row that the server could not have written whole."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import select

from server.extensions import db
from server.models import (
    App,
    AuthorizationCode,
    DeviceCode,
    Installation,
    OAuthToken,
    Tenant,
)

HEX64 = set("0123456789abcdef")


def _digest_ok(value: str | None) -> bool:
    return value is not None and len(value) == 64 and set(value) <= HEX64


def violations(now: int | None = None) -> list[str]:
    """Every broken invariant, as a readable line; empty when the database is consistent."""
    problems: list[str] = []
    apps = {a.client_id: a for a in db.session.scalars(select(App))}
    editions = dict(db.session.execute(select(Tenant.id, Tenant.edition)).all())

    live_refresh_per_family: Counter[str] = Counter()
    for t in db.session.scalars(select(OAuthToken)):
        where = f"token {t.id} ({t.client_id})"
        if not _digest_ok(t.access_token_hash):
            problems.append(f"{where}: access token not stored as a digest")
        if t.expires_at <= t.issued_at:
            problems.append(f"{where}: expires before it was issued")
        if t.tenant_id not in editions:
            problems.append(f"{where}: unknown tenant {t.tenant_id}")
        if t.auth_type == "appauth":
            if t.user_id is not None or t.authorization_id is not None:
                problems.append(f"{where}: AppAuth token carries a user or consent")
            if t.refresh_token_hash is not None:
                problems.append(f"{where}: AppAuth token has a refresh token")
            if t.installation_id is None:
                problems.append(f"{where}: AppAuth token issued under no installation")
        else:
            if t.user_id is None or t.authorization_id is None:
                problems.append(f"{where}: OBO token without a user or consent")
            if t.refresh_token_hash is None or t.refresh_expires_at is None:
                problems.append(f"{where}: OBO token without a refresh token")
            elif not _digest_ok(t.refresh_token_hash):
                problems.append(f"{where}: refresh token not stored as a digest")
            elif not t.refresh_revoked:
                live_refresh_per_family[t.family_id] += 1
            if editions.get(t.tenant_id, "personal") != "personal" and t.installation_id is None:
                problems.append(f"{where}: team OBO token issued under no installation")
        app = apps.get(t.client_id)
        if app is not None and (app.client_type == "service") != (t.auth_type == "appauth"):
            problems.append(f"{where}: auth_type {t.auth_type} for a {app.client_type} app")
    for family, count in live_refresh_per_family.items():
        if count > 1:
            problems.append(f"family {family}: {count} unrotated refresh tokens")

    for c in db.session.scalars(select(AuthorizationCode)):
        where = f"code {c.id} ({c.client_id})"
        if not _digest_ok(c.code_hash):
            problems.append(f"{where}: not stored as a digest")
        if c.user_id is None or c.authorization_id is None:
            problems.append(f"{where}: no user or consent")
        if bool(c.code_challenge) != bool(c.code_challenge_method):
            problems.append(f"{where}: a challenge without its method, or the reverse")
        issued = sum(1 for _ in db.session.scalars(select(OAuthToken.id).where(
            OAuthToken.family_id == c.family_id, OAuthToken.refresh_revoked.is_(False)
        )))  # fmt: skip
        if c.used_at is None and issued:
            problems.append(f"{where}: tokens issued from an unused code")

    for d in db.session.scalars(select(DeviceCode)):
        where = f"device code {d.id} ({d.client_id})"
        if not (_digest_ok(d.device_code_hash) and _digest_ok(d.user_code_hash)):
            problems.append(f"{where}: codes not stored as digests")
        decided = (d.user_id, d.tenant_id, d.authorization_id)
        if d.status in ("approved", "used") and None in decided:
            problems.append(f"{where}: {d.status} without a user, tenant or consent")
        if d.status == "pending" and d.user_id is not None:
            problems.append(f"{where}: pending but already has a user")
        if d.expires_at <= d.created_at:
            problems.append(f"{where}: expires before it was made")

    for i in db.session.scalars(select(Installation)):
        where = f"installation {i.id} ({i.client_id} in {i.tenant_id})"
        app = apps.get(i.client_id)
        if app is None:
            problems.append(f"{where}: of an app that does not exist")
            continue
        if (app.client_type == "service") != (i.kind == "appauth"):
            problems.append(f"{where}: kind {i.kind} for a {app.client_type} app")
        if i.kind == "obo" and editions.get(i.tenant_id) == "personal":
            problems.append(f"{where}: an OBO installation in a personal tenant")
        if i.status == "installed" and i.installed_at is None:
            problems.append(f"{where}: installed with no time")
    return problems


def assert_consistent(app: Any) -> None:
    with app.app_context():
        problems = violations()
        db.session.remove()
    assert not problems, "\n".join(problems[:20])
