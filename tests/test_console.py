"""The console over HTTP: every action goes through the domain functions, with CSRF, and says
what happened; secrets and private keys are shown once and never kept."""

from __future__ import annotations

import re

import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc.jwk import RSAKey
from sqlalchemy import select

from grants.secrets import matches
from keys import thumbprint
from server import clients
from server.accounts import personal_tenant
from server.extensions import db
from server.models import App, AppKey, AuditEntry, Authorization, Installation, User
from tests.api_helpers import add_member, make_team, rsa_public_pem
from tests.conftest import Console


def text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def tenant_id(app, owner):
    with app.app_context():
        return personal_tenant(owner.id).id


def test_console_needs_sign_in(client):
    response = client.get("/console/tenants/1")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=/console/tenants/1")


def test_overview_lists_my_tenants(app, console, owner):
    team = make_team(app, owner, name="Acme Robotics")
    html = text(console.get("/console/"))
    assert "Acme Robotics" in html and f"/console/tenants/{team}" in html
    assert console.get("/console/").headers["Cache-Control"] == "no-store"


def test_create_web_app_shows_the_secret_once(app, client, console, tenant_id):
    response = console.post_and_follow(
        f"/console/tenants/{tenant_id}/apps/new",
        {
            "name": "Helper",
            "description": "Drafts replies.",
            "client_type": "web",
            "redirect_uris": "https://helper.example/cb\nhttp://localhost:9000/cb",
            "permissions": ["Bot.read", "Workflow.run"],
        },
    )
    html = text(response)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    secret = re.search(r'id="client-secret"[^>]*value="([^"]+)"', html).group(1)
    assert "This is the only time it is shown." in html and "App Helper created." in html
    with app.app_context():
        created = db.session.scalar(select(App).where(App.name == "Helper"))
        assert created.client_type == "web" and created.description == "Drafts replies."
        assert created.redirect_uris == ["https://helper.example/cb", "http://localhost:9000/cb"]
        assert created.permissions == ["Bot.read", "Workflow.run"]
        assert matches(secret, created.client_secret_hash)
        client_id = created.client_id
    # Nowhere to be seen again: not in the session cookie, not on a reload, not on the app's page.
    assert secret not in (client.get_cookie("session").value or "")
    assert secret not in text(console.get(f"/console/apps/{client_id}/revealed"))
    assert secret not in text(console.get(f"/console/apps/{client_id}"))


def test_create_service_app_shows_the_private_key_with_a_download(app, console, tenant_id):
    response = console.post_and_follow(
        f"/console/tenants/{tenant_id}/apps/new", {"name": "Nightly", "client_type": "service"}
    )
    html = text(response)
    assert response.status_code == 200
    pem = re.search(r'<textarea id="private-key"[^>]*>([^<]+)</textarea>', html).group(1)
    assert pem.startswith("-----BEGIN PRIVATE KEY-----")
    assert 'download="' in html and 'href="data:application/x-pem-file;base64,' in html
    with app.app_context():
        key = db.session.scalar(select(AppKey))
        assert key.kid == thumbprint(RSAKey.import_key(pem)) and key.kid in html


def test_invalid_values_show_the_domain_message_and_create_nothing(app, console, tenant_id):
    response = console.post(
        f"/console/tenants/{tenant_id}/apps/new", {"name": "No URIs", "client_type": "web"}
    )
    assert response.status_code == 422
    html = text(response)
    assert 'aria-invalid="true" aria-describedby="uris-hint redirect_uris-error"' in html
    assert re.search(
        r'id="redirect_uris-error"[^>]*>Web and PKCE apps need at least one redirect URI.<', html
    )
    assert 'value="No URIs"' in text(response)
    with app.app_context():
        assert db.session.scalar(select(App)) is None


def test_edit_enable_disable_and_rotate(app, console, make_app, owner):
    created, old_secret = make_app(owner, "web")
    path = f"/console/apps/{created.client_id}"
    response = console.post(
        path,
        {
            "name": "Renamed",
            "description": "",
            "redirect_uris": "https://new.example/cb",
            "permissions": ["Bot.read"],
        },
        page=path,
    )
    assert response.status_code == 302
    assert "Changes saved." in text(console.get(path))
    console.post(path + "/disable", page=path)
    assert "all of the app&#39;s tokens are suspended" in text(console.get(path))
    with app.app_context():
        row = db.session.get(App, created.client_id)
        assert (row.name, row.status, row.redirect_uris) == (
            "Renamed",
            "disabled",
            ["https://new.example/cb"],
        )
    console.post(path + "/enable", page=path)
    response = console.post_and_follow(
        path + "/secret", {"grace_hours": "0"}, page=path + "/secret"
    )
    new_secret = re.search(r'id="client-secret"[^>]*value="([^"]+)"', text(response)).group(1)
    with app.app_context():
        row = db.session.get(App, created.client_id)
        assert row.status == "enabled"
        assert matches(new_secret, row.client_secret_hash)
        assert not matches(old_secret, row.client_secret_hash)


