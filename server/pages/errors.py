"""The pages' errors: a page that explains the error in the person's language, with the
protocol's own words as a technical note when there are any. The default face: a request no
other face claims (probes, static files, unknown paths) is answered this way."""

from __future__ import annotations

from flask import Response, render_template
from werkzeug.exceptions import HTTPException

from server.pages.words import STOCK_DETAILS
from server.web import Face


class PagesFace(Face):
    name = "html"
    blueprints = ("pages", "console")

    def error(self, status: int, code: str, message: str, detail: str | None = None) -> Response:
        page = render_template(
            "error.html", status=status, code=code, message=message, detail=detail
        )
        response = Response(page, mimetype="text/html")
        response.status_code = status
        return response

    def http_message(self, exc: HTTPException, code: str) -> str:
        message = exc.description or code
        if message == type(exc).description:
            # Werkzeug's stock sentence is English: pages say it in the person's language.
            message = str(STOCK_DETAILS.get(exc.code or 500, message))
        return message


FACE = PagesFace()
error = FACE.error
