"""The words the pages use for the domain's values (app types, roles, editions, statuses),
keyed by the vocabulary's enums (grants/vocabulary.py)."""

from __future__ import annotations

import re

from flask import Flask
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from jinja2 import pass_context

from grants import vocabulary
from grants.vocabulary import (
    ADMIN_ROLES,
    AppKind,
    AppStatus,
    AuthType,
    ClientType,
    DeliveryStatus,
    Edition,
    InstallationStatus,
    RequestStatus,
    Role,
)
from server import limits
from server.permissions import CATALOGUE, PRIVILEGED_CATALOGUE

CLIENT_TYPES = {
    ClientType.WEB: _l("Web back-end app"),
    ClientType.PKCE: _l("Mobile, desktop or single-page app"),
    ClientType.DEVICE: _l("TV, device or command-line app"),
    ClientType.SERVICE: _l("Service app"),
}
CLIENT_TYPE_HINTS = {
    ClientType.WEB: _l(
        "A server that keeps a client secret. Authorization code flow, acts for users."
    ),
    ClientType.PKCE: _l(
        "Runs on the user's device and keeps no secret. Authorization code with PKCE."
    ),
    ClientType.DEVICE: _l(
        "Has no browser or keyboard. The user enters a short code on another device."
    ),
    ClientType.SERVICE: _l(
        "Acts as itself, not for a user. Signs JWT assertions with its private key."
    ),
}
ROLES = {
    Role.SUPER_ADMIN: _l("Super admin"),
    Role.ADMIN: _l("Admin"),
    Role.MEMBER: _l("Member"),
}
EDITIONS = {
    Edition.PERSONAL: _l("Personal"),
    Edition.TEAM: _l("Team"),
    Edition.ENTERPRISE: _l("Enterprise"),
}
# An app's status, and an installation's (an install request is a pending one).
STATUSES = {
    AppStatus.ENABLED: _l("Enabled"),
    AppStatus.DISABLED: _l("Disabled"),
    InstallationStatus.INSTALLED: _l("Installed"),
    InstallationStatus.PENDING: _l("Pending approval"),
    RequestStatus.REFUSED: _l("Refused"),
}
DELIVERY_STATUSES = {
    DeliveryStatus.PENDING: _l("Pending"),
    DeliveryStatus.DELIVERED: _l("Delivered"),
    DeliveryStatus.FAILED: _l("Failed"),
}
APP_KINDS = {
    AppKind.NORMAL: _l("Normal app"),
    AppKind.CHANNEL: _l("Channel app"),
    AppKind.PRIVILEGED: _l("Enterprise-privileged app"),
}
APP_KIND_HINTS = {
    AppKind.NORMAL: _l("Gets tokens for its own tenant, or for the tenants that install it."),
    AppKind.CHANNEL: _l(
        "Bound to one of your connectors; gets tokens only while bound. Needs the service type."
    ),
    AppKind.PRIVILEGED: _l(
        "Administers this enterprise (members, billing, organisations, workspaces); tokens only "
        "through the enterprise path. Needs the service type; team and enterprise tenants only."
    ),
}
# Installation kinds: whom the installed app's tokens act for.
KINDS = {
    AuthType.OBO: _l("On behalf of users (OBO)"),
    AuthType.APPAUTH: _l("As the app itself (AppAuth)"),
}
# The audit log's actions as people say them; the code is shown beside, smaller.
ACTIONS = {
    "app.create": _l("App created"),
    "app.update": _l("App edited"),
    "app.delete": _l("App deleted"),
    "app.enable": _l("App enabled"),
    "app.disable": _l("App disabled"),
    "app.secret_rotate": _l("Secret rotated"),
    "app.secret_retire": _l("Old secret retired"),
    "key.add": _l("Key added"),
    "key.delete": _l("Key removed"),
    "installation.install": _l("App installed"),
    "installation.approve": _l("Installation request approved"),
    "installation.request": _l("Installation requested"),
    "installation.uninstall": _l("App uninstalled"),
    "authorization.grant": _l("Access granted"),
    "authorization.revoke": _l("Access revoked"),
    "tenant.create": _l("Tenant created"),
    "member.add": _l("Member added"),
    "member.update": _l("Member's role changed"),
    "member.remove": _l("Member removed"),
    "workspace.create": _l("Workspace created"),
    "user.create": _l("Account created"),
    "invitation.create": _l("Invitation sent"),
    "invitation.cancel": _l("Invitation cancelled"),
    "invitation.decline": _l("Invitation declined"),
    "connector.create": _l("Connector created"),
    "connector.update": _l("Connector edited"),
    "connector.delete": _l("Connector deleted"),
    "service_token.create": _l("Service access token issued"),
    "service_token.revoke": _l("Service access token revoked"),
}
# Labels of the audit details; keys without one are shown as they are.
DETAIL_LABELS = {
    "client_type": _l("Type"),
    "app_kind": _l("App kind"),
    "kind": _l("Kind"),
    "kid": _l("Key ID (kid)"),
    "role": _l("Role"),
    "grace_hours": _l("Grace period (hours)"),
    "generated": _l("Generated here"),
    "unchanged": _l("Already installed"),
    "refused": _l("Request refused"),
    "name": _l("Name"),
    "description": _l("Description"),
    "redirect_uris": _l("Redirect URIs"),
    "permissions": _l("Permissions"),
    "expires_in_days": _l("Expires in (days)"),
    "unbound_apps": _l("Channel apps unbound"),
    "invitation": _l("Invitation"),
    "old_role": _l("Previous role"),
    "apps": _l("Apps with tokens"),
}
# What the error page says about each error code a person can meet, beyond the server's text.
ERROR_TITLES = {
    "invalid_request": _l("This request cannot be completed"),
    "invalid_client": _l("This app is not recognised"),
    "unauthorized_client": _l("This app may not use this sign-in method"),
    "unsupported_response_type": _l("This app asked in a way the server does not support"),
    "invalid_scope": _l("This app asked for permissions that do not exist"),
    "access_denied": _l("Access was refused"),
    "access_deny": _l("Access was refused"),
    "server_error": _l("Something went wrong on our side"),
    "temporarily_unavailable": _l("The service is briefly unavailable"),
    "too_many_requests": _l("Too many attempts"),
    "not_found": _l("Page not found"),
    "unauthorized": _l("Sign in to continue"),
    "method_not_allowed": _l("This request cannot be completed"),
    "request_too_large": _l("This request is too large"),
    "forbidden": _l("You do not have access to this page"),
    "bad_request": _l("This request cannot be completed"),
    "csrf_failed": _l("This form has expired"),
}
# Pages' words for Werkzeug's stock error descriptions (which are English).
STOCK_DETAILS = {
    400: _l("The request could not be understood."),
    401: _l("Sign in to see this page."),
    403: _l("You do not have access to this page."),
    404: _l("There is no page at this address. Check the link or go back."),
    405: _l("This page cannot be opened this way. Go back and use its buttons."),
    413: _l("What was sent is too large."),
    429: _l("Too many requests in a short time."),
    500: _l("Something went wrong on our side."),
}
# The authorization endpoint's refusals, in the person's language; the protocol's own
# description is shown beside them as a technical note.
REFUSALS = {
    "invalid_client": _l("No app is registered with this client ID."),
    "invalid_request": _l("The app's authorization request is incomplete or malformed."),
    "invalid_scope": _l("The app asked for permissions it does not have."),
    "unauthorized_client": _l("This app may not sign people in this way."),
    "unsupported_response_type": _l(
        "The app asked for a kind of answer this server does not give."
    ),
    "access_denied": _l("Access was refused."),
}
REDIRECT_NOT_REGISTERED = re.compile(r"^Redirect URI (.+) is not supported by client\.$")


