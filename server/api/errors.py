"""The management API's errors: `{"error": code, "message": text}`, never cached."""

from __future__ import annotations

from flask import Response, jsonify

from server.web import Face


class ApiFace(Face):
    name = "api"
    blueprints = ("api",)
    url_space = ("/api/v1",)

    def error(self, status: int, code: str, message: str) -> Response:
        response = jsonify(error=code, message=message)
        response.status_code = status
        response.headers["Cache-Control"] = "no-store"
        return response


FACE = ApiFace()
error = FACE.error
