"""The grants' storage over SQL (apps, codes, tokens) and the shared store (jti, poll pace)."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime
from typing import Any

from flask import current_app
from sqlalchemy import select, update

from grants.access import AppView, InstallationView
from grants.clients import Client
from grants.secrets import digest
from grants.storage import CodeRecord, DeviceRecord, IssueContext, RefreshRecord, Standing
from grants.vocabulary import AuthType, ClientType, DeviceCodeStatus
from server import cimd
from server.extensions import db
from server.models import AuthorizationCode, DeviceCode, OAuthToken
from server.oauth import statements as sql
from server.oauth.statements import CodeRow, RefreshRow, StandingRow
from server.store import Store

LAST_USED_GRANULARITY = 60  # seconds


def _client(client_id: str, row: Any, prefix: str = "") -> Client:
    """The Client of a row holding the app's columns (statements.APP_FIELDS, after `prefix`)."""
    fields = {name: getattr(row, prefix + name) for name in sql.APP_FIELDS}
    fields["redirect_uris"] = tuple(fields["redirect_uris"] or ())
    fields["permissions"] = tuple(fields["permissions"] or ())
    return Client(client_id=client_id, **fields)


def _context(row: RefreshRow) -> IssueContext:
    return IssueContext(
        client_id=row.client_id,
        auth_type=row.auth_type,
        tenant_id=row.tenant_id,
        workspace_id=row.workspace_id,
        user_id=row.user_id,
        installation_id=row.installation_id,
        authorization_id=row.authorization_id,
        scope=row.scope or "",
        session_name=row.session_name,
        family_id=row.family_id,
        resources=row.resources,
    )


