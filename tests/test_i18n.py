"""English and Simplified Chinese: chosen from Accept-Language or the switcher, and complete."""

from __future__ import annotations

import gettext
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from server.permissions import CATALOGUE

SERVER = Path(__file__).resolve().parent.parent / "server"
PO = SERVER / "translations" / "zh" / "LC_MESSAGES" / "messages.po"
MO = PO.with_suffix(".mo")
KEYWORDS = {
    "_": None,
    "gettext": None,
    "_l": None,
    "lazy_gettext": None,
    "ngettext": (1, 2),
    "Msg": None,
}


def test_accept_language_picks_the_language(client):
    chinese = client.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"})
    english = client.get("/login", headers={"Accept-Language": "en-US,en;q=0.9"})
    other = client.get("/login", headers={"Accept-Language": "fr-FR"})
    assert '<html lang="zh-Hans">' in chinese.get_data(as_text=True)
    assert "登录" in chinese.get_data(as_text=True)
    for response in (english, other):
        html = response.get_data(as_text=True)
        assert '<html lang="en">' in html and "Sign in" in html and "登录" not in html
    # A shared cache must keep the languages apart.
    assert "Accept-Language" in chinese.headers["Vary"] and "Cookie" in chinese.headers["Vary"]


def test_the_switcher_remembers_the_choice(client):
    response = client.get("/language/zh?next=/login")
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert "lang=zh" in response.headers["Set-Cookie"]
    assert "HttpOnly" in response.headers["Set-Cookie"]
    page = client.get("/login", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "登录" in page and 'href="/language/en?next=/login"' in page
    client.get("/language/en?next=/login")
    assert "Sign in" in client.get("/login").get_data(as_text=True)


def test_the_switcher_goes_back_only_to_local_pages(client):
    response = client.get("/language/zh?next=https://evil.example/")
    assert response.headers["Location"] == "/"
    response = client.get("/language/xx?next=/login")
    assert response.status_code == 302 and "Set-Cookie" not in response.headers


def _catalogue():
    with PO.open("rb") as handle:
        return read_po(handle)


def test_every_page_string_has_a_chinese_translation():
    with (SERVER / "babel.cfg").open() as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    in_source = {
        message
        for _file, _line, message, _comments, _context in extract_from_dir(
            str(SERVER), method_map, options_map, keywords=KEYWORDS
        )
    }
    catalogue = _catalogue()
    translated = {m.id: m.string for m in catalogue if m.id}
    assert in_source - set(translated) == set(), "run the pybabel steps in server/i18n.py"
    assert [m for m, s in translated.items() if not (all(s) if isinstance(s, tuple) else s)] == []
    assert set(CATALOGUE.values()) <= set(translated)


def test_the_compiled_catalogue_matches_the_source():
    with MO.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    for message in _catalogue():
        if isinstance(message.id, tuple):
            assert compiled.ngettext(*message.id, 2) == message.string[0], message.id
        elif message.id:
            assert compiled.gettext(message.id) == message.string, message.id


def test_consent_permissions_are_shown_in_chinese(client, make_user, make_app):
    from tests.conftest import PASSWORD
    from tests.oauth_support import REDIRECT_URI, Browser

    user = make_user()
    created, _ = make_app(user, "web", permissions=["Bot.read"])
    client.set_cookie("lang", "zh")
    browser = Browser(client=client)
    browser.login(user.email, PASSWORD)
    url = (
        f"/oauth/authorize?response_type=code&client_id={created.client_id}"
        f"&redirect_uri={REDIRECT_URI}"
    )
    status, _, html = browser.open_consent(url)
    assert status == 200
    assert "读取工作空间中的智能体及其设置" in html and "同意" in html and "拒绝" in html


def test_labels_follow_each_request_language(app, client, make_user):
    """A label filter on a constant (`'obo'|kind_label`) must not be folded into the compiled
    template in the language of the first request."""
    from tests.api_helpers import make_team
    from tests.test_console import Console

    owner = make_user()
    team = make_team(app, owner, name="Acme")
    Console(client, owner)
    page = f"/console/tenants/{team}/installations"
    english = client.get(page, headers={"Accept-Language": "en"}).get_data(as_text=True)
    client.set_cookie("lang", "zh")
    chinese = client.get(page).get_data(as_text=True)
    assert '<option value="obo">On behalf of users (OBO)</option>' in english
    assert '<option value="obo">代表用户（OBO）</option>' in chinese
