"""The console's forms (Flask-WTF, so each carries a CSRF token); the domain checks the values."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import Field, HiddenField, StringField, TextAreaField
from wtforms.validators import AnyOf, Optional

from grants.vocabulary import AppKind, ClientType
from server.limits import MAX_REDIRECT_URIS


class ValuesField(Field):
    """Every value sent under the field's name (a group of checkboxes), as a list."""

    def process_formdata(self, valuelist: list[str]) -> None:
        self.data = list(valuelist)


class ActionForm(FlaskForm):
    """A button that changes something: only the CSRF token."""


class AppForm(FlaskForm):
    """Create or edit an app. Lengths and values are checked by server.clients, not here."""

    name = StringField(_l("Name"))
    description = TextAreaField(_l("Description"))
    redirect_uris = TextAreaField(_l("Redirect URIs"))
    permissions = ValuesField(_l("Permissions"), default=list)

    def uri_list(self) -> list[str]:
        lines = (self.redirect_uris.data or "").splitlines()
        # One more than allowed is kept so that the domain reports the limit, not a silent cut.
        return [line.strip() for line in lines if line.strip()][: MAX_REDIRECT_URIS + 1]


class NewAppForm(AppForm):
    client_type = StringField(_l("Type"), default=ClientType.WEB)
    app_kind = StringField(_l("App kind"), default=AppKind.NORMAL)


class BindForm(FlaskForm):
    """A channel app's connector: an id, or empty to unbind."""

    connector_id = StringField(_l("Connector"))


class ConnectorForm(FlaskForm):
    name = StringField(_l("Name"))
    description = TextAreaField(_l("Description"))


class ServiceTokenForm(FlaskForm):
    name = StringField(_l("Name"))
    permissions = ValuesField(_l("Permissions"), default=list)
    workspace_ids = ValuesField(_l("Workspaces"), default=list)
    expiry = StringField(_l("Expires"), default="30")
    custom_days = StringField(_l("Days"))

    def days(self) -> int | None | str:
        """The chosen expiry in days, None for never, or the raw text when it is not a number."""
        choice = (self.expiry.data or "").strip()
        if choice == "never":
            return None
        if choice == "custom":
            choice = (self.custom_days.data or "").strip()
        return int(choice) if choice.isdigit() and len(choice) < 6 else choice


class KeyForm(FlaskForm):
    public_key = TextAreaField(_l("Public key (PEM)"), validators=[Optional()])


class RotateForm(FlaskForm):
    GRACE_HOURS = ("0", "1", "24", "168")

    grace_hours = StringField(_l("The current secret"), validators=[AnyOf(GRACE_HOURS)])


class DeleteForm(FlaskForm):
    confirm_name = StringField(_l("Type the app's name to confirm"))


class InstallForm(FlaskForm):
    client_id = StringField(_l("Client ID"))
    kind = StringField(_l("Kind"))


class ApproveForm(FlaskForm):
    kind = HiddenField()
