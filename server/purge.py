"""Bulk clean-up of rows the access rule already treats as dead: set-based deletes, no loops.

Nothing here is needed for safety (a dead token is inactive whether or not its row remains);
it keeps tables small. Run `flask --app wsgi tokens purge` from cron or a periodic job.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import and_, delete, exists, insert, literal, or_, select

from grants.vocabulary import Registration
from server.extensions import db
from server.models import (
    App,
    Authorization,
    AuthorizationCode,
    DeviceCode,
    Installation,
    OAuthToken,
    RetiredClientId,
)


def purge(now: int | None = None) -> dict[str, int]:
    """Delete expired and dead tokens, codes and device codes; returns counts per kind."""
    now = int(time.time()) if now is None else now
    token = OAuthToken
    expired = and_(
        token.expires_at < now,
        or_(token.refresh_expires_at.is_(None), token.refresh_expires_at < now),
    )
    # A rotated refresh token is kept until it expires: presenting it again must still be
    # recognised as a reuse and end its family.
    revoked = and_(
        token.revoked.is_(True),
        or_(token.refresh_token_hash.is_(None), token.refresh_revoked.is_(True)),
    )
    orphaned = or_(
        ~exists(select(App.client_id).where(App.client_id == token.client_id)),
        and_(
            token.installation_id.is_not(None),
            ~exists(select(Installation.id).where(Installation.id == token.installation_id)),
        ),
        and_(
            token.authorization_id.is_not(None),
            ~exists(select(Authorization.id).where(Authorization.id == token.authorization_id)),
        ),
    )
    counts = {
        "registrations": _unused_registrations(now),
        "tokens": db.session.execute(delete(token).where(or_(expired, revoked, orphaned))).rowcount,
        "codes": db.session.execute(
            delete(AuthorizationCode).where(AuthorizationCode.expires_at < now)
        ).rowcount,
        "device_codes": db.session.execute(
            delete(DeviceCode).where(DeviceCode.expires_at < now)
        ).rowcount,
    }
    db.session.commit()
    return counts


def _unused_registrations(now: int) -> int:
    """Self-registered apps that no one consented to within OAUTH_REGISTRATION_UNUSED_DAYS
    (RFC 7591 §5: open registration must not fill the table for good). Never consented means
    no authorization, code or token ever existed, so the app row is all there is; its
    client_id is retired like any deleted app's."""
    days = current_app.config["OAUTH_REGISTRATION_UNUSED_DAYS"]
    cutoff = datetime.fromtimestamp(now, UTC) - timedelta(days=days)
    unused = select(App.client_id).where(
        App.registration != Registration.MANAGED,
        App.consented_at.is_(None),
        App.created_at < cutoff,
    )
    retired_at = literal(datetime.fromtimestamp(now, UTC), RetiredClientId.deleted_at.type)
    db.session.execute(
        insert(RetiredClientId).from_select(
            ["client_id", "deleted_at"],
            select(App.client_id, retired_at).where(App.client_id.in_(unused)),
        )
    )
    # A member may have asked for an installation without consenting: that request goes too.
    db.session.execute(
        delete(Installation)
        .where(Installation.client_id.in_(unused))
        .execution_options(synchronize_session=False)
    )
    return db.session.execute(
        delete(App).where(App.client_id.in_(unused)).execution_options(synchronize_session=False)
    ).rowcount