class SqlStorage:
    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self._clients: dict[str, Client | None] = {}
        # Read with the app or with a refresh token, for the access rule's next question.
        self._standing: dict[tuple[str, int, int | None], Standing] = {}
        # The app's keys, read with the app.
        self._keys: dict[str, dict[str, str]] = {}
        # Installation and consent "last used" times read in this request.
        self._last_used: dict[tuple[str, int], datetime | None] = {}
        # Refresh tokens read in this request (with their app), by digest.
        self._refresh: dict[str, RefreshRecord | None] = {}

    @property
    def store(self) -> Store:
        return current_app.extensions["store"]

    # Apps and the rows the access rule reads -------------------------------------------

    def client(self, client_id: str) -> Client | None:
        # Cached for this request only: a status change in another process is seen next request.
        if not isinstance(client_id, str):
            return None
        if client_id not in self._clients and cimd.is_metadata_url(client_id):
            # A Client ID Metadata Document: its app, fetched, checked and brought up to date,
            # so read again even if it was read with a refresh token.
            app_id = cimd.app_client_id(client_id)
            self._clients.pop(app_id, None)
            self._clients[client_id] = self.client(app_id)
        if len(client_id) > 32 and client_id not in self._clients:
            return None
        if client_id not in self._clients:
            # Usually the request's first statement, so read outside any transaction.
            found = sql.CLIENT.read_all({"client_id": client_id})
            app = found[0] if found else None
            self._clients[client_id] = _client(client_id, app) if app is not None else None
            if app is not None and ClientType(app.client_type).uses_keys:
                self._keys[client_id] = {
                    row.kid: row.public_key_pem for row in found if row.kid and row.public_key_pem
                }
                if app.edition is not None:
                    # The app acting as itself in its own tenant (AppAuth) asks this next.
                    self._standing[(client_id, app.tenant_id, None)] = self._standing_from(app)
        return self._clients[client_id]

    def app_view(self, client_id: str) -> AppView | None:
        client = self.client(client_id)
        return client.view if client else None

    def standing(self, client_id: str, tenant_id: int, user_id: int | None) -> Standing:
        """The tenant's edition, the app's installation there, the user's consent and whether the
        user is a member of the tenant, now.

        One statement. A standing read with the refresh token in this same request is used
        once instead of reading again.
        """
        prefetched = self._standing.pop((client_id, tenant_id, user_id), None)
        if prefetched is not None:
            return prefetched
        row = sql.STANDING.first(
            {"client_id": client_id, "tenant_id": tenant_id, "user_id": user_id}
        )
        if row is None:
            # No such tenant: the rule refuses whatever the consent; report it all the same.
            authorization_id = (
                db.session.scalar(sql.AUTHORIZATION, {"user_id": user_id, "client_id": client_id})
                if user_id is not None
                else None
            )
            return Standing(None, None, authorization_id, member=False)
        return self._standing_from(row)

    def _standing_from(self, row: StandingRow) -> Standing:
        installation = None
        if row.installation_row is not None:
            assert row.installation_kind is not None and row.installation_status is not None
            installation = InstallationView(
                row.installation_row, row.installation_kind, row.installation_status
            )
            self._last_used[("installations", row.installation_row)] = row.installation_used
        authorization_id = row.authorization_row
        if authorization_id is not None:
            self._last_used[("authorizations", authorization_id)] = row.authorization_used
        return Standing(row.edition, installation, authorization_id, row.member_role is not None)

    def known_resources(self, uris: list[str]) -> set[str]:
        return {row.uri for row in sql.KNOWN_RESOURCES.read_all({"uris": uris})}

    # Authorization codes ----------------------------------------------------------------

    def save_code(
        self,
        code: str,
        context: IssueContext,
        *,
        redirect_uri: str,
        code_challenge: str | None,
        code_challenge_method: str | None,
        expires_at: int,
    ) -> None:
        db.session.add(
            AuthorizationCode(
                code_hash=digest(code),
                client_id=context.client_id,
                user_id=context.user_id,
                tenant_id=context.tenant_id,
                workspace_id=context.workspace_id,
                installation_id=context.installation_id,
                authorization_id=context.authorization_id,
                redirect_uri=redirect_uri,
                scope=context.scope,
                code_challenge=code_challenge,
                code_challenge_method=code_challenge_method,
                family_id=secrets.token_hex(16),
                expires_at=expires_at,
                resources=context.resources,
            )
        )

    def claim_code(self, code: str, client_id: str, now: int) -> CodeRecord | None:
        if not isinstance(code, str) or len(code) > 256:
            return None
        value = digest(code)
        params = {"digest": value, "claimant": client_id, "now": now}
        row: CodeRow | None
        if db.engine.dialect.name == "postgresql":
            # One statement, so on its own (in autocommit) unless a transaction is open: the
            # claim is as atomic, and is kept whatever the exchange ends in, as it would be at
            # the commit of a refused exchange.
            row = sql.CLAIM_CODE.change_one(params)
        else:
            row = sql.CLAIMED_CODE.first(params) if sql.CLAIM_CODE_ONLY.run(params) else None
        if row is None:
            known = sql.CODE.first({"digest": value})
            if known is not None and known.client_id == client_id:
                # Already claimed. RFC 6749 §4.1.2: a code used twice revokes what was issued
                # from it.
                self.revoke_family(known.family_id)
            return None
        if row.expires_at <= now:
            return None
        if row.edition is not None:  # the access rule's next question
            self._standing[(row.client_id, row.tenant_id, row.user_id)] = self._standing_from(row)
        return CodeRecord(
            context=IssueContext(
                client_id=row.client_id,
                auth_type=AuthType.OBO,
                tenant_id=row.tenant_id,
                workspace_id=row.workspace_id,
                user_id=row.user_id,
                installation_id=row.installation_id,
                authorization_id=row.authorization_id,
                scope=row.scope,
                family_id=row.family_id,
                resources=row.resources,
            ),
            redirect_uri=row.redirect_uri,
            code_challenge=row.code_challenge,
            code_challenge_method=row.code_challenge_method,
        )

    # Tokens -----------------------------------------------------------------------------

    def save_token(self, token: dict[str, Any], context: IssueContext, now: int) -> bool:
        refresh = token.get("refresh_token")
        values = {  # statements.INSERT_TOKEN's parameters
            "new_access_token_hash": digest(token["access_token"]),
            "new_refresh_token_hash": digest(refresh) if refresh else None,
            "new_client_id": context.client_id,
            "new_auth_type": context.auth_type,
            "new_tenant_id": context.tenant_id,
            "new_workspace_id": context.workspace_id,
            "new_user_id": context.user_id,
            "new_installation_id": context.installation_id,
            "new_authorization_id": context.authorization_id,
            "new_scope": context.scope,
            "new_session_name": context.session_name,
            "new_family_id": context.family_id or secrets.token_hex(16),
            "new_issued_at": now,
            "new_expires_at": now + int(token["expires_in"]),
            "new_refresh_expires_at": now + self.settings["REFRESH_TOKEN_TTL"] if refresh else None,
            "new_revoked": False,
            "new_refresh_revoked": False,
            "new_connector_binding": context.connector_binding,
            "new_bot_ids": context.bot_ids,
            "new_audience": context.audience or None,
            "new_resources": context.resources or None,
        }
        # One statement, so on its own (in autocommit) unless the request's transaction is open
        # (a device code's claim, or SQLite's code claim): one round trip.
        if context.rotates is None:
            sql.INSERT_TOKEN.write(values)
        elif db.engine.dialect.name == "postgresql":
            # The retirement and the insert in one statement.
            if not sql.ROTATE_REFRESH.write({**values, "token_id": context.rotates}):
                return False
        elif sql.RETIRE_REFRESH.run({"token_id": context.rotates}):  # two, in a transaction
            sql.INSERT_TOKEN.run(values)
        else:
            return False
        self._mark_used(context, now)
        return True

    def _mark_used(self, context: IssueContext, now: int) -> None:
        """Keep "last used" on the installation and consent, at most once a minute, so that busy
        apps do not queue on one row."""
        used_at = datetime.fromtimestamp(now, UTC)
        stale = datetime.fromtimestamp(now - LAST_USED_GRANULARITY, UTC)
        for table, row_id in (
            ("installations", context.installation_id),
            ("authorizations", context.authorization_id),
        ):
            if row_id is None:
                continue
            # Read by the access rule a moment ago in this request, and fresh: nothing to write.
            seen = self._last_used.get((table, row_id))
            if seen is not None and seen >= stale:
                continue
            sql.MARK_USED[table].write({"row_id": row_id, "stale": stale, "used_at": used_at})

    def find_refresh(self, refresh_token: str) -> RefreshRecord | None:
        """The refresh token's record; its app is read with it, for the client authentication
        that comes first (RefreshTokenGrant reads the token before it)."""
        if not isinstance(refresh_token, str) or len(refresh_token) > 256:
            return None
        value = digest(refresh_token)
        if value in self._refresh:
            return self._refresh[value]
        # Read on its own: the rotation's condition, not a transaction, settles a race.
        row = sql.REFRESH.read_one({"digest": value})
        record = None
        if row is not None:
            if row.edition is not None:
                key = (row.client_id, row.tenant_id, row.user_id)
                self._standing[key] = self._standing_from(row)
            if row.app_client_type is not None:
                self._clients.setdefault(row.client_id, _client(row.client_id, row, "app_"))
            record = RefreshRecord(
                token_id=row.id,
                context=_context(row),
                expires_at=row.refresh_expires_at or 0,
                rotated=row.refresh_revoked,
            )
        self._refresh[value] = record
        return record

    def revoke_family(self, family_id: str) -> int:
        return db.session.execute(
            update(OAuthToken)
            .where(OAuthToken.family_id == family_id)
            .values(revoked=True, refresh_revoked=True)
        ).rowcount

    def find_token(self, token: str, hint: str | None = None) -> tuple[OAuthToken, bool] | None:
        """The token row for an access or refresh token, and whether it was the refresh one."""
        if not isinstance(token, str) or len(token) > 256:
            return None
        value = digest(token)
        order = ("refresh", "access") if hint == "refresh_token" else ("access", "refresh")
        for kind in order:
            column = (
                OAuthToken.access_token_hash if kind == "access" else OAuthToken.refresh_token_hash
            )
            row = db.session.scalar(select(OAuthToken).where(column == value))
            if row is not None:
                return row, kind == "refresh"
        return None

    def revoke_access_token(self, token_id: int) -> None:
        db.session.execute(update(OAuthToken).where(OAuthToken.id == token_id).values(revoked=True))

    # Device codes -----------------------------------------------------------------------

    def save_device_code(
        self,
        client_id: str,
        scope: str,
        device_code: str,
        user_code: str,
        workspace_id: int | None,
        resources: list[str] | None = None,
    ) -> bool:
        now = int(time.time())
        inserted = sql.INSERT_DEVICE_CODE[db.engine.dialect.name].first(
            {
                "device_code_hash": digest(device_code),
                "user_code_hash": digest(user_code),
                "client_id": client_id,
                "scope": scope,
                "workspace_id": workspace_id,
                "status": DeviceCodeStatus.PENDING,
                "created_at": now,
                "expires_at": now + self.settings["DEVICE_CODE_TTL"],
                "resources": resources,
            },
        )
        return inserted is not None

    def find_device_code(self, device_code: str) -> DeviceRecord | None:
        if not isinstance(device_code, str) or len(device_code) > 256:
            return None
        # On its own: a pending poll then opens no transaction at all.
        row = sql.DEVICE_CODE.read_one({"digest": digest(device_code)})
        if row is None:
            return None
        context = None
        if row.status == DeviceCodeStatus.APPROVED and row.user_id is not None:
            context = IssueContext(
                client_id=row.client_id,
                auth_type=AuthType.OBO,
                tenant_id=row.tenant_id,
                workspace_id=row.workspace_id,
                user_id=row.user_id,
                installation_id=row.installation_id,
                authorization_id=row.authorization_id,
                scope=row.scope,
                family_id=secrets.token_hex(16),
                resources=row.resources,
            )
        return DeviceRecord(
            id=row.id,
            client_id=row.client_id,
            scope=row.scope,
            status=row.status,
            expires_at=row.expires_at,
            device_code_digest=row.device_code_hash,
            context=context,
        )

    def claim_device_code(self, record_id: int) -> bool:
        return bool(
            db.session.execute(
                update(DeviceCode)
                .where(DeviceCode.id == record_id, DeviceCode.status == DeviceCodeStatus.APPROVED)
                .values(status=DeviceCodeStatus.USED)
            ).rowcount
        )

    def device_poll_interval(self, device_code_digest: str, ttl: int) -> int | None:
        """RFC 8628 §3.5: polling faster than the interval adds 5 s to it, for good."""
        return self.store.pace(
            f"device:polled:{device_code_digest}", self.settings["DEVICE_POLL_INTERVAL"], 5, ttl
        )

    # Service apps -----------------------------------------------------------------------

    def service_key(self, client_id: str, kid: str) -> str | None:
        if len(kid) > 64:
            return None
        if client_id in self._keys:
            return self._keys[client_id].get(kid)
        row = sql.SERVICE_KEY.first({"client_id": client_id, "kid": kid})
        return row.public_key_pem if row is not None else None

    def use_jti(self, client_id: str, jti: str, ttl: int) -> bool:
        return self.store.add(f"jti:{client_id}:{digest(jti)}", "1", ttl)
