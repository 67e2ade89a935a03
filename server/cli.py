"""Command line (`flask --app wsgi ...`): thin wrappers over the functions the API uses.

Every command that prints accepts --json and then prints exactly one JSON object: the result,
or `{"error": ..., "message": ...}` with exit status 1.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select

from grants.vocabulary import AppStatus, ClientType, Edition, Registration
from server import accounts, credentials, demo
from server.errors import DomainError, not_found
from server.extensions import db, transaction
from server.models import User

json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")


def _run(
    as_json: bool,
    action: Callable[[], dict[str, Any]],
    text: Callable[[dict[str, Any]], str],
    committed: Callable[[dict[str, Any]], None] | None = None,
) -> None:
    """Run `action` in one transaction, then `committed`, and print the result."""
    try:
        with transaction():
            result = action()
        if committed is not None:
            committed(result)
    except DomainError as exc:
        if as_json:
            click.echo(json.dumps({"error": exc.code, "message": exc.message}))
            raise SystemExit(1) from None
        raise click.ClickException(exc.message) from None
    if as_json:
        click.echo(json.dumps(result))
    else:
        click.echo(text(result))


users = AppGroup("users", help="Manage users.")
tokens = AppGroup("tokens", help="Personal access tokens for the management API.")
resource_servers = AppGroup("resource-servers", help="Callers of token introspection.")
apps = AppGroup("apps", help="Operators: any app, self-registered ones included.")


@users.command("create")
@click.argument("email")
@click.option("--password", prompt=True, hide_input=True, help="At least 8 characters.")
@click.option("--name", default=None, help="Display name (default: the email's local part).")
@json_option
def create_user(email: str, password: str, name: str | None, as_json: bool) -> None:
    """Create a user and their personal tenant; print the user id."""

    def action() -> dict[str, Any]:
        user = accounts.create_user(email, password, name)
        tenant = accounts.personal_tenant(user.id)
        return {"user_id": str(user.id), "email": user.email, "tenant_id": str(tenant.id)}

    _run(as_json, action, lambda r: f"Created user {r['user_id']} ({r['email']})")


@tokens.command("create")
@click.argument("email")
@click.option("--name", default="cli", show_default=True, help="A label for the token.")
@click.option("--days", type=int, default=None, help="Lifetime in days (default 30, most 365).")
@json_option
def create_token(email: str, name: str, days: int | None, as_json: bool) -> None:
    """Create a personal access token for EMAIL; print it (it is shown only once)."""

    def action() -> dict[str, Any]:
        user = db.session.scalar(select(User).where(User.email == accounts.normalize_email(email)))
        if user is None:
            raise not_found("user")
        lifetime = days if days is not None else int(current_app.config["PAT_DEFAULT_DAYS"])
        pat, token = credentials.create_personal_access_token(user, name=name, days=lifetime)
        return {
            "token": token,
            "user_id": str(user.id),
            "name": pat.name,
            "expires_at": pat.expires_at.isoformat(),
        }

    _run(as_json, action, lambda r: r["token"])


@tokens.command("purge")
@json_option
def purge_tokens(as_json: bool) -> None:
    """Delete dead tokens and expired codes in bulk (safe to run from cron)."""
    from server.purge import purge

    _run(
        as_json,
        lambda: {"purged": purge()},
        lambda r: ", ".join(f"{n} {kind}" for kind, n in r["purged"].items()) + " purged",
    )


@resource_servers.command("create")
@click.argument("name")
@click.option(
    "--resource",
    "resources",
    multiple=True,
    help="A resource URI (RFC 8707) it answers for; repeatable.",
)
@json_option
def create_resource_server(name: str, resources: tuple[str, ...], as_json: bool) -> None:
    """Register a caller of introspection; print its id and secret (shown only once)."""

    def action() -> dict[str, Any]:
        server, secret = credentials.create_resource_server(name, resources)
        return {
            "id": server.id,
            "secret": secret,
            "name": server.name,
            "resources": list(server.resources),
        }

    _run(as_json, action, lambda r: f"id: {r['id']}\nsecret: {r['secret']}")


@resource_servers.command("add-resource")
@click.argument("server_id")
@click.argument("uri")
@json_option
def add_resource(server_id: str, uri: str, as_json: bool) -> None:
    """Make a resource server answer for one more resource URI."""

    def action() -> dict[str, Any]:
        server = credentials.add_resource(server_id, uri)
        return {"id": server.id, "name": server.name, "resources": list(server.resources)}

    _run(as_json, action, lambda r: f"{r['id']}: {', '.join(r['resources'])}")


@resource_servers.command("list")
@json_option
def list_resource_servers(as_json: bool) -> None:
    """List the resource servers and the resource URIs each answers for."""

    def action() -> dict[str, Any]:
        return {
            "items": [
                {"id": s.id, "name": s.name, "resources": list(s.resources)}
                for s in credentials.list_resource_servers()
            ]
        }

    _run(
        as_json,
        action,
        lambda r: (
            "\n".join(f"{s['id']}  {s['name']}  {' '.join(s['resources'])}" for s in r["items"])
            or "no resource servers"
        ),
    )


def _app_status_command(status: str) -> Callable[..., None]:
    def command(client_id: str, as_json: bool) -> None:
        def action() -> dict[str, Any]:
            from server import clients

            app = clients.operator_set_status(client_id, status)
            return {"client_id": app.client_id, "status": app.status}

        _run(as_json, action, lambda r: f"{r['client_id']}: {r['status']}")

    return command


for _verb, _status in (("disable", AppStatus.DISABLED), ("enable", AppStatus.ENABLED)):
    apps.command(_verb, help=f"{_verb.capitalize()} an app; its tokens follow at once.")(
        click.argument("client_id")(json_option(_app_status_command(_status)))
    )


@apps.command("list")
@click.option(
    "--registration",
    type=click.Choice([r.value for r in Registration]),
    default=None,
    help="Only apps registered this way (self-registered: dynamic, metadata_document).",
)
@json_option
def list_apps(registration: str | None, as_json: bool) -> None:
    """The platform's apps: how and when each was registered, its status and last use."""

    def action() -> dict[str, Any]:
        from server import clients

        return {"items": clients.platform_apps(registration)}

    _run(
        as_json,
        action,
        lambda r: (
            "\n".join(
                f"{a['client_id']}  {a['registration']}  {a['status']}  {a['created_at']}  "
                f"last used {a['last_used_at'] or 'never'}  {a['name']}"
                for a in r["items"]
            )
            or "no apps"
        ),
    )


