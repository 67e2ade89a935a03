"""JWT bearer grant (RFC 7523) for service apps: AppAuth tokens, never a refresh token.

Beyond RFC 7523 it takes Coze's parameters: `duration_seconds`, `enterprise_id` (the enterprise
path of privileged apps) and `bot_id_list` (a channel app's token narrowed to some bots).
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from authlib.oauth2.rfc6749 import (
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    UnauthorizedClientError,
)
from authlib.oauth2.rfc7523 import JWTBearerGrant as _JWTBearerGrant
from joserfc.jwk import RSAKey

from grants.base import GrantSupport
from grants.clients import Client
from grants.storage import IssueContext
from grants.vocabulary import ID_PATTERN, AppKind, AuthType

MIN_JTI_LENGTH = 16
MAX_CLAIM_LENGTH = 256
MAX_BOTS = 100
_BOT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_ID = re.compile(ID_PATTERN)


class ServiceItself:
    """The `user` of an AppAuth token: the app acting as itself (RFC 7523 `sub` = client_id)."""

    def __init__(self, client_id: str) -> None:
        self.client_id = client_id


class JWTBearerGrant(GrantSupport, _JWTBearerGrant):
    LEEWAY = 60  # for iat/nbf; exp is checked without leeway below

    def extract_assertion(self, assertion: str) -> tuple[dict[str, Any], dict[str, Any]]:
        headers, claims = super().extract_assertion(assertion)
        # RS256 only: never `none`, never HMAC (which a public key would "sign" for anyone).
        if headers.get("alg") != "RS256":
            raise InvalidGrantError("The assertion must be signed with RS256.")
        if headers.get("typ") not in (None, "JWT"):
            raise InvalidGrantError("The assertion's 'typ' must be JWT.")
        kid = headers.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidGrantError("The assertion's header must name its key ('kid').")
        self._kid = kid
        return headers, claims

    def resolve_issuer_client(self, issuer: str) -> Client | None:
        client = self.storage.client(issuer)
        return client if client is not None and client.type.uses_keys else None

    def resolve_client_public_key(self, client: Client) -> RSAKey:
        pem = self.storage.service_key(client.client_id, self._kid)
        if pem is None:
            raise InvalidGrantError("Unknown 'kid' for this app.")
        return RSAKey.import_key(pem)

    def get_audiences(self) -> list[str]:
        issuer = self.settings["OAUTH_ISSUER"]
        return [
            *self.settings["OAUTH_JWT_AUDIENCE"],
            issuer,
            issuer + "/oauth/token",
            issuer + "/api/permission/oauth2/token",
        ]

    def verify_claims(self, claims: Any) -> None:
        super().verify_claims(claims)
        now = self.now()
        exp, iat, jti = claims.get("exp"), claims.get("iat"), claims.get("jti")
        if not isinstance(exp, int) or exp <= now:
            raise InvalidGrantError("The assertion has expired.")
        if not isinstance(iat, int):
            raise InvalidGrantError("The assertion must carry 'iat'.")
        if iat > now + self.settings["JWT_MAX_CLOCK_SKEW"]:
            raise InvalidGrantError("The assertion's 'iat' is in the future.")
        if exp - iat > self.settings["JWT_MAX_ASSERTION_LIFETIME"]:
            raise InvalidGrantError("The assertion lives too long ('exp' - 'iat').")
        if not isinstance(jti, str) or not MIN_JTI_LENGTH <= len(jti) <= MAX_CLAIM_LENGTH:
            raise InvalidGrantError(f"The assertion needs a 'jti' of {MIN_JTI_LENGTH}+ characters.")
        session_name = claims.get("session_name")
        if session_name is not None and (
            not isinstance(session_name, str) or len(session_name) > MAX_CLAIM_LENGTH
        ):
            raise InvalidGrantError("Invalid 'session_name'.")
        # Single use until it expires: the last check, so only a valid assertion is recorded.
        if not self.storage.use_jti(claims["iss"], jti, exp - now + 1):
            raise InvalidGrantError("The assertion has already been used.")
        self._claims = claims

    def authenticate_user(self, subject: str) -> ServiceItself | None:
        return ServiceItself(subject) if subject == self._claims.get("iss") else None

    def has_granted_permission(self, client: Client, user: ServiceItself) -> bool:
        return user.client_id == client.client_id

    def validate_requested_scope(self) -> None:
        scope = self.request.client.get_allowed_scope(self.request.payload.scope)
        if scope is None:
            raise InvalidScopeError("The app does not have every permission asked for.")
        self._scope = scope

    def validate_token_request(self) -> None:
        super().validate_token_request()
        client: Client = self.request.client
        duration = self._duration()
        enterprise_id = self._enterprise_id()
        bot_ids = self._bot_ids(client)
        tenant_id = (
            enterprise_id or getattr(self.request, "target_tenant_id", None) or client.tenant_id
        )
        if tenant_id is None:  # only self-registered apps have no tenant, and none is a service app
            raise UnauthorizedClientError("The app has no tenant to act in.")
        context = IssueContext(
            client_id=client.client_id,
            auth_type=AuthType.APPAUTH,
            tenant_id=tenant_id,
            scope=self._scope,
            session_name=self._claims.get("session_name"),
            family_id=secrets.token_hex(16),
            access_ttl=duration,
            bot_ids=bot_ids,
        )
        self.enforce_access(context, issued_under=False, enterprise_path=enterprise_id is not None)
        context.audience = context.resources = self.audience(None)
        self.request.issue_context = context

    def _enterprise_id(self) -> int | None:
        raw = self.request.payload.data.get("enterprise_id")
        if raw is None or raw == "":
            return None
        if not isinstance(raw, str) or not _ID.match(raw) or int(raw) > 2**63 - 1:
            raise InvalidRequestError("'enterprise_id' must be a tenant's numeric id.")
        return int(raw)

    def _bot_ids(self, client: Client) -> list[str] | None:
        """The bots a channel app's token is narrowed to (space-separated ids), or None."""
        raw = self.request.payload.data.get("bot_id_list")
        if raw is None:
            return None
        if client.app_kind != AppKind.CHANNEL:
            raise InvalidScopeError("A bot list narrows only a channel app's token.")
        bots = list(dict.fromkeys(raw.split())) if isinstance(raw, str) else []
        if not bots or len(bots) > MAX_BOTS or not all(_BOT_ID.match(b) for b in bots):
            raise InvalidRequestError(
                f"'bot_id_list' must hold 1 to {MAX_BOTS} bot ids (letters, digits, '-', '_')."
            )
        return bots

    def _duration(self) -> int:
        raw = self.request.payload.data.get("duration_seconds")
        if raw is None or raw == "":
            return int(self.settings["JWT_DEFAULT_DURATION"])
        try:
            duration = int(raw)
        except (TypeError, ValueError):
            raise InvalidRequestError("'duration_seconds' must be an integer.") from None
        if isinstance(raw, float | bool) or str(raw).strip() != str(duration):
            raise InvalidRequestError("'duration_seconds' must be an integer.")
        if not 1 <= duration <= self.settings["JWT_MAX_DURATION"]:
            raise InvalidRequestError(
                f"'duration_seconds' must be between 1 and {self.settings['JWT_MAX_DURATION']}."
            )
        return duration

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        context: IssueContext = self.request.issue_context
        token = self.generate_token(
            scope=context.scope,
            user=self.request.user,
            expires_in=context.access_ttl,
            include_refresh_token=False,
        )
        self.save_token(token)
        return 200, token, self.TOKEN_RESPONSE_HEADER
