"""The vocabulary (grants/vocabulary.py) against what else states it: the check constraints the
migrations made, the models' constraints, the pages' words and the grants each client type has."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import CheckConstraint, inspect

from grants.clients import AUTH_METHODS, GRANT_TYPES
from grants.vocabulary import (
    ANY_AUTH_METHOD,
    OAUTH_AUTH_TYPES,
    STORED_INVITATION_STATUSES,
    AppKind,
    AppStatus,
    AuthMethod,
    AuthType,
    ClientType,
    DeliveryStatus,
    DeviceCodeStatus,
    Edition,
    GrantType,
    InstallationStatus,
    InvitationStatus,
    RequestStatus,
    Role,
)
from server.extensions import db
from server.models import Base, Tenant
from server.pages import words

# Every check constraint of the schema, by name, and the values it allows.
CONSTRAINTS = {
    "ck_tenants_edition": set(Edition),
    "ck_memberships_role": set(Role),
    "ck_invitations_role": set(Role),
    "ck_invitations_status": set(STORED_INVITATION_STATUSES),
    "ck_apps_client_type": set(ClientType),
    "ck_apps_status": set(AppStatus),
    "ck_apps_app_kind": set(AppKind),
    "ck_installations_kind": set(OAUTH_AUTH_TYPES),
    "ck_installations_status": set(InstallationStatus),
    "ck_oauth_tokens_auth_type": set(OAUTH_AUTH_TYPES),
    "ck_device_codes_status": set(DeviceCodeStatus),
    "ck_event_deliveries_status": set(DeliveryStatus),
}


def _allowed(condition: str) -> set[str]:
    # SQLite keeps the migration's text; PostgreSQL rewrites it as `= ANY (ARRAY['a'::...])`.
    return set(re.findall(r"'([^']*)'", condition))


def test_the_migrated_schema_allows_exactly_the_enums_values(app):
    found = {}
    with app.app_context():
        inspector = inspect(db.engine)
        for table in inspector.get_table_names():
            for check in inspector.get_check_constraints(table):
                found[check["name"]] = _allowed(check["sqltext"])
    assert found == CONSTRAINTS


def test_the_models_constraints_are_built_from_the_enums():
    found = {
        constraint.name: _allowed(str(constraint.sqltext))
        for table in Base.metadata.tables.values()
        for constraint in table.constraints
        if isinstance(constraint, CheckConstraint)
    }
    assert found == CONSTRAINTS


def test_shown_and_stored_invitation_statuses():
    assert set(InvitationStatus) - set(STORED_INVITATION_STATUSES) == {InvitationStatus.EXPIRED}


@pytest.mark.parametrize(
    ("table", "values"),
    [
        (words.CLIENT_TYPES, ClientType),
        (words.CLIENT_TYPE_HINTS, ClientType),
        (words.ROLES, Role),
        (words.EDITIONS, Edition),
        (words.APP_KINDS, AppKind),
        (words.APP_KIND_HINTS, AppKind),
        (words.KINDS, OAUTH_AUTH_TYPES),
        (words.STATUSES, (*AppStatus, *RequestStatus)),
        (words.DELIVERY_STATUSES, DeliveryStatus),
    ],
)
def test_the_pages_have_words_for_every_value(table, values):
    assert set(table) == set(values)


@pytest.mark.parametrize("client_type", list(ClientType))
def test_capabilities_agree_with_the_grants_each_type_has(client_type):
    grants, methods = GRANT_TYPES[client_type], AUTH_METHODS[client_type]
    assert client_type.has_secret == (AuthMethod.CLIENT_SECRET_BASIC in methods)
    assert client_type.is_public == (methods == {AuthMethod.NONE})
    assert client_type.uses_redirect_uris == (GrantType.AUTHORIZATION_CODE in grants)
    assert client_type.uses_device_flow == (GrantType.DEVICE_CODE in grants)
    assert client_type.uses_keys == (grants == {GrantType.JWT_BEARER})
    assert client_type.signs_users_in == (GrantType.REFRESH_TOKEN in grants)
    assert set(GRANT_TYPES) == set(AUTH_METHODS) == set(ClientType)


def test_the_endpoints_try_every_auth_method_secrets_first():
    # Plain strings, in Authlib's own order: its errors list them as they stand.
    assert ANY_AUTH_METHOD == ["client_secret_basic", "client_secret_post", "none"]
    assert set(ANY_AUTH_METHOD) == set(AuthMethod)
    assert all(type(method) is str for method in ANY_AUTH_METHOD)


@pytest.mark.parametrize(
    ("actor", "grantable"),
    [
        (Role.SUPER_ADMIN, {Role.SUPER_ADMIN, Role.ADMIN, Role.MEMBER}),
        (Role.ADMIN, {Role.ADMIN, Role.MEMBER}),
    ],
)
def test_only_a_super_admin_grants_super_admin(actor, grantable):
    assert {role for role in Role if actor.may_grant(role)} == grantable
    assert actor.may_grant("super_admin") == (Role.SUPER_ADMIN in grantable)


@pytest.mark.parametrize(
    ("edition", "kinds"),
    [
        (Edition.PERSONAL, {AuthType.APPAUTH}),
        (Edition.TEAM, set(OAUTH_AUTH_TYPES)),
        (Edition.ENTERPRISE, set(OAUTH_AUTH_TYPES)),
    ],
)
def test_obo_installations_only_where_there_are_members(edition, kinds):
    assert set(Tenant(edition=edition).installation_kinds) == kinds
