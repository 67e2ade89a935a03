"""The sign-in, consent and device forms; each carries a CSRF token (Flask-WTF)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from server.limits import MAX_EMAIL_LENGTH


class LoginForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=MAX_EMAIL_LENGTH)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)])
    next = HiddenField()


class ConsentForm(FlaskForm):
    """Approve or deny: the contract's field names (`decision` is approve or deny)."""

    authorize_key = HiddenField()
    user_code = HiddenField()
    workspace_id = HiddenField()
    decision = HiddenField()


class DeviceForm(FlaskForm):
    user_code = StringField(_l("Code shown on your device"), validators=[Length(max=32)])


class EmptyForm(FlaskForm):
    """A button that changes something: only the CSRF token."""
