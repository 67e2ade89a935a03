"""Device authorization (RFC 8628): the device_authorization endpoint and the polling grant."""

from __future__ import annotations

from typing import Any

from authlib.common.urls import add_params_to_uri
from authlib.consts import default_json_headers
from authlib.oauth2.rfc6749 import (
    AccessDeniedError,
    InvalidGrantError,
    InvalidScopeError,
    UnauthorizedClientError,
)
from authlib.oauth2.rfc8628 import (
    AuthorizationPendingError,
    DeviceAuthorizationEndpoint,
    DeviceCodeGrant,
    ExpiredTokenError,
    SlowDownError,
)
from authlib.oauth2.rfc8628.endpoint import create_string_user_code

from grants.access import check_standing
from grants.base import GrantSupport
from grants.errors import AccessRefused, TemporarilyUnavailable
from grants.resources import audience
from grants.secrets import DEVICE_CODE, new_secret
from grants.storage import DeviceRecord
from grants.vocabulary import ANY_AUTH_METHOD, DeviceCodeStatus

# RFC 8628 §6.1: 20 consonants, no vowels (no words) and no look-alike digits;
# 8 characters give 20**8 ≈ 2.6e10 codes.
USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
USER_CODE_LENGTH = 8
USER_CODE_DRAWS = 5


def normalize_user_code(raw: str) -> str | None:
    """Case- and hyphen-insensitive: 'wdjb-mjht', 'WDJBMJHT' and ' wdjb mjht ' are one code."""
    if not isinstance(raw, str) or len(raw) > 32:
        return None
    code = "".join(ch for ch in raw.upper() if ch not in "- \t")
    if len(code) != USER_CODE_LENGTH or any(ch not in USER_CODE_ALPHABET for ch in code):
        return None
    return code


class DeviceAuthorization(DeviceAuthorizationEndpoint):
    # Any client may authenticate, so that a web app is told unauthorized_client, not
    # invalid_client; only device apps pass the check that follows.
    CLIENT_AUTH_METHODS = ANY_AUTH_METHOD
    USER_CODE_TYPE = "string"

    @property
    def settings(self) -> dict[str, Any]:
        settings: dict[str, Any] = self.server.settings
        return settings

    def authenticate_client(self, request: Any) -> Any:
        client = super().authenticate_client(request)
        if not client.type.uses_device_flow:
            raise UnauthorizedClientError("Only device apps may use device authorization.")
        denial = check_standing(self.server.storage, client.client_id).denial
        if denial:
            raise AccessRefused(denial, client.name)
        scope = client.get_allowed_scope(request.payload.scope)
        if scope is None:
            raise InvalidScopeError()
        request.allowed_scope = scope
        requested = getattr(request, "resources", None) or []
        request.allowed_resources = audience(requested, None, self.server.storage.known_resources)
        return client

    def create_endpoint_response(
        self, request: Any
    ) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        # Authlib's version hands save_device_credential no request; endpoint objects are shared
        # between threads, so the request's workspace and allowed scope travel explicitly here.
        client = self.authenticate_client(request)
        device_code = new_secret(DEVICE_CODE)
        # A user code must name one device code; on the rare clash with a stored one, draw again.
        for _ in range(USER_CODE_DRAWS):
            user_code = create_string_user_code()
            if self.server.storage.save_device_code(
                client.client_id,
                request.allowed_scope,
                device_code,
                normalize_user_code(user_code) or "",
                getattr(request, "workspace_id", None),
                request.allowed_resources or None,
            ):
                break
        else:
            raise TemporarilyUnavailable(description="No free user code; try again.")
        verification_uri = self.settings["OAUTH_ISSUER"] + "/device"
        data = {
            "device_code": device_code,
            "user_code": user_code,
            "verification_uri": verification_uri,
            "verification_uri_complete": add_params_to_uri(
                verification_uri, [("user_code", user_code)]
            ),
            "expires_in": self.settings["DEVICE_CODE_TTL"],
            "interval": self.settings["DEVICE_POLL_INTERVAL"],
        }
        return 200, data, default_json_headers


class DeviceGrant(GrantSupport, DeviceCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ANY_AUTH_METHOD

    def query_device_credential(self, device_code: str) -> DeviceRecord | None:
        return self.storage.find_device_code(device_code)

    def validate_device_credential(self, credential: DeviceRecord) -> Any:
        if credential.status == DeviceCodeStatus.USED:
            raise InvalidGrantError("The device code has already been used.")
        if credential.expires_at <= self.now():
            raise ExpiredTokenError()
        if credential.status == DeviceCodeStatus.DENIED:
            raise AccessDeniedError()
        if credential.status == DeviceCodeStatus.APPROVED and credential.context is not None:
            self.enforce_access(credential.context)
            resources = self.audience(credential.context.resources or [])
            if not self.storage.claim_device_code(credential.id):
                raise InvalidGrantError("The device code has already been used.")
            credential.context.audience = resources
            self.request.issue_context = credential.context
            return credential.context.user_id
        interval = self.storage.device_poll_interval(
            credential.device_code_digest, credential.expires_at - self.now()
        )
        if interval is not None:
            raise SlowDownError()
        raise AuthorizationPendingError()
