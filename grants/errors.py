"""Errors the grants raise beyond RFC 6749's own, each carrying why access ended."""

from __future__ import annotations

from authlib.oauth2.rfc6749 import OAuth2Error

from grants.access import Denial

# What each way access can end says, once for every dialect; `{app}` is the app's name, for a
# dialect that words a Denial its own way (Coze's APP_DISABLED). Every Denial has an entry
# (tests/test_dialect_tables.py).
MESSAGES: dict[Denial, str] = {
    Denial.APP_MISSING: "The client does not exist on this server.",
    Denial.APP_DISABLED: "The app is currently deactivated by its owner.",
    Denial.WRONG_CLIENT_TYPE: "The app's type does not allow this grant.",
    Denial.NOT_INSTALLED: "The app is not installed in this tenant.",
    Denial.INSTALL_PENDING: "The app's installation in this tenant awaits an admin's approval.",
    Denial.NOT_AUTHORIZED: "The user's authorization of this app has been revoked.",
    Denial.NOT_MEMBER: "The user is no longer a member of this tenant.",
    Denial.SUPERSEDED: "The grant was issued under an installation or consent that has ended.",
    Denial.TOKEN_EXPIRED: "The grant has expired.",
    Denial.TOKEN_REVOKED: "The grant has been revoked.",
    # Coze's own words, in every dialect.
    Denial.NO_CONNECTOR: "connector app should bind connector id",
    Denial.WRONG_PATH: (
        "invalid app type: privileged apps get tokens only through the enterprise path, "
        "and that path serves no other app"
    ),
    Denial.WRONG_AUDIENCE: "The token is for another resource.",
}


def worded(
    codes: dict[Denial, tuple[str, int]], own: dict[Denial, str] | None = None
) -> dict[Denial, tuple[str, int, str]]:
    """A dialect's table, (error, status, message) for each Denial: its own codes, with the
    shared message unless the dialect has words of its own for that Denial."""
    own = own or {}
    return {
        denial: (error, status, own.get(denial, MESSAGES[denial]))
        for denial, (error, status) in codes.items()
    }


# The RFC dialect's table. The core speaks RFC 6749 (Authlib), so these are also what
# authorize redirects and the pages see; the Coze dialect has its own codes
# (server/oauth/coze_errors.py).
RFC = worded(
    {
        Denial.APP_MISSING: ("invalid_client", 401),
        Denial.APP_DISABLED: ("unauthorized_client", 400),
        Denial.WRONG_CLIENT_TYPE: ("unauthorized_client", 400),
        Denial.NOT_INSTALLED: ("unauthorized_client", 400),
        Denial.INSTALL_PENDING: ("unauthorized_client", 400),
        Denial.NOT_AUTHORIZED: ("invalid_grant", 400),
        Denial.NOT_MEMBER: ("invalid_grant", 400),
        Denial.SUPERSEDED: ("invalid_grant", 400),
        Denial.TOKEN_EXPIRED: ("invalid_grant", 400),
        Denial.TOKEN_REVOKED: ("invalid_grant", 400),
        Denial.NO_CONNECTOR: ("unauthorized_client", 400),
        Denial.WRONG_PATH: ("unauthorized_client", 400),
        Denial.WRONG_AUDIENCE: ("invalid_target", 400),
    }
)


class AccessRefused(OAuth2Error):
    """The access rule refused: the app may not act here, now. Worded as the RFC table says;
    a dialect with words of its own renders from `denial` (and `app_name`)."""

    def __init__(self, denial: Denial, app_name: str | None = None) -> None:
        error, status, description = RFC[denial]
        super().__init__(description=description, status_code=status, error=error)
        self.error = error
        self.denial = denial
        self.app_name = app_name

    def get_headers(self) -> list[tuple[str, str]]:
        headers: list[tuple[str, str]] = super().get_headers()
        if self.status_code == 401:
            headers.append(("WWW-Authenticate", 'Basic error="invalid_client"'))
        return headers


class TemporarilyUnavailable(OAuth2Error):
    error = "temporarily_unavailable"
    status_code = 503
