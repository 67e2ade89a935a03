"""Every console form that can fail answers with the form again and its error under the field,
in the page's language: `aria-invalid` on the field, `aria-describedby` naming the error, and
no English sentence of the API's on a Chinese page. Error pages say what was not found in the
person's language too."""

from __future__ import annotations

import re

import pytest

from server.accounts import personal_tenant
from tests.api_helpers import make_team
from tests.test_console import text

pytestmark = pytest.mark.usefixtures("fast_passwords")

# Three English words in a row: an API message left untranslated.
ENGLISH = re.compile(r"[A-Za-z][a-z]+(?:[ ,'’-]+[A-Za-z][a-z]+){2,}")


@pytest.fixture
def team(app, owner):
    return make_team(app, owner, "Acme")


def _cases(app, owner, team, make_app) -> list[tuple[str, str, dict, str]]:
    """(page, where it posts, body, the field whose error it is)."""
    with app.app_context():
        personal = personal_tenant(owner.id).id
    web, _ = make_app(owner, "web", tenant_id=team)
    new = f"/console/tenants/{personal}/apps/new"
    tokens = f"/console/tenants/{team}/service-tokens"
    events = f"/console/apps/{web.client_id}/events"
    connectors = f"/console/tenants/{team}/connectors"
    invitations = f"/console/tenants/{team}/invitations"
    sat = {"name": "CI", "permissions": ["Bot.read"], "workspace_ids": ["{workspace}"]}
    return [
        (new, new, {"name": "X", "client_type": "web", "app_kind": "channel"}, "app_kind"),
        (
            new,
            new,
            {
                "name": "X",
                "client_type": "web",
                "permissions": ["Nope"],
                "redirect_uris": "https://a.example/cb",
            },
            "permissions",
        ),  # fmt: skip
        (tokens, tokens, {**sat, "permissions": []}, "permissions"),
        (tokens, tokens, {**sat, "workspace_ids": []}, "workspace_ids"),
        (tokens, tokens, {**sat, "expiry": "custom", "custom_days": "9999"}, "expiry"),
        (tokens, tokens, {**sat, "expiry": "custom", "custom_days": "soon"}, "expiry"),
        (tokens, tokens, {**sat, "name": ""}, "name"),
        (events, events, {"url": "http://hooks.example/in", "events": ["*"]}, "url"),
        (events, events, {"url": "https://93.184.215.14/in"}, "events"),
        (connectors, connectors, {"name": ""}, "name"),
        (invitations, invitations, {"email": "not-an-email", "role": "member"}, "email"),
        (invitations, invitations, {"email": owner.email, "role": "member"}, "email"),
    ]


def test_form_errors_are_at_the_field_in_chinese(app, client, console, owner, team, make_app):
    client.set_cookie("lang", "zh")
    for page, action, body, field in _cases(app, owner, team, make_app):
        html = text(console.get(page))
        workspace = re.search(r'name="workspace_ids" value="(\d+)"', html)
        if "workspace_ids" in body:
            body = {**body, "workspace_ids": [w.format(workspace=workspace.group(1))
                                              for w in body["workspace_ids"]]}  # fmt: skip
        answer = console.post(action, body, page=page)
        assert answer.status_code == 422, (action, body, answer.status_code)
        html = text(answer)
        error = re.search(
            rf'<p class="field-error" id="([\w-]*{field})-error"[^>]*>(.*?)</p>', html
        )
        assert error, (action, field, html[-2500:])
        message = error.group(2)
        assert ENGLISH.findall(message) == [], (action, message)
        assert any("\u4e00" <= ch <= "\u9fff" for ch in message), (action, message)
        assert not re.search(r"\b(name|email|description)\b", message), (action, message)
        described = re.search(rf'aria-invalid="true"[^>]*aria-describedby="[^"]*{error.group(1)}'
                              rf'-error', html)  # fmt: skip
        assert described, (action, field)
        if body.get("expiry") == "custom":  # the days typed are what is wrong, not the choice
            assert re.search(r'id="custom-days"[^>]*aria-invalid="true"', html), action


def test_not_found_pages_say_so_in_chinese(client, console, make_user, make_app):
    client.set_cookie("lang", "zh")
    others, _ = make_app(make_user(), "web")
    for path in (
        f"/console/apps/{others.client_id}",
        "/console/tenants/99999/installations",
        "/console/authorized/123/revoke",
    ):
        answer = console.get(path)
        assert answer.status_code == 404
        message = re.search(r'<p class="error" role="alert">(.*?)</p>', text(answer)).group(1)
        assert ENGLISH.findall(message) == [] and "not found" not in message, (path, message)
