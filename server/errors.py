"""The domain's one error type: a status, a stable code and a message safe to show a person."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Msg:
    """A message made where an error happens and translated where it is shown: an English
    template with named values (pybabel finds the templates by this name; see server/i18n.py).
    A value may itself be a Msg, translated in turn."""

    __slots__ = ("params", "template")

    def __init__(self, template: str, **params: Any) -> None:
        self.template = template
        self.params = params

    def render(self, translate: Callable[[str], str] = str) -> str:
        values = {
            k: v.render(translate) if isinstance(v, Msg) else v for k, v in self.params.items()
        }
        text = translate(self.template)
        return text % values if values else text

    def __str__(self) -> str:
        return self.render()


class DomainError(Exception):
    """`message` is the English text the API answers with; `text` what pages translate (the
    message itself when not given); `field` the input it is about, when there is one."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str | Msg,
        *,
        field: str | None = None,
        text: Msg | None = None,
    ) -> None:
        self.text = text or (message if isinstance(message, Msg) else Msg(message))
        self.message = str(message)
        super().__init__(self.message)
        self.status = status
        self.code = code
        self.field = field


# What pages say when a thing is absent (or not the person's to see), by the API's word for it.
_NOT_FOUND = {
    "app": Msg("App not found."),
    "authorization": Msg("You have not authorized this app."),
    "connector": Msg("Connector not found."),
    "delivery": Msg("Delivery not found."),
    "installation": Msg("This app is not installed in this tenant."),
    "invitation": Msg("Invitation not found."),
    "key": Msg("Key not found."),
    "member": Msg("Member not found."),
    "service token": Msg("Service access token not found."),
    "subscription": Msg("Subscription not found."),
    "tenant": Msg("Tenant not found."),
    "user": Msg("User not found."),
}


def not_found(what: str = "resource") -> DomainError:
    text = _NOT_FOUND.get(what, Msg("Not found."))
    return DomainError(404, "not_found", f"{what} not found", text=text)


def forbidden(message: str = "your role in this tenant does not allow this") -> DomainError:
    return DomainError(
        403, "forbidden", message, text=Msg("Your role in this tenant does not allow this.")
    )
