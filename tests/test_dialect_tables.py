"""Each dialect owns its words: a positive table from every way access can end (Denial) to its
(error, status, message), the message shared (grants/errors.py MESSAGES) unless the dialect words
it its own way, and each face of the server renders its own errors.

A new Denial without a row in every dialect's table fails here, not silently at run time.
"""

from __future__ import annotations

import pytest

from grants.access import Denial
from grants.errors import MESSAGES, AccessRefused
from server.oauth import coze_errors, rfc_errors
from server.oauth.core import error_result
from server.web import current_face

TABLES = {"rfc": rfc_errors.DENIALS, "coze": coze_errors.DENIALS}


@pytest.mark.parametrize("dialect", TABLES)
def test_every_denial_has_the_dialects_words(dialect):
    table = TABLES[dialect]
    assert set(table) == set(Denial), set(Denial) ^ set(table)
    for denial, (error, status, message) in table.items():
        assert error and error.isidentifier() and error.islower(), (denial, error)
        # 401 is for a failed client authentication only, in both dialects (PROTOCOL.md §7).
        assert status == (401 if error == "invalid_client" else 400), (denial, status)
        assert message.format(app="Some App").strip(), denial


def test_every_denial_has_one_shared_message_and_a_dialect_words_only_its_own():
    assert set(MESSAGES) == set(Denial), set(Denial) ^ set(MESSAGES)
    assert all(message.strip() for message in MESSAGES.values())
    assert all(
        message == MESSAGES[denial] for denial, (_, _, message) in rfc_errors.DENIALS.items()
    )
    own = {d for d, (_, _, message) in coze_errors.DENIALS.items() if message != MESSAGES[d]}
    assert own == {Denial.APP_DISABLED}


def test_the_coze_dialect_says_access_deny_where_the_app_may_not_act():
    assert coze_errors.DENIALS[Denial.APP_DISABLED][0] == "access_deny"
    assert coze_errors.DENIALS[Denial.NO_CONNECTOR][0] == "access_deny"
    assert rfc_errors.DENIALS[Denial.APP_DISABLED][0] == "unauthorized_client"
    assert all(error != "access_deny" for error, _, _ in rfc_errors.DENIALS.values())


@pytest.mark.parametrize("denial", list(Denial))
def test_each_dialect_renders_a_refusal_from_its_own_table(app, denial):
    """The refusal travels in the core's result (not in request globals) to the dialect."""
    with app.test_request_context("/api/permission/oauth2/token", method="POST"):
        result = error_result(AccessRefused(denial, "Weather <Bot>"))
        assert isinstance(result.error, AccessRefused) and result.error.denial is denial
        error, status, words = coze_errors.DENIALS[denial]
        coze = coze_errors.render(result, "authorization_code")
        body = coze.get_json()
        assert coze.status_code == status
        assert body["error_code"] == body["error"] == error
        assert (
            body["error_message"] == body["error_description"] == words.format(app="Weather <Bot>")
        )
        assert coze.headers["Cache-Control"] == "no-store"
    with app.test_request_context("/oauth/token", method="POST"):
        rfc = rfc_errors.render(AccessRefused(denial, "Weather <Bot>"))
        error, status, words = rfc_errors.DENIALS[denial]
        assert rfc.status_code == status
        assert rfc.get_json() == {"error": error, "error_description": words}
        assert rfc.headers["Cache-Control"] == "no-store"
        if status == 401:
            assert rfc.headers["WWW-Authenticate"].startswith("Basic")


def test_a_disabled_app_is_named_in_the_coze_message(app):
    with app.test_request_context("/api/permission/oauth2/token", method="POST"):
        result = error_result(AccessRefused(Denial.APP_DISABLED, "Weather Bot"))
        body = coze_errors.render(result, None).get_json()
    assert body["error_message"] == "app: Weather Bot is currently deactivated by the owner"


def test_faces_claim_distinct_blueprints_and_url_spaces(app):
    faces = app.extensions["faces"]["all"]
    assert {face.name for face in faces} == {"rfc", "coze", "api", "html"}
    claimed = [name for face in faces for name in face.blueprints]
    assert len(claimed) == len(set(claimed))
    assert set(claimed) <= set(app.blueprints)
    spaces = [prefix for face in faces for prefix in face.url_space]
    assert not any(a != b and a.startswith(b) for a in spaces for b in spaces)


@pytest.mark.parametrize(
    ("method", "path", "face"),
    [
        ("POST", "/oauth/token", "rfc"),
        ("GET", "/oauth/token", "rfc"),  # a 405 still names the route
        ("GET", "/oauth/nowhere", "rfc"),  # no route: the URL space decides
        ("GET", "/.well-known/nowhere", "rfc"),
        ("POST", "/api/permission/oauth2/token", "coze"),
        ("GET", "/api/permission/nowhere", "coze"),
        ("GET", "/api/v1/me", "api"),
        ("GET", "/api/v1/nowhere", "api"),
        ("GET", "/oauth/consent", "html"),  # a page inside the RFC dialect's URL space
        ("PUT", "/oauth/consent", "html"),
        ("POST", "/oauth/consent/request-install", "html"),
        ("GET", "/console/", "html"),
        ("GET", "/healthz", "html"),
        ("GET", "/nowhere", "html"),
    ],
)
def test_the_face_of_a_request(app, method, path, face):
    with app.test_request_context(path, method=method):
        assert current_face().name == face


def test_each_face_answers_in_its_own_shape(client):
    rfc = client.get("/oauth/nowhere")
    assert rfc.status_code == 404 and set(rfc.get_json()) == {"error", "error_description"}
    coze = client.get("/api/permission/nowhere")
    assert coze.status_code == 404 and coze.headers["X-Tt-Logid"]
    body = coze.get_json()
    assert body["error_code"] == body["error"] == "not_found" and body["error_message"]
    api = client.get("/api/v1/nowhere")
    assert api.status_code == 404 and set(api.get_json()) == {"error", "message"}
    page = client.post("/oauth/consent/request-install")
    assert page.status_code in (400, 401) and page.mimetype == "text/html"
    assert client.put("/oauth/consent").mimetype == "text/html"
