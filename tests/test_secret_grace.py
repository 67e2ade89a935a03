"""Secret rotation with a grace period: old and new secret both authenticate until the grace
ends or the old one is retired; disable and delete still end everything at once."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import update

from server.extensions import db
from server.models import App
from tests.api_helpers import API
from tests.oauth_support import basic

pytestmark = pytest.mark.usefixtures("fast_passwords")


def secret_works(client, client_id: str, secret: str, dialect: str = "rfc") -> bool:
    """Whether the token endpoint accepts the client's credentials (a bogus refresh token gets
    400 invalid_grant after authentication, 401 invalid_client before)."""
    body = {"grant_type": "refresh_token", "refresh_token": "czr_not-a-token"}
    if dialect == "rfc":
        response = client.post("/oauth/token", data=body, headers=basic(client_id, secret))
    else:
        response = client.post(
            "/api/permission/oauth2/token",
            json={**body, "client_id": client_id},
            headers={"Authorization": f"Bearer {secret}"},
        )
    assert response.status_code in (400, 401), response.get_data(as_text=True)
    return response.status_code == 400


def test_rotation_without_grace_ends_the_old_secret(client, make_user, make_app, auth_header):
    user = make_user()
    created, old = make_app(user, "web")
    response = client.post(f"{API}/apps/{created.client_id}/secret", headers=auth_header(user))
    assert response.status_code == 200
    assert response.json["previous_secret_expires_at"] is None
    new = response.json["client_secret"]
    assert secret_works(client, created.client_id, new)
    assert not secret_works(client, created.client_id, old)


def test_grace_keeps_both_secrets_until_retired(app, client, make_user, make_app, auth_header):
    user = make_user()
    created, old = make_app(user, "web")
    headers = auth_header(user)
    response = client.post(
        f"{API}/apps/{created.client_id}/secret", json={"grace_hours": 24}, headers=headers
    )
    assert response.status_code == 200
    assert response.json["previous_secret_expires_at"] is not None
    new = response.json["client_secret"]
    for dialect in ("rfc", "coze"):
        assert secret_works(client, created.client_id, new, dialect)
        assert secret_works(client, created.client_id, old, dialect)

    retired = client.post(f"{API}/apps/{created.client_id}/secret/retire", headers=headers)
    assert retired.status_code == 200
    assert retired.json["previous_secret_expires_at"] is None
    assert secret_works(client, created.client_id, new)
    assert not secret_works(client, created.client_id, old)


def test_the_old_secret_stops_when_the_grace_ends(app, client, make_user, make_app, auth_header):
    user = make_user()
    created, old = make_app(user, "web")
    client.post(
        f"{API}/apps/{created.client_id}/secret", json={"grace_hours": 1}, headers=auth_header(user)
    )
    assert secret_works(client, created.client_id, old)
    with app.app_context():
        db.session.execute(
            update(App)
            .where(App.client_id == created.client_id)
            .values(previous_secret_until=int(time.time()) - 1)
        )
        db.session.commit()
    assert not secret_works(client, created.client_id, old)
    got = client.get(f"{API}/apps/{created.client_id}", headers=auth_header(user))
    assert got.json["previous_secret_expires_at"] is None


def test_a_second_rotation_replaces_the_secret_in_grace(client, make_user, make_app, auth_header):
    user = make_user()
    created, first = make_app(user, "web")
    headers = auth_header(user)
    path = f"{API}/apps/{created.client_id}/secret"
    second = client.post(path, json={"grace_hours": 2}, headers=headers).json["client_secret"]
    third = client.post(path, json={"grace_hours": 2}, headers=headers).json["client_secret"]
    assert not secret_works(client, created.client_id, first)
    assert secret_works(client, created.client_id, second)
    assert secret_works(client, created.client_id, third)


def test_grace_does_not_weaken_disable_or_delete(client, make_user, make_app, auth_header):
    user = make_user()
    created, old = make_app(user, "web")
    headers = auth_header(user)
    new = client.post(
        f"{API}/apps/{created.client_id}/secret", json={"grace_hours": 24}, headers=headers
    ).json["client_secret"]
    client.post(f"{API}/apps/{created.client_id}/disable", headers=headers)
    for secret in (old, new):
        body = {"grant_type": "refresh_token", "refresh_token": "czr_x"}
        response = client.post("/oauth/token", data=body, headers=basic(created.client_id, secret))
        assert response.status_code == 400 and response.json["error"] == "unauthorized_client"
    client.post(f"{API}/apps/{created.client_id}/enable", headers=headers)
    assert client.delete(f"{API}/apps/{created.client_id}", headers=headers).status_code == 204
    assert not secret_works(client, created.client_id, old)
    assert not secret_works(client, created.client_id, new)


def test_grace_hours_out_of_range(client, make_user, make_app, auth_header):
    user = make_user()
    created, _ = make_app(user, "web")
    for bad in (-1, 169, "24", 1.5):
        response = client.post(
            f"{API}/apps/{created.client_id}/secret",
            json={"grace_hours": bad},
            headers=auth_header(user),
        )
        assert response.status_code in (400, 422), bad