def refusal_words(code: str, description: str | None) -> str:
    """What a person is told when the authorization endpoint refuses before any redirect."""
    found = REDIRECT_NOT_REGISTERED.match(description or "")
    if found:
        return gettext(
            "This app asked to send you to %(uri)s, an address it has not registered. "
            "Nothing was shared with it.",
            uri=found.group(1),
        )
    return str(REFUSALS.get(code, _l("The app's authorization request cannot be completed.")))


ERROR_ADVICE = {
    "invalid_request": _l("Go back to the app and start again."),
    "invalid_client": _l("The link you followed may be out of date. Go back to the app."),
    "unauthorized_client": _l("Contact the app's developer."),
    "unsupported_response_type": _l("Contact the app's developer."),
    "invalid_scope": _l("Contact the app's developer."),
    "access_denied": _l("If you think this is wrong, ask an admin of your team."),
    "access_deny": _l("If you think this is wrong, ask an admin of your team."),
    "server_error": _l("Try again in a moment."),
    "temporarily_unavailable": _l("Try again in a moment."),
    "too_many_requests": _l("Wait a few minutes, then try again."),
    "csrf_failed": _l("Reload the page and submit the form again."),
    "unauthorized": _l("Your session may have ended. Sign in and try again."),
}


def permission_words(scope: str | list[str]) -> list[tuple[str, str]]:
    """Each permission name with its description in the person's language."""
    names = scope.split() if isinstance(scope, str) else scope
    every = CATALOGUE | PRIVILEGED_CATALOGUE
    return [(name, gettext(every[name]) if name in every else name) for name in names]


def label(table: dict[str, object], value: str) -> str:
    return str(table.get(value, value))


def init_app(app: Flask) -> None:
    """Filters for templates: `{{ app.client_type|client_type_label }}` and the like."""
    filters = {
        "client_type_label": CLIENT_TYPES,
        "client_type_hint": CLIENT_TYPE_HINTS,
        "role_label": ROLES,
        "edition_label": EDITIONS,
        "status_label": STATUSES,
        "delivery_status_label": DELIVERY_STATUSES,
        "kind_label": KINDS,
        "app_kind_label": APP_KINDS,
        "app_kind_hint": APP_KIND_HINTS,
        "action_label": ACTIONS,
        "detail_label": DETAIL_LABELS,
    }
    for name, table in filters.items():
        # pass_context keeps Jinja from folding `'obo'|kind_label` into the template once, in
        # the language of whoever happened to load the template first.
        app.jinja_env.filters[name] = pass_context(
            lambda _context, value, table=table: label(table, value)
        )
    # The vocabulary and the limits, so that templates ask rather than restate them:
    # `{% if role is admin_role %}`, `{% for value in client_types %}`, `limits.MAX_NAME_LENGTH`,
    # `vocabulary.DeliveryStatus.PENDING`.
    app.jinja_env.tests["admin_role"] = lambda role: role in ADMIN_ROLES
    app.jinja_env.globals["client_types"] = list(ClientType)
    app.jinja_env.globals["app_kinds"] = list(AppKind)
    app.jinja_env.globals["limits"] = limits
    app.jinja_env.globals["vocabulary"] = vocabulary
    app.jinja_env.globals["error_title"] = lambda code: str(
        ERROR_TITLES.get(code, _l("Something went wrong"))
    )
    app.jinja_env.globals["error_advice"] = lambda code: str(ERROR_ADVICE.get(code, ""))
