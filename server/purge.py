"""Bulk clean-up of rows the access rule already treats as dead: set-based deletes, no loops.

Nothing here is needed for safety (a dead token is inactive whether or not its row remains);
it keeps tables small. Run `flask --app wsgi tokens purge` from cron or a periodic job.
"""

from __future__ import annotations

import time

from sqlalchemy import and_, delete, exists, or_, select

from server.extensions import db
from server.models import (
    App,
    Authorization,
    AuthorizationCode,
    DeviceCode,
    Installation,
    OAuthToken,
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
