"""JWT bearer grant (RFC 7523) for service apps: AppAuth tokens, never a refresh token."""

from __future__ import annotations

import secrets
from typing import Any

from authlib.oauth2.rfc6749 import InvalidGrantError, InvalidRequestError, InvalidScopeError
from authlib.oauth2.rfc7523 import JWTBearerGrant as _JWTBearerGrant
from joserfc.jwk import RSAKey

from grants.base import GrantSupport
from grants.clients import Client
from grants.storage import IssueContext

MIN_JTI_LENGTH = 16
MAX_CLAIM_LENGTH = 256


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
        return client if client is not None and client.client_type == "service" else None

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
        tenant_id = getattr(self.request, "target_tenant_id", None) or client.tenant_id
        context = IssueContext(
            client_id=client.client_id,
            auth_type="appauth",
            tenant_id=tenant_id,
            scope=self._scope,
            session_name=self._claims.get("session_name"),
            family_id=secrets.token_hex(16),
            access_ttl=duration,
        )
        self.enforce_access(context, issued_under=False)
        context.audience = context.resources = self.audience(None)
        self.request.issue_context = context

    def _duration(self) -> int:
        raw = self.request.payload.data.get("duration_seconds")
        if raw is None or raw == "":
            return self.settings["JWT_DEFAULT_DURATION"]
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
