"""The command line: users, tokens, resource servers, db upgrade and the demo seed."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey
from sqlalchemy import func, select

from grants.secrets import matches
from server import accounts, credentials
from server.extensions import db
from server.models import App, AppKey, Base, Installation, Membership, Tenant, User
from tests.api_helpers import API

pytestmark = pytest.mark.usefixtures("fast_passwords")


def _json(result) -> dict:
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    data = json.loads(lines[0])
    assert isinstance(data, dict)
    return data


# users create


def test_users_create_json(app, runner):
    result = runner.invoke(
        args=[
            "users",
            "create",
            "Ann@Example.com",
            "--password",
            "long-password",
            "--name",
            "Ann",
            "--json",
        ]
    )
    data = _json(result)
    with app.app_context():
        user = db.session.get(User, int(data["user_id"]))
        assert (user.email, user.name) == ("ann@example.com", "Ann")
        assert accounts.authenticate("ann@example.com", "long-password").id == user.id
        assert data["tenant_id"] == str(accounts.personal_tenant(user.id).id)


def test_users_create_text(app, runner):
    result = runner.invoke(
        args=["users", "create", "bo@example.com", "--password", "long-password"]
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        user_id = db.session.scalar(select(User.id))
    assert str(user_id) in result.output


def test_users_create_prompts_for_a_missing_password(app, runner):
    result = runner.invoke(
        args=["users", "create", "cy@example.com", "--json"], input="long-password\n"
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output.strip().splitlines()[-1])
    with app.app_context():
        assert accounts.authenticate("cy@example.com", "long-password").id == int(data["user_id"])


@pytest.mark.parametrize(
    ("email", "password", "code"),
    [
        ("taken@example.com", "long-password", "email_taken"),
        ("new@example.com", "short", "weak_password"),
    ],
)
def test_users_create_errors(app, runner, make_user, email, password, code):
    make_user("taken@example.com")
    result = runner.invoke(args=["users", "create", email, "--password", password, "--json"])
    assert result.exit_code == 1
    assert json.loads(result.output)["error"] == code
    result = runner.invoke(args=["users", "create", email, "--password", password])
    assert result.exit_code == 1
    assert "Error" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 1


# tokens create


def test_tokens_create_json_gives_a_working_token(app, runner, client, make_user):
    user = make_user("tok@example.com")
    data = _json(
        runner.invoke(
            args=["tokens", "create", "TOK@example.com", "--name", "ci", "--days", "7", "--json"]
        )
    )
    assert data["token"].startswith("pat_")
    assert data["user_id"] == str(user.id) and data["name"] == "ci"
    me = client.get(f"{API}/me", headers={"Authorization": f"Bearer {data['token']}"})
    assert me.json["email"] == "tok@example.com"
    with app.app_context():
        assert credentials.user_for_personal_access_token(data["token"]).id == user.id


def test_tokens_create_text_prints_the_token_alone(app, runner, make_user):
    user = make_user("tok@example.com")
    result = runner.invoke(args=["tokens", "create", "tok@example.com"])
    assert result.exit_code == 0
    token = result.output.strip()
    with app.app_context():
        assert credentials.user_for_personal_access_token(token).id == user.id


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["nobody@example.com"], "not_found"),
        (["tok@example.com", "--days", "0"], "invalid_value"),
        (["tok@example.com", "--days", "400"], "invalid_value"),
    ],
)
def test_tokens_create_errors(runner, make_user, args, code):
    make_user("tok@example.com")
    result = runner.invoke(args=["tokens", "create", *args, "--json"])
    assert result.exit_code == 1
    assert json.loads(result.output)["error"] == code
    assert runner.invoke(args=["tokens", "create", *args]).exit_code == 1


# resource-servers create


def test_resource_servers_create(app, runner):
    data = _json(runner.invoke(args=["resource-servers", "create", "Platform API", "--json"]))
    assert data["id"].startswith("rs_") and data["secret"].startswith("rss_")
    with app.app_context():
        assert credentials.authenticate_resource_server(data["id"], data["secret"]) is not None
    text = runner.invoke(args=["resource-servers", "create", "Other API"])
    assert text.exit_code == 0
    lines = dict(line.split(": ", 1) for line in text.output.strip().splitlines())
    with app.app_context():
        assert credentials.authenticate_resource_server(lines["id"], lines["secret"]) is not None


def test_resource_servers_create_rejects_an_empty_name(runner):
    result = runner.invoke(args=["resource-servers", "create", "  ", "--json"])
    assert result.exit_code == 1
    assert json.loads(result.output)["error"] == "invalid_value"


def test_db_upgrade_is_available(runner):
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output


# demo


@pytest.fixture
def demo_app(app, tmp_path):
    app.config["DEMO_MODE"] = True
    app.instance_path = str(tmp_path)
    return app


def _counts(app) -> dict[str, int]:
    with app.app_context():
        return {
            t.name: db.session.scalar(select(func.count()).select_from(t))
            for t in Base.metadata.sorted_tables
            if t.name != "audit_log"
        }


def test_demo_refuses_without_demo_mode(app, runner, tmp_path):
    app.instance_path = str(tmp_path)
    result = runner.invoke(args=["demo", "--json"])
    assert result.exit_code != 0
    assert "DEMO_MODE" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_demo_seeds_everything_and_prints_credentials(demo_app, runner, client, tmp_path):
    data = _json(runner.invoke(args=["demo", "--url", "http://127.0.0.1:5000", "--json"]))
    app = demo_app
    assert data["login_url"] == "http://127.0.0.1:5000/login"
    assert data["device_url"] == "http://127.0.0.1:5000/device"
    uris = ["http://127.0.0.1:5000/callback", "http://localhost:8080/callback"]
    with app.app_context():
        demo = accounts.authenticate("demo@example.com", "demo-password")
        member = accounts.authenticate("member@example.com", data["users"]["member"]["password"])
        assert demo and member
        team = db.session.scalar(select(Tenant).where(Tenant.name == "Demo Team"))
        assert team.edition == "team" and data["tenants"]["team"] == str(team.id)
        assert accounts.role_in(demo.id, team.id) == "super_admin"
        assert accounts.role_in(member.id, team.id) == "member"
        personal = accounts.personal_tenant(demo.id)
        apps = {
            a.client_type: a
            for a in db.session.scalars(select(App).where(App.tenant_id == personal.id))
        }
        assert set(apps) == {"web", "pkce", "device", "service"}
        for kind, entry in data["apps"].items():
            assert entry["client_id"] == apps[kind].client_id
        assert apps["web"].redirect_uris == uris and apps["pkce"].redirect_uris == uris
        assert apps["device"].redirect_uris == [] and apps["service"].redirect_uris == []
        assert matches(data["apps"]["web"]["client_secret"], apps["web"].client_secret_hash)
        service = apps["service"]
        stored = db.session.scalar(select(AppKey).where(AppKey.client_id == service.client_id))
        assert stored.kid == data["apps"]["service"]["kid"]
        installation = db.session.scalar(
            select(Installation).where(Installation.client_id == service.client_id)
        )
        assert (installation.tenant_id, installation.kind, installation.status) == (
            personal.id,
            "appauth",
            "installed",
        )
        assert credentials.authenticate_resource_server(
            data["resource_server"]["id"], data["resource_server"]["secret"]
        )
    assert "client_id=" + data["apps"]["web"]["client_id"] in data["apps"]["web"]["authorize_url"]

    key_path = Path(data["apps"]["service"]["private_key_path"])
    creds_path = Path(data["credentials_file"])
    assert key_path == tmp_path / "demo-service-key.pem"
    assert creds_path == tmp_path / "demo-credentials.json"
    for path in (key_path, creds_path):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert json.loads(creds_path.read_text()) == data

    now = int(time.time())
    token = jwt.encode(
        {"alg": "RS256", "kid": stored.kid},
        {"iss": service.client_id, "iat": now, "exp": now + 60},
        RSAKey.import_key(key_path.read_text()),
    )
    assert (
        jwt.decode(token, RSAKey.import_key(stored.public_key_pem)).claims["iss"]
        == service.client_id
    )

    me = client.get(
        f"{API}/me", headers={"Authorization": f"Bearer {data['personal_access_token']}"}
    )
    assert me.json["email"] == "demo@example.com"


def test_demo_is_idempotent(demo_app, runner):
    first = _json(runner.invoke(args=["demo", "--json"]))
    counts = _counts(demo_app)
    second = _json(runner.invoke(args=["demo", "--json"]))
    assert second == first
    assert _counts(demo_app) == counts
    text = runner.invoke(args=["demo"])
    assert text.exit_code == 0
    for value in (
        first["apps"]["web"]["client_id"],
        first["apps"]["web"]["client_secret"],
        first["apps"]["service"]["kid"],
        first["apps"]["service"]["private_key_path"],
        first["personal_access_token"],
        first["resource_server"]["secret"],
        first["login_url"],
        "demo-password",
    ):
        assert value in text.output
    assert _counts(demo_app) == counts


def test_demo_recovers_lost_credentials(demo_app, runner):
    first = _json(runner.invoke(args=["demo", "--json"]))
    Path(first["credentials_file"]).unlink()
    Path(first["apps"]["service"]["private_key_path"]).unlink()
    second = _json(runner.invoke(args=["demo", "--json"]))
    assert second["apps"]["web"]["client_id"] == first["apps"]["web"]["client_id"]
    assert second["apps"]["web"]["client_secret"] != first["apps"]["web"]["client_secret"]
    assert second["apps"]["service"]["kid"] != first["apps"]["service"]["kid"]
    assert second["personal_access_token"] != first["personal_access_token"]
    with demo_app.app_context():
        web = db.session.get(App, second["apps"]["web"]["client_id"])
        assert matches(second["apps"]["web"]["client_secret"], web.client_secret_hash)
        kids = list(db.session.scalars(select(AppKey.kid)))
        assert kids == [second["apps"]["service"]["kid"]]
        assert db.session.scalar(select(func.count()).select_from(Membership)) == 4


def test_demo_derives_redirect_uris_from_the_url(demo_app, runner):
    data = _json(runner.invoke(args=["demo", "--url", "http://localhost:9000/", "--json"]))
    assert data["apps"]["web"]["redirect_uris"] == [
        "http://localhost:9000/callback",
        "http://localhost:8080/callback",
    ]
    again = _json(runner.invoke(args=["demo", "--url", "https://auth.example.com", "--json"]))
    assert again["apps"]["pkce"]["redirect_uris"] == [
        "https://auth.example.com/callback",
        "http://localhost:8080/callback",
    ]
    assert again["login_url"] == "https://auth.example.com/login"
    with demo_app.app_context():
        web = db.session.get(App, again["apps"]["web"]["client_id"])
        assert web.redirect_uris[0] == "https://auth.example.com/callback"


def test_demo_rejects_a_bad_url(demo_app, runner):
    result = runner.invoke(args=["demo", "--url", "ftp://example.com"])
    assert result.exit_code != 0


# tokens purge


def test_tokens_purge_removes_tokens_of_deleted_apps(app, runner, make_user, make_app):
    from server import clients
    from server.models import OAuthToken

    user = make_user()
    created, _ = make_app(user, "device")
    now = int(time.time())
    with app.app_context():
        db.session.add(
            OAuthToken(
                access_token_hash="a" * 64,
                client_id=created.client_id,
                auth_type="obo",
                tenant_id=1,
                user_id=user.id,
                family_id="f",
                issued_at=now,
                expires_at=now + 900,
            )
        )
        clients.delete_app(user, created.client_id)
        db.session.commit()
    data = _json(runner.invoke(args=["tokens", "purge", "--json"]))
    assert data == {"purged": {"registrations": 0, "tokens": 1, "codes": 0, "device_codes": 0}}
    text = runner.invoke(args=["tokens", "purge"])
    assert text.exit_code == 0 and "0 tokens" in text.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(OAuthToken)) == 0
