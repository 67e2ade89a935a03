"""Authorization code grant (web and pkce apps) with PKCE (RFC 7636)."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from authlib.oauth2.rfc6749 import InvalidGrantError, InvalidRequestError, grants
from authlib.oauth2.rfc7636 import CodeChallenge

from grants.base import GrantSupport
from grants.secrets import AUTHORIZATION_CODE, new_secret
from grants.storage import CodeRecord
from grants.vocabulary import ANY_AUTH_METHOD, CodeChallengeMethod

# RFC 7636 asks for 43 characters; cozepy and coze-go send 16 (PROTOCOL.md quirk 10).
PKCE_VALUE = re.compile(r"^[A-Za-z0-9\-._~]{16,128}$")


class PKCE(CodeChallenge):
    """RFC 7636, mandatory for public apps, with the shorter minimum the Coze SDKs need."""

    def __init__(self, require_s256: bool = False) -> None:
        super().__init__(required=True)
        self.require_s256 = require_s256

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        datalist = grant.request.payload.datalist
        challenge = data.get("code_challenge")
        method = data.get("code_challenge_method")
        if (
            len(datalist.get("code_challenge", [])) > 1
            or len(datalist.get("code_challenge_method", [])) > 1
        ):
            raise InvalidRequestError("Repeated PKCE parameter.")
        if not challenge:
            if grant.request.client.is_public or grant.request.client.self_registered:
                raise InvalidRequestError("PKCE is required: send 'code_challenge'.")
            if method:
                raise InvalidRequestError("Missing 'code_challenge'.")
            return
        if not PKCE_VALUE.match(challenge):
            raise InvalidRequestError("Invalid 'code_challenge'.")
        method = method or self.DEFAULT_CODE_CHALLENGE_METHOD
        if method not in self.SUPPORTED_CODE_CHALLENGE_METHOD:
            raise InvalidRequestError("Unsupported 'code_challenge_method'.")
        if (
            self.require_s256 or grant.request.client.self_registered
        ) and method != CodeChallengeMethod.S256:
            raise InvalidRequestError("This server requires 'code_challenge_method=S256'.")

    def validate_code_verifier(self, grant: Any, result: Any) -> None:
        request = grant.request
        verifier = request.form.get("code_verifier")
        code: CodeRecord = request.authorization_code
        if not code.code_challenge:
            if request.client.is_public:
                raise InvalidGrantError("The code was issued without PKCE.")
            if verifier:
                raise InvalidRequestError("The code was issued without a code_challenge.")
            return
        # A code issued with a challenge is never redeemed without its verifier (no downgrade).
        if not verifier:
            raise InvalidRequestError("Missing 'code_verifier'.")
        if not PKCE_VALUE.match(verifier):
            raise InvalidRequestError("Invalid 'code_verifier'.")
        compare = self.CODE_CHALLENGE_METHODS[
            code.code_challenge_method or CodeChallengeMethod.PLAIN
        ]
        if not compare(verifier, code.code_challenge):
            raise InvalidGrantError("Code challenge failed.")


class AuthorizationCodeGrant(GrantSupport, grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ANY_AUTH_METHOD

    def save_authorization_code(self, code: str, request: Any) -> None:
        # The consent page put the tenant, workspace, installation and consent on the request.
        data = request.payload.data
        self.storage.save_code(
            code,
            dataclasses.replace(request.issue_context, resources=request.resources or None),
            redirect_uri=request.payload.redirect_uri or "",
            code_challenge=data.get("code_challenge"),
            code_challenge_method=(data.get("code_challenge_method") or CodeChallengeMethod.PLAIN)
            if data.get("code_challenge")
            else None,
            expires_at=self.now() + self.settings["AUTHORIZATION_CODE_TTL"],
        )

    def generate_authorization_code(self) -> str:
        return new_secret(AUTHORIZATION_CODE)

    def query_authorization_code(self, code: str, client: Any) -> CodeRecord | None:
        return self.storage.claim_code(code, client.client_id, self.now())

    def delete_authorization_code(self, authorization_code: CodeRecord) -> None:
        """Nothing left to do: claim_code marked it used inside this transaction."""

    def authenticate_user(self, authorization_code: CodeRecord) -> int | None:
        return authorization_code.context.user_id

    def validate_token_request(self) -> None:
        super().validate_token_request()
        code: CodeRecord = self.request.authorization_code
        self.enforce_access(code.context)
        # May narrow the resources the person approved, never widen them (RFC 8707 §2.2).
        self.request.issue_context = dataclasses.replace(
            code.context, audience=self.audience(code.context.resources or [])
        )
