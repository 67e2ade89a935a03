"""Bulk-loading token rows with PostgreSQL COPY, stored exactly as the server stores them
(digests by grants.secrets.digest), so that lookups are as they would be in production."""

from __future__ import annotations

import secrets
import time

from grants.secrets import ACCESS_TOKEN_USER, REFRESH_TOKEN, digest, new_secret
from grants.storage import IssueContext
from server.extensions import db

COLUMNS = (
    "access_token_hash, refresh_token_hash, client_id, auth_type, tenant_id, workspace_id, "
    "user_id, installation_id, authorization_id, scope, session_name, family_id, issued_at, "
    "expires_at, refresh_expires_at, revoked, refresh_revoked"
)


def load_tokens(
    context: IssueContext, count: int, *, keep: int = 0, ttl: int = 3600, prefix: str = ""
) -> list[str]:
    """Insert `count` live tokens issued under `context`; returns the clear text of `keep` of
    them, spread evenly over the load."""
    prefix = prefix or ACCESS_TOKEN_USER
    refresh = context.auth_type == "obo"
    step = max(count // keep, 1) if keep else 0
    kept: list[str] = []
    now = int(time.time())
    raw = db.engine.raw_connection()
    try:
        with (
            raw.driver_connection.cursor() as cursor,
            cursor.copy(f"COPY oauth_tokens ({COLUMNS}) FROM STDIN") as copy,
        ):
            for i in range(count):
                access = new_secret(prefix)
                if step and i % step == 0 and len(kept) < keep:
                    kept.append(access)
                copy.write_row(
                    (
                        digest(access),
                        digest(new_secret(REFRESH_TOKEN)) if refresh else None,
                        context.client_id,
                        context.auth_type,
                        context.tenant_id,
                        context.workspace_id,
                        context.user_id,
                        context.installation_id,
                        context.authorization_id,
                        context.scope,
                        context.session_name,
                        secrets.token_hex(16),
                        now,
                        now + ttl,
                        now + 30 * 24 * 3600 if refresh else None,
                        False,
                        False,
                    )
                )
        raw.commit()
    finally:
        raw.close()
    return kept


def analyze() -> None:
    """Fresh planner statistics after seeding or a bulk load, as autovacuum would soon provide
    (without them the planner guesses, and hash-joins a few rows on every lookup)."""
    raw = db.engine.raw_connection()
    try:
        raw.driver_connection.autocommit = True
        raw.driver_connection.execute("VACUUM ANALYZE")
    finally:
        raw.driver_connection.autocommit = False
        raw.close()


def token_count() -> int:
    from sqlalchemy import func, select

    from server.models import OAuthToken

    return db.session.scalar(select(func.count()).select_from(OAuthToken))
