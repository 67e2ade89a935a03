"""The RFC dialect: form bodies, Basic or post client auth, RFC 6749 errors (server/oauth/
rfc_errors.py), relative expiry."""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, jsonify, request

from grants.vocabulary import ANY_AUTH_METHOD, AuthMethod, CodeChallengeMethod, GrantType
from server.oauth import authorize, hygiene, introspection, rfc_errors, throttle
from server.oauth.core import endpoint_response, token_response
from server.oauth.rfc_errors import respond as render
from server.oauth.server import DialectRequest, json_request_from_flask, request_from_flask

bp = Blueprint("rfc", __name__)

# Browser apps (pkce) call these from their own origin. They carry no cookie and no ambient
# credential, so any origin may read the answer; credentialed CORS is never allowed.
BROWSER_ENDPOINTS = {"rfc.metadata", "rfc.token", "rfc.revoke"}


@bp.after_request
def allow_browser_apps(response: Response) -> Response:
    if request.endpoint in BROWSER_ENDPOINTS:
        response.headers["Access-Control-Allow-Origin"] = "*"
    return response


GRANT_TYPES = [str(g) for g in GrantType]


def form_request() -> DialectRequest | Response:
    """RFC 6749 §3.2: form-encoded, each parameter at most once (but RFC 8707's `resource`)."""
    refused = hygiene.refuse_malformed_credentials()
    if refused:
        return refused
    if request.mimetype != "application/x-www-form-urlencoded":
        return rfc_errors.error(
            400, "invalid_request", "The body must be application/x-www-form-urlencoded."
        )
    form = request.form
    repeated = [name for name in form if len(form.getlist(name)) > 1 and name != "resource"]
    if repeated:
        return rfc_errors.error(400, "invalid_request", "A parameter is repeated.")
    basic = request.authorization is not None and request.authorization.type == "basic"
    if basic and ("client_secret" in form or "client_assertion" in form):
        # RFC 6749 §2.3: one request, one way of authenticating the client.
        return rfc_errors.error(
            400, "invalid_request", "The client must use only one authentication method."
        )
    data = form.to_dict()
    if "resource" in form:
        data["resource"] = form.getlist("resource")
    return request_from_flask(data)


@bp.get("/.well-known/oauth-authorization-server")
def metadata() -> Response:
    issuer = current_app.config["OAUTH_ISSUER"]
    return jsonify(
        issuer=issuer,
        authorization_endpoint=issuer + "/oauth/authorize",
        token_endpoint=issuer + "/oauth/token",
        device_authorization_endpoint=issuer + "/oauth/device_authorization",
        introspection_endpoint=issuer + "/oauth/introspect",
        revocation_endpoint=issuer + "/oauth/revoke",
        response_types_supported=["code"],
        response_modes_supported=["query"],
        grant_types_supported=GRANT_TYPES,
        token_endpoint_auth_methods_supported=ANY_AUTH_METHOD,
        revocation_endpoint_auth_methods_supported=ANY_AUTH_METHOD,
        introspection_endpoint_auth_methods_supported=[AuthMethod.CLIENT_SECRET_BASIC.value],
        code_challenge_methods_supported=[CodeChallengeMethod.S256.value]
        if current_app.config["PKCE_REQUIRE_S256"]
        else [CodeChallengeMethod.PLAIN.value, CodeChallengeMethod.S256.value],
        authorization_response_iss_parameter_supported=True,
        scopes_supported=_permission_names(),
        # The OAuth endpoints of both dialects (the management API has its own document).
        service_documentation=issuer + "/oauth/openapi.json",
        **_agent_metadata(issuer),
    )


def _agent_metadata(issuer: str) -> dict[str, object]:
    """What agent (MCP) clients look for: where to register, and whether an https client_id
    may name its own metadata document."""
    config = current_app.config
    found: dict[str, object] = {
        "client_id_metadata_document_supported": config["OAUTH_CIMD"] == "on",
    }
    if config["OAUTH_REGISTRATION"] == "open":
        found["registration_endpoint"] = issuer + "/oauth/register"
    return found


@bp.get("/oauth/openapi.json")
def oauth_openapi() -> Response:
    from server.oauth.openapi import document

    return jsonify(document(current_app.config["OAUTH_ISSUER"]))


def _permission_names() -> list[str]:
    try:
        from server.permissions import CATALOGUE
    except ImportError:  # pragma: no cover - the catalogue arrives with the management API
        return []
    return list(CATALOGUE)


@bp.get("/oauth/authorize")
def authorize_endpoint() -> Response:
    return authorize.begin(request.args, None, "rfc")


@bp.post("/oauth/token")
def token() -> Response:
    parsed = form_request()
    if isinstance(parsed, Response):
        return parsed
    refused = throttle.check_token_request(parsed)
    return refused or render(token_response(parsed))


@bp.post("/oauth/device_authorization")
def device_authorization() -> Response:
    parsed = form_request()
    if isinstance(parsed, Response):
        return parsed
    return render(endpoint_response("device_authorization", parsed))


@bp.post("/oauth/introspect")
def introspect() -> Response:
    # Served in front of Flask (server/oauth/introspection.py); this only answers a request
    # dispatched to the route in-process, with the same code.
    return introspection.flask_view()


@bp.post("/oauth/revoke")
def revoke() -> Response:
    parsed = form_request()
    if isinstance(parsed, Response):
        return parsed
    return render(endpoint_response("revocation", parsed))


def _registration_open() -> None:
    if current_app.config["OAUTH_REGISTRATION"] != "open":
        abort(404)


def _json_object() -> dict | Response:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return rfc_errors.error(
            400, "invalid_client_metadata", "The body must be a JSON object (application/json)."
        )
    return data


@bp.post("/oauth/register")
def register() -> Response:
    """RFC 7591 dynamic client registration (server/oauth/registration.py)."""
    _registration_open()
    refused = hygiene.refuse_malformed_credentials() or throttle.check_registration()
    if refused:
        return refused
    data = _json_object()
    if isinstance(data, Response):
        return data
    result = endpoint_response("client_registration", json_request_from_flask(data))
    return render(result)


@bp.route("/oauth/register/<client_id>", methods=["GET", "PUT", "DELETE"])
def configure(client_id: str) -> Response:
    """RFC 7592 client configuration, with the registration access token."""
    _registration_open()
    data: dict | Response = {}
    if request.method == "PUT":
        data = _json_object()
        if isinstance(data, Response):
            return data
    built = json_request_from_flask(data, client_id_in_path=client_id)
    result = endpoint_response("client_configuration", built)
    if result.status == 204:
        return Response(status=204, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})
    return render(result)