def test_keys_generate_upload_and_remove(app, console, make_app, owner):
    created, _ = make_app(owner, "service")
    path = f"/console/apps/{created.client_id}"
    generated = console.post_and_follow(path + "/keys", page=path)
    assert "-----BEGIN PRIVATE KEY-----" in text(generated)
    uploaded = console.post(path + "/keys", {"public_key": rsa_public_pem()}, page=path)
    assert uploaded.status_code == 302
    assert "Public key registered." in text(console.get(path))
    bad = console.post(path + "/keys", {"public_key": "not a key"}, page=path)
    assert bad.status_code == 422
    assert 'id="public_key-error"' in text(bad) and "not a key</textarea>" in text(bad)
    with app.app_context():
        kids = list(db.session.scalars(select(AppKey.kid)))
    assert len(kids) == 2
    console.post(f"{path}/keys/{kids[0]}/delete", page=path)
    with app.app_context():
        assert list(db.session.scalars(select(AppKey.kid))) == kids[1:]
    console.post(path + "/authorize", page=path)
    assert "The app can get AppAuth tokens" in text(console.get(path))


def test_delete_needs_the_apps_name(app, console, make_app, owner, tenant_id):
    created, _ = make_app(owner, "pkce", name="Pocket")
    path = f"/console/apps/{created.client_id}/delete"
    page = text(console.get(path))
    assert "Delete Pocket?" in page and "Type Pocket to confirm" in page
    wrong = console.post(path, {"confirm_name": "pocket"}, page=path)
    assert wrong.status_code == 422 and "does not match" in text(wrong)
    with app.app_context():
        assert db.session.get(App, created.client_id) is not None
    right = console.post(path, {"confirm_name": "Pocket"}, page=path)
    assert right.status_code == 302 and right.headers["Location"] == f"/console/tenants/{tenant_id}"
    assert "Pocket was deleted." in text(console.get(right.headers["Location"]))
    with app.app_context():
        assert db.session.get(App, created.client_id) is None


def test_installations_approve_and_uninstall(app, client, make_user, make_app, owner):
    member, vendor = make_user(), make_user()
    team = make_team(app, owner, name="Acme")
    add_member(app, team, member, "member")
    created, _ = make_app(vendor, "web")
    with app.app_context():
        clients.request_installation(db.session.get(User, member.id), team, created.client_id)
        db.session.commit()
    console = Console(client, owner)
    page = f"/console/tenants/{team}/installations"
    html = text(console.get(page))
    assert created.name in html and "Pending approval" in html and member.email in html
    console.post(f"{page}/{created.client_id}/approve", {"kind": "obo"}, page=page)
    html = text(console.get(page))
    assert "Installation approved" in html and "Installed by" in html
    with app.app_context():
        assert db.session.scalar(select(Installation.status)) == "installed"
    console.post(f"{page}/{created.client_id}/uninstall", page=page)
    assert "Uninstalled" in text(console.get(page))
    with app.app_context():
        assert db.session.scalar(select(Installation)) is None


def test_install_by_client_id_reports_domain_errors(app, console, make_user, make_app, owner):
    team = make_team(app, owner, name="Acme")
    created, _ = make_app(make_user(), "service")
    page = f"/console/tenants/{team}/installations"
    wrong = console.post(page, {"client_id": created.client_id, "kind": "obo"}, page=page)
    assert wrong.status_code == 422 and 'id="kind-error"' in text(wrong)
    assert "Service apps are installed to act as themselves (AppAuth)." in text(wrong)
    unknown = console.post(page, {"client_id": "1" * 19, "kind": "obo"}, page=page)
    assert unknown.status_code == 422 and "No app has this client ID." in text(unknown)
    console.post(page, {"client_id": created.client_id, "kind": "appauth"}, page=page)
    assert "The app is installed." in text(console.get(page))


def test_the_install_form_offers_obo_only_in_a_team(app, console, owner, tenant_id):
    team = make_team(app, owner, name="Acme")
    kinds = {}
    for place in (tenant_id, team):
        html = text(console.get(f"/console/tenants/{place}/installations"))
        kinds[place] = re.findall(r'<option value="(\w+)"', html)
    assert kinds == {tenant_id: ["appauth"], team: ["obo", "appauth"]}


def test_a_member_cannot_act_as_an_admin(app, client, make_user, make_app, owner):
    member = make_user()
    team = make_team(app, owner, name="Acme")
    add_member(app, team, member, "member")
    created, _ = make_app(owner, "web", tenant_id=team)
    console = Console(client, member)
    path = f"/console/apps/{created.client_id}"
    assert "Disable app" not in text(console.get(path))
    console.post(path + "/disable", page=path)
    assert "Your role in this tenant does not allow this." in text(console.get(path))
    assert console.get(f"/console/tenants/{team}/audit").status_code == 403
    with app.app_context():
        assert db.session.get(App, created.client_id).status == "enabled"


