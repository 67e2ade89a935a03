"""Self-registration: RFC 7591 dynamic client registration and RFC 7592 client configuration,
on Authlib's endpoint classes. A registered client becomes an app without an owning tenant
(server/clients.py); after that nothing treats it differently from any other app."""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oauth2.rfc7591 import (
    ClientMetadataClaims,
    ClientRegistrationEndpoint,
    InvalidClientMetadataError,
    InvalidRedirectURIError,
)
from authlib.oauth2.rfc7592 import ClientConfigurationEndpoint
from flask import current_app

from grants.secrets import CLIENT_SECRET, matches, new_secret
from grants.vocabulary import AuthMethod, ClientType, GrantType
from server import clients, permissions, values
from server.limits import MAX_EMAIL_LENGTH, MAX_NAME_LENGTH, MAX_REDIRECT_URIS

GRANT_TYPES = [GrantType.AUTHORIZATION_CODE.value, GrantType.REFRESH_TOKEN.value]
RESPONSE_TYPES = ["code"]
AUTH_METHODS = [str(m) for m in AuthMethod]
MAX_URL_LENGTH = 2000
MAX_TEXT_LENGTH = dict.fromkeys(("client_name", "software_id", "software_version"), MAX_NAME_LENGTH)
MAX_CONTACTS = 5
STRING_FIELDS = ("token_endpoint_auth_method", "scope", "client_uri", "logo_uri", "tos_uri",
                 "policy_uri", *MAX_TEXT_LENGTH)  # fmt: skip


def _bad(description: str) -> InvalidClientMetadataError:
    return InvalidClientMetadataError(description=description)


class Metadata(ClientMetadataClaims):
    """RFC 7591 §2 with this server's limits: each field of the right type and length, https or
    loopback redirect URIs only, known grant and response types, scopes from the catalogue.
    Key material (jwks, jwks_uri) is not taken: no auth method here would use it."""

    REGISTERED_CLAIMS = [
        c for c in ClientMetadataClaims.REGISTERED_CLAIMS if c not in ("jwks", "jwks_uri")
    ]

    def validate(self, now: Any = None, leeway: int = 0) -> None:
        for name in ("grant_types", "response_types", "contacts"):
            value = self.get(name)
            if value is not None and not (
                isinstance(value, list) and all(isinstance(v, str) for v in value)
            ):
                raise _bad(f"{name} must be a list of strings")
        for name in STRING_FIELDS:
            value = self.get(name)
            if value is not None and not isinstance(value, str):
                raise _bad(f"{name} must be a string")
        super().validate(now, leeway)

    def validate_redirect_uris(self) -> None:
        uris = self.get("redirect_uris")
        if not isinstance(uris, list) or not uris or not all(isinstance(u, str) for u in uris):
            raise InvalidRedirectURIError(description="redirect_uris must be a non-empty list")
        if len(uris) > MAX_REDIRECT_URIS:
            raise InvalidRedirectURIError(
                description=f"at most {MAX_REDIRECT_URIS} redirect URIs are allowed"
            )
        for index, uri in enumerate(uris):
            # https, or http on a loopback host; nothing else (no private-use schemes here).
            problem = values.redirect_uri_problem(uri, ClientType.WEB)
            if problem is None and "*" in uri:
                problem = "must not contain a wildcard"
            if problem:
                raise InvalidRedirectURIError(description=f"redirect_uris[{index}] {problem}")

    def validate_token_endpoint_auth_method(self) -> None:
        method = self.setdefault("token_endpoint_auth_method", AuthMethod.CLIENT_SECRET_BASIC.value)
        if method not in AUTH_METHODS:
            raise _bad(f"token_endpoint_auth_method must be one of {', '.join(AUTH_METHODS)}")

    def validate_grant_types(self) -> None:
        code = GrantType.AUTHORIZATION_CODE.value
        kinds = self.setdefault("grant_types", [code])
        if not kinds or not set(kinds) <= set(GRANT_TYPES) or code not in kinds:
            raise _bad("grant_types must be authorization_code, optionally with refresh_token")

    def validate_response_types(self) -> None:
        kinds = self.setdefault("response_types", ["code"])
        if kinds != ["code"]:
            raise _bad("response_types must be ['code']")

    def validate_client_name(self) -> None:
        self._text("client_name")

    def validate_software_id(self) -> None:
        self._text("software_id")

    def validate_software_version(self) -> None:
        self._text("software_version")

    def validate_scope(self) -> None:
        scope = self.get("scope")
        if scope is None:
            return
        if len(scope) > MAX_URL_LENGTH:
            raise _bad("scope is too long")
        unknown = [name for name in scope.split() if name not in permissions.CATALOGUE]
        if unknown:
            raise _bad(f"scope names an unknown permission: {unknown[0][:64]!r}")

    def validate_contacts(self) -> None:
        contacts = self.get("contacts")
        if contacts is not None and (
            len(contacts) > MAX_CONTACTS
            or any(len(c) > MAX_EMAIL_LENGTH or not c for c in contacts)
        ):
            raise _bad(f"contacts must be at most {MAX_CONTACTS} addresses")

    def _validate_uri(self, key: str, uri: str | None = None) -> None:
        value = uri if uri is not None else self.get(key)
        if value is None:
            return
        problem = (
            values.redirect_uri_problem(value, ClientType.WEB)
            if len(value) <= MAX_URL_LENGTH
            else 1
        )
        if problem:
            raise _bad(f"{key} must be an https URL without a fragment")

    def validate_jwks_uri(self) -> None:
        """Not taken (see the class)."""

    def validate_jwks(self) -> None:
        """Not taken (see the class)."""

    def _text(self, name: str) -> None:
        value = self.get(name)
        if value is None:
            return
        try:
            self[name] = values.text(value, name, max_length=MAX_TEXT_LENGTH[name])
        except Exception as error:
            raise _bad(getattr(error, "message", f"{name} is not valid")) from None