@apps.command("delete")
@click.argument("client_id")
@json_option
def delete_app(client_id: str, as_json: bool) -> None:
    """Delete an app for good; its tokens die and its client_id is never issued again."""

    def action() -> dict[str, Any]:
        from server import clients

        clients.operator_delete(client_id)
        return {"client_id": client_id, "deleted": True}

    _run(as_json, action, lambda r: f"{r['client_id']}: deleted")


def _demo_text(r: dict[str, Any]) -> str:
    apps = r["apps"]
    web, service = apps[ClientType.WEB], apps[ClientType.SERVICE]
    lines = [
        "Demo credentials (also in " + r["credentials_file"] + "):",
        f"  login:            {r['login_url']}",
        f"  device page:      {r['device_url']}",
        f"  demo user:        {r['users']['demo']['email']} / {r['users']['demo']['password']}",
        f"  member user:      {r['users']['member']['email']} / {r['users']['member']['password']}",
        f"  team tenant id:   {r['tenants'][Edition.TEAM]}",
        f"  web app:          client_id {web['client_id']}",
        f"                    client_secret {web['client_secret']}",
        f"                    consent: {web['authorize_url']}",
        f"  pkce app:         client_id {apps[ClientType.PKCE]['client_id']}",
        f"  device app:       client_id {apps[ClientType.DEVICE]['client_id']}",
        f"  service app:      client_id {service['client_id']}",
        f"                    kid {service['kid']}",
        f"                    private key {service['private_key_path']}",
        f"  redirect URIs:    {', '.join(web['redirect_uris'])}",
        f"  personal token:   {r['personal_access_token']}",
        f"  resource server:  id {r['resource_server']['id']}",
        f"                    secret {r['resource_server']['secret']}",
    ]
    return "\n".join(lines)


@click.command("demo")
@with_appcontext
@click.option("--url", default=None, help="The server's public base URL (default OAUTH_ISSUER).")
@json_option
def demo_command(url: str | None, as_json: bool) -> None:
    """Seed the demo (idempotently) and print its credentials. Needs DEMO_MODE=1."""
    if not current_app.config.get("DEMO_MODE"):
        raise click.ClickException(
            "the demo creates accounts with well-known passwords; run it with DEMO_MODE=1"
        )
    url = (url or current_app.config["OAUTH_ISSUER"]).rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise click.BadParameter(
            "must be an http(s) URL such as http://127.0.0.1:5000", param_hint="--url"
        )
    _run(as_json, lambda: demo.seed(url), _demo_text, committed=demo.save)


def init_app(app: Flask) -> None:
    for command in (users, tokens, resource_servers, apps, demo_command):
        app.cli.add_command(command)