def test_another_tenants_app_is_not_found(console, make_user, make_app):
    created, _ = make_app(make_user(), "web")
    assert console.get(f"/console/apps/{created.client_id}").status_code == 404
    assert console.get("/console/tenants/999999").status_code == 404


def test_revoke_an_authorized_app(app, console, make_user, make_app, owner):
    created, _ = make_app(make_user(), "web", permissions=["Bot.read"])
    with app.app_context():
        from server.oauth.consent import ensure_authorization

        ensure_authorization(owner.id, created.client_id, "Bot.read")
        db.session.commit()
    html = text(console.get("/console/authorized"))
    assert created.name in html and "Read the agents (bots)" in html
    console.post(f"/console/authorized/{created.client_id}/revoke", page="/console/authorized")
    assert "Access revoked" in text(console.get("/console/authorized"))
    with app.app_context():
        assert db.session.scalar(select(Authorization)) is None


def test_audit_log_shows_what_happened(app, console, make_app, owner, tenant_id):
    created, _ = make_app(owner, "web")
    console.post(f"/console/apps/{created.client_id}/disable", page="/console/")
    html = text(console.get(f"/console/tenants/{tenant_id}/audit"))
    assert "app.disable" in html and "app.create" in html and owner.email in html
    # Details in words: the kind of app as a label, not its raw key and code.
    assert "App kind:</span> Normal app" in html and "app_kind" not in html
    with app.app_context():
        assert (
            db.session.scalar(
                select(AuditEntry).where(AuditEntry.action == "app.disable")
            ).actor_user_id
            == owner.id
        )


def test_audit_log_reads_every_team_action_in_words(app, console, owner, make_user):
    """Connectors, service access tokens, invitations and members: each action has a label,
    its details have words, and the thing it was about is named as it was then."""
    from server import connectors, service_tokens, tenants

    team = make_team(app, owner, name="Acme")
    colleague = make_user()
    with app.app_context():
        acting = db.session.get(User, owner.id)
        shop = connectors.create_connector(acting, team, name="Web shop")
        connectors.update_connector(acting, shop.id, name="Mini program")
        connectors.delete_connector(acting, shop.id)
        workspace = tenants.list_workspaces(acting, team)[0].id
        token, _ = service_tokens.create_service_token(
            acting, team, name="Nightly export", permission_names=["Bot.read"],
            workspace_ids=[workspace], expires_in_days=30,
        )  # fmt: skip
        service_tokens.revoke_service_token(acting, token.id)
        invitation = tenants.invite(acting, team, "gone@example.com", "admin")
        tenants.cancel_invitation(acting, team, invitation.id)
        tenants.invite(acting, team, colleague.email, "member")
        db.session.commit()
    html = text(console.get(f"/console/tenants/{team}/audit"))
    labels = re.findall(r'<span class="strong">([^<]*)</span><br><code class="muted small">', html)
    assert labels and [label for label in labels if "." in label] == [], labels
    details = re.findall(r'<span class="muted">([^<]*):</span>', html)
    assert [key for key in details if "_" in key] == [], details
    targets = html.split("<tbody>")[1]
    for name in ("Web shop", "Mini program", "Nightly export", "gone@example.com"):
        assert name in targets, name


def test_audit_filters_of_the_wrong_shape_are_refused(console, make_app, owner, tenant_id):
    created, _ = make_app(owner, "web")
    page = f"/console/tenants/{tenant_id}/audit"
    narrowed = text(
        console.get(f"{page}?action=app.create&actor={owner.id}&app={created.client_id}")
    )
    assert '<code class="muted small">app.create</code>' in narrowed
    assert '<code class="muted small">user.create</code>' not in narrowed
    for bad in ("action=%00", "action=app", "app=%00", "app=abc", "actor=x", "actor=0",
                "actor=99999999999999999999", "actor=9223372036854775808",
                "app=99999999999999999999"):  # fmt: skip
        response = console.get(f"{page}?{bad}")
        assert response.status_code == 400, bad
        assert "Invalid filter." in text(response)


def test_console_posts_need_csrf(app, console, make_app, owner):
    created, _ = make_app(owner, "web")
    response = console.client.post(f"/console/apps/{created.client_id}/disable")
    assert response.status_code == 400
    with app.app_context():
        assert db.session.get(App, created.client_id).status == "enabled"


def test_try_it_links_start_the_flow(console, make_app, owner):
    from urllib.parse import parse_qs, urlsplit

    created, _ = make_app(owner, "pkce")
    html = text(console.get(f"/console/apps/{created.client_id}"))
    verifier = re.search(r'id="verifier"[^>]*value="([^"]+)"', html).group(1)
    link = re.search(r'href="(/oauth/authorize\?[^"]+)"', html).group(1).replace("&amp;", "&")
    params = {k: v[0] for k, v in parse_qs(urlsplit(link).query).items()}
    assert params["code_challenge"] == create_s256_code_challenge(verifier)
    assert params["client_id"] == created.client_id and params["code_challenge_method"] == "S256"
    response = console.get(link)
    assert response.status_code == 302 and "/oauth/consent" in response.headers["Location"]
