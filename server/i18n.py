"""The pages' languages: English and Simplified Chinese, from a cookie or Accept-Language.

Translations live in server/translations/<locale>/LC_MESSAGES/messages.po, compiled to the
committed messages.mo beside it. After changing page text:

    .venv/bin/pybabel extract -F server/babel.cfg -k _l -k lazy_gettext -k Msg --no-location \
        --sort-output -o /tmp/messages.pot server
    .venv/bin/pybabel update -i /tmp/messages.pot -d server/translations --no-fuzzy-matching
    (translate the new entries in messages.po)
    .venv/bin/pybabel compile -d server/translations

tests/test_i18n.py fails when a page string or a permission description has no translation.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Flask, Response, redirect, request
from flask_babel import Babel, get_locale

from server.permissions import CATALOGUE, PRIVILEGED_CATALOGUE

LANGUAGES = {"en": "English", "zh": "简体中文"}
# The `lang` attribute of <html>, per locale: zh here is Simplified Chinese.
HTML_LANG = {"en": "en", "zh": "zh-Hans"}
COOKIE = "lang"
COOKIE_MAX_AGE = 365 * 24 * 3600

babel = Babel()
bp = Blueprint("i18n", __name__)


def select_locale() -> str:
    chosen = request.cookies.get(COOKIE)
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(list(LANGUAGES), default="en") or "en"


def current_language() -> str:
    locale = get_locale()
    return locale.language if locale is not None and locale.language in LANGUAGES else "en"


@bp.get("/language/<code>")
def switch(code: str) -> Response:
    """Remember the chosen language in a cookie and go back to the page the person was on."""
    from server.pages import safe_next

    response = redirect(safe_next(request.args.get("next")))
    if code in LANGUAGES:
        response.set_cookie(
            COOKIE,
            code,
            max_age=COOKIE_MAX_AGE,
            httponly=True,
            samesite="Lax",
            secure=request.is_secure,
        )
    return response


def _template_globals() -> dict[str, Any]:
    language = current_language()
    return {
        "current_language": language,
        "html_lang": HTML_LANG[language],
        "languages": LANGUAGES,
    }


def extract_catalogue(
    fileobj: Any, keywords: Any, comment_tags: Any, options: Any
) -> Iterator[tuple[int, str, str, list[str]]]:
    """A Babel extractor for the permission descriptions, which the consent page translates,
    besides the file's own messages (its errors), which Babel's Python extractor finds."""
    from babel.messages.extract import extract_python

    yield from extract_python(fileobj, keywords, comment_tags, options)
    for name, description in (CATALOGUE | PRIVILEGED_CATALOGUE).items():
        yield 0, "gettext", description, [f"permission {name}"]


def _vary(response: Response) -> Response:
    # A page's language follows these headers: a shared cache must not mix languages.
    if response.mimetype == "text/html":
        response.vary.add("Accept-Language")
        response.vary.add("Cookie")
    return response


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale)
    app.register_blueprint(bp)
    app.context_processor(_template_globals)
    app.after_request(_vary)
