"""A web back end signing users in with the authorization code flow and a client secret
(Flask + Authlib's OAuth client): refresh, a user's refusal (access_denied) and revoked tokens
handled without an error page.

    python -m examples.web_flask.app      # then open http://localhost:8080/
"""

from __future__ import annotations

import argparse
import html
import secrets

from authlib.integrations.base_client import OAuthError
from authlib.integrations.flask_client import OAuth
from flask import Flask, redirect, request, session, url_for

from examples.demo import setting

PAGE = "<!doctype html><title>Sample web app</title><h1>Sample web app</h1>{}"


def create_app() -> Flask:
    app = Flask(__name__)
    app.secret_key = secrets.token_urlsafe(32)
    server = setting("OAUTH_SERVER", "url", default="http://127.0.0.1:5000")
    oauth = OAuth(app)
    oauth.register(
        "platform",
        client_id=setting("CLIENT_ID", "apps", "web", "client_id"),
        client_secret=setting("CLIENT_SECRET", "apps", "web", "client_secret"),
        server_metadata_url=server + "/.well-known/oauth-authorization-server",
        client_kwargs={
            "scope": setting("SCOPE", default="Bot.read"),
            "token_endpoint_auth_method": "client_secret_basic",
        },
    )
    redirect_uri = setting("REDIRECT_URI", default="http://localhost:8080/callback")

    def signed_out(message: str = "") -> str:
        session.pop("token", None)
        note = f"<p id=note>{html.escape(message)}</p>" if message else ""
        return PAGE.format(f"{note}<p><a id=login href='{url_for('login')}'>Sign in</a></p>")

    @app.get("/")
    def home():
        token = session.get("token")
        if not token:
            return signed_out()
        return PAGE.format(
            f"<p id=status>Signed in. Scope: <code>{html.escape(token.get('scope', ''))}</code>,"
            f" access token expires at {token['expires_at']}.</p>"
            f"<form method=post action='{url_for('refresh')}'><button>Refresh</button></form>"
        )

    @app.get("/login")
    def login():
        return oauth.platform.authorize_redirect(redirect_uri)

    @app.get("/callback")
    def callback():
        if request.args.get("error") == "access_denied":
            return signed_out("You declined, so the app has no access. Sign in again any time.")
        try:
            session["token"] = oauth.platform.authorize_access_token()
        except OAuthError as exc:
            return signed_out(f"Sign-in did not complete ({exc.error}). Please try again.")
        return redirect(url_for("home"))

    @app.post("/refresh")
    def refresh():
        token = session.get("token")
        if not token:
            return redirect(url_for("home"))
        try:
            session["token"] = oauth.platform.fetch_access_token(
                grant_type="refresh_token", refresh_token=token["refresh_token"]
            )
        except OAuthError as exc:
            if exc.error in ("invalid_grant", "invalid_client", "access_denied"):
                # Revoked, uninstalled, disabled or expired: the user must sign in again.
                return signed_out("Your access was revoked or has expired. Please sign in again.")
            raise
        return redirect(url_for("home"))

    return app


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8080)
    create_app().run(host="localhost", port=parser.parse_args().port)