def _server_metadata() -> dict[str, Any]:
    # Empty: Metadata checks against the catalogue and this module's lists itself, so Authlib
    # adds no checks of its own from the server's metadata.
    return {}


def _registration_info(app: Any, token: str | None = None) -> dict[str, Any]:
    info = {"registration_client_uri": _client_uri(app.client_id)}
    if token:
        info["registration_access_token"] = token
    return info


def _client_uri(client_id: str) -> str:
    return current_app.config["OAUTH_ISSUER"] + "/oauth/register/" + client_id


class Registration(ClientRegistrationEndpoint):
    """POST /oauth/register: open to anyone (rate-limited per address by the view)."""

    def __init__(self, server: Any = None) -> None:
        super().__init__(server, claims_classes=[Metadata])

    def authenticate_token(self, request: Any) -> bool:
        return True  # open registration: no initial access token

    def get_server_metadata(self) -> dict[str, Any]:
        return _server_metadata()

    def extract_client_metadata(self, request: Any) -> dict[str, Any]:
        if not isinstance(request.payload.data, dict):
            raise InvalidRequestError("The body must be a JSON object.")
        return super().extract_client_metadata(request)

    def generate_client_id(self, request: Any) -> str:
        return clients.new_client_id()

    def generate_client_secret(self, request: Any) -> str | None:
        confidential = request.payload.data.get(
            "token_endpoint_auth_method", AuthMethod.CLIENT_SECRET_BASIC
        )
        return new_secret(CLIENT_SECRET) if confidential != AuthMethod.NONE else None

    def generate_client_info(self, request: Any) -> dict[str, Any]:
        info = super().generate_client_info(request)
        if info["client_secret"] is None:
            # A public client gets no secret, and so no expiry of one.
            del info["client_secret"], info["client_secret_expires_at"]
        return info

    def save_client(self, client_info: dict, client_metadata: dict, request: Any) -> Any:
        app, token = clients.register_client(
            client_info["client_id"], client_metadata, client_info.get("client_secret")
        )
        request.registration_access_token = token
        return app

    def generate_client_registration_info(self, client: Any, request: Any) -> dict[str, Any]:
        return _registration_info(client, request.registration_access_token)


class _Registered:
    """A self-registered app as RFC 7592 sees it."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.client_info = {
            "client_id": app.client_id,
            "client_id_issued_at": int(app.created_at.timestamp()),
        }
        if app.client_secret_hash:
            self.client_info["client_secret_expires_at"] = 0
        self.client_metadata = dict(app.client_metadata or {})

    def get_client_id(self) -> str:
        return self.app.client_id

    def check_client_secret(self, secret: str) -> bool:
        return matches(secret, self.app.client_secret_hash)


class _Presented:
    """The registration access token as presented; checked against the app it names."""

    def __init__(self, token: str) -> None:
        self.token = token

    def check_client(self, client: _Registered) -> bool:
        return matches(self.token, client.app.registration_token_hash)


class Configuration(ClientConfigurationEndpoint):
    """GET, PUT, DELETE /oauth/register/{client_id} with the registration access token. An
    unknown client and a wrong token get the same 401."""

    def __init__(self, server: Any = None) -> None:
        super().__init__(server, claims_classes=[Metadata])

    def authenticate_token(self, request: Any) -> _Presented:
        # No token at all is judged like a wrong one, by authenticate_client: the same 401.
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        return _Presented(token.strip() if scheme.lower() == "bearer" else "")

    def authenticate_client(self, request: Any) -> _Registered | None:
        app = clients.registered_client(request.client_id_in_path)
        if app is None or not request.credential.check_client(_Registered(app)):
            return None
        return _Registered(app)

    def revoke_access_token(self, request: Any, token: Any) -> None:
        """Nothing to revoke: the token lives on the app it was issued for."""

    def check_permission(self, client: _Registered, request: Any) -> bool:
        return True

    def get_server_metadata(self) -> dict[str, Any]:
        return _server_metadata()

    def introspect_client(self, client: _Registered) -> dict[str, Any]:
        return {**client.client_metadata, **client.client_info}

    def generate_client_registration_info(self, client: _Registered, request: Any) -> dict:
        return _registration_info(client.app)

    def extract_client_metadata(self, request: Any) -> dict[str, Any]:
        if not isinstance(request.payload.data, dict):
            raise InvalidRequestError("The body must be a JSON object.")
        return super().extract_client_metadata(request)

    def update_client(self, client: _Registered, client_metadata: dict, request: Any) -> Any:
        method = client_metadata.get("token_endpoint_auth_method")
        # A public client (method "none") keeps no secret: an update cannot make it one that does.
        if (method == AuthMethod.NONE) is client.app.has_secret:
            raise _bad("token_endpoint_auth_method cannot change")
        return _Registered(clients.update_registered_client(client.app, client_metadata))

    def delete_client(self, client: _Registered, request: Any) -> None:
        clients.delete_registered_client(client.app)
